package io.callguard.cli.drill;

import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.frames.Utterance;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;

/**
 * One call played the way Retell plays it: the LLM WebSocket, a {@code response_required} every turn
 * interval with the whole transcript so far, {@code ping_pong} every 2 s, and a reconnect to the same URL
 * when the socket is cut. Checks every answer it gets.
 */
final class SimulatedCall {

    private static final long PING_INTERVAL_MS = 2_000;
    /**
     * An answer for turn N that arrives this soon after turn N+1 was sent crossed it on the wire: the gateway
     * sent it before it could know of N+1 (Retell drops it, as it would here). Later than this, the gateway
     * answered a request it knew was superseded: a stale answer.
     */
    static final long CROSSING_WINDOW_NANOS = 250_000_000L;

    private final String callId;
    private final DrillOptions options;
    private final DrillReport report;
    private final WebSocketClient client;
    private final ScheduledExecutorService scheduler;
    private final Map<Long, Turn> turns = new ConcurrentHashMap<>();
    private final List<Utterance> transcript = new ArrayList<>();
    private volatile Session session;
    private volatile long latestRequested = -1;
    private volatile long latestRequestedAtNanos;
    private volatile boolean ending;
    private long nextResponseId = 1;
    private ScheduledFuture<?> turnTask;
    private ScheduledFuture<?> pingTask;
    private volatile long startedAtNanos;

    private static final class Turn {
        final long sentAtNanos;
        final String frame;
        long firstChunkAtNanos;
        boolean complete;

        Turn(long sentAtNanos, String frame) {
            this.sentAtNanos = sentAtNanos;
            this.frame = frame;
        }
    }

    SimulatedCall(String callId, DrillOptions options, DrillReport report, WebSocketClient client,
                  ScheduledExecutorService scheduler) {
        this.callId = callId;
        this.options = options;
        this.report = report;
        this.client = client;
        this.scheduler = scheduler;
    }

    String callId() {
        return callId;
    }

    /** When the call's socket first opened (System.nanoTime), 0 before. */
    long startedAtNanos() {
        return startedAtNanos;
    }

    /**
     * Opens the socket and starts the turns and pings. The turns keep a phase of their own within the
     * interval, counted from the drill's epoch, not from when the socket happened to open: calls whose
     * sockets open together (they do, behind a burst of webhook acknowledgements) would otherwise ask in
     * lockstep, a burst each interval that real callers, who speak when they speak, do not produce.
     *
     * @param epochNanos the drill's start (System.nanoTime)
     * @param phaseMs    this call's offset within the turn interval
     */
    CompletableFuture<Void> start(long epochNanos, long phaseMs) {
        return connect().thenRun(() -> {
            startedAtNanos = System.nanoTime();
            long interval = options.turnInterval().toMillis();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(startedAtNanos - epochNanos);
            scheduler.schedule(this::stopTurns, options.duration().toMillis(), TimeUnit.MILLISECONDS);
            turnTask = scheduler.scheduleAtFixedRate(this::safeTurn, firstTurnDelayMs(interval, phaseMs, elapsedMs),
                    interval, TimeUnit.MILLISECONDS);
            pingTask = scheduler.scheduleAtFixedRate(this::ping, PING_INTERVAL_MS, PING_INTERVAL_MS, TimeUnit.MILLISECONDS);
        });
    }

    /**
     * How long after the socket opened the first turn is asked: at least one interval (the caller speaks
     * first), then the next moment whose offset from the epoch, modulo the interval, is the call's phase.
     */
    static long firstTurnDelayMs(long intervalMs, long phaseMs, long elapsedMs) {
        return intervalMs + Math.floorMod(phaseMs - elapsedMs, intervalMs);
    }

    /** Cuts the socket without a close handshake (as a network failure does) and dials again, as Retell does. */
    void dropAndReconnect() {
        Session s = session;
        if (s != null) {
            report.count("sockets_dropped");
            s.disconnect();
        }
    }

    /** Stops asking; turns still open get until the budget to be answered. */
    synchronized void stopTurns() {
        ending = true;
        if (turnTask != null) {
            turnTask.cancel(false);
        }
        if (pingTask != null) {
            pingTask.cancel(false);
        }
    }

    /** Closes the socket as a finished call does and counts turns that never got a complete answer. */
    void finish() {
        for (Map.Entry<Long, Turn> e : turns.entrySet()) {
            if (!e.getValue().complete) {
                report.count(DrillReport.SILENT_TURNS);
            }
        }
        Session s = session;
        if (s != null && s.isOpen()) {
            s.close(1000, "call ended", Callback.NOOP);
        }
    }

    private CompletableFuture<Void> connect() {
        try {
            return client.connect(new Listener(), options.socketUri(callId)).thenAccept(s -> session = s);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private void safeTurn() {
        try {
            turn();
        } catch (RuntimeException e) {
            report.count("drill_errors");
        }
    }

    private synchronized void turn() {
        if (ending) {
            return;
        }
        // The next request supersedes an open turn: silent if its budget ran out first, else just superseded
        // (Retell would drop its answer from now on).
        turns.forEach((id, t) -> {
            if (!t.complete) {
                t.complete = true;
                report.count(System.nanoTime() - t.sentAtNanos > options.budget().toNanos() ? DrillReport.SILENT_TURNS
                        : "turns_superseded_unanswered");
            }
        });
        long id = nextResponseId++;
        transcript.add(new Utterance(Utterance.USER, "call " + callId + " turn " + id));
        String text = FrameWriter.write(new RetellFrame.ResponseRequired(id, transcript));
        Session s = session;
        if (s == null || !s.isOpen()) {
            report.count("turns_skipped_socket_down");
            return;
        }
        turns.put(id, new Turn(System.nanoTime(), text));
        latestRequested = id;
        latestRequestedAtNanos = System.nanoTime();
        report.count("turns_sent");
        s.sendText(text, Callback.NOOP);
    }

    /**
     * After a reconnect, asks again for the latest turn when it is still unanswered: a request written just
     * before the cut may never have reached the gateway, and Retell keeps waiting for the latest response_id.
     * Same response_id, so a gateway that did receive it must treat this as a duplicate, not a new turn.
     */
    private synchronized void resendLatestIfOpen(Session s) {
        Turn latest = turns.get(latestRequested);
        if (latest != null && !latest.complete && !ending) {
            report.count("turns_resent_after_reconnect");
            s.sendText(latest.frame, Callback.NOOP);
        }
    }

    private void ping() {
        Session s = session;
        if (s != null && s.isOpen()) {
            s.sendText(FrameWriter.write(new RetellFrame.PingPong(System.currentTimeMillis())), Callback.NOOP);
        }
    }

    private void onText(String text) {
        ParseResult<ServerFrame> parsed = FrameParser.fromServer(text);
        if (parsed instanceof ParseResult.Failed<ServerFrame> failed) {
            switch (failed.reason()) {
                case FrameParser.INVALID_JSON -> report.count("invalid_frames_received");
                // Retell drops such a frame silently: for the caller this turn is as good as unanswered.
                case FrameParser.INVALID_RESPONSE_ID, FrameParser.INVALID_INTERRUPT_ID, FrameParser.INVALID_FIELD ->
                        report.count("mistyped_frames");
                default -> report.count("other_frames");
            }
            return;
        }
        ServerFrame frame = ((ParseResult.Parsed<ServerFrame>) parsed).frame();
        if (frame instanceof ServerFrame.PingPong) {
            report.count("pongs");
        } else if (frame instanceof ServerFrame.Config) {
            report.count("configs");
        } else if (frame instanceof ServerFrame.Response response) {
            onResponse(response);
        } else {
            report.count("other_frames");
        }
    }

    private synchronized void onResponse(ServerFrame.Response frame) {
        long now = System.nanoTime();
        long id = frame.responseId();
        boolean complete = frame.contentComplete();
        String content = frame.content();
        if (misrouted(content, id)) {
            report.count(DrillReport.MISROUTED_ANSWERS);
            return;
        }
        if (id == 0) {
            if (Boolean.TRUE.equals(frame.endCall())) {
                report.count("busy_rejections");
            }
            report.count("begin_messages");
            return;
        }
        if (id < latestRequested) {
            boolean crossed = now - latestRequestedAtNanos < CROSSING_WINDOW_NANOS && id == latestRequested - 1;
            report.count(crossed ? "crossed_answers" : DrillReport.STALE_ANSWERS);
            return;
        }
        Turn turn = turns.get(id);
        if (turn == null) {
            report.count("answers_for_unknown_ids");
            return;
        }
        if (turn.firstChunkAtNanos == 0) {
            turn.firstChunkAtNanos = now;
            report.recordFirstChunk(now - turn.sentAtNanos);
        }
        if (!complete) {
            return;
        }
        if (turn.complete) {
            // Either a second complete answer, or one after we already counted the turn as silent.
            report.count(now - turn.sentAtNanos > options.budget().toNanos() ? "late_answers"
                    : DrillReport.DUPLICATE_ANSWERS);
            return;
        }
        turn.complete = true;
        long latency = now - turn.sentAtNanos;
        report.recordTurn(latency);
        report.count("turns_answered");
        if (content.startsWith("Sorry")) {
            report.count("fallback_like_answers");
        }
        if (latency > options.budget().toNanos()) {
            report.count(DrillReport.SILENT_TURNS);
        }
        transcript.add(new Utterance(Utterance.AGENT, content));
    }

    /**
     * The script backend echoes the caller's last utterance, {@code call <id> turn <n>}: an echo naming another
     * call, or another turn of this call, is an answer delivered to the wrong place.
     */
    private boolean misrouted(String content, long id) {
        int at = content.indexOf("call ");
        int turnAt = content.indexOf(" turn ", Math.max(0, at));
        if (at < 0 || turnAt < 0) {
            return false;
        }
        String expected = "call " + callId + " turn " + id;
        return !(content.contains(expected) && (content.length() == content.indexOf(expected) + expected.length()
                || !Character.isDigit(content.charAt(content.indexOf(expected) + expected.length()))));
    }

    /** The socket's events; a cut socket is dialled again as Retell does (it keeps the same URL). */
    public final class Listener implements Session.Listener.AutoDemanding {

        private volatile Session mine;

        @Override
        public void onWebSocketOpen(Session opened) {
            boolean reconnect = session != null;
            mine = opened;
            session = opened;
            if (reconnect) {
                resendLatestIfOpen(opened);
            }
        }

        @Override
        public void onWebSocketText(String message) {
            onText(message);
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            // Only the call's current socket dials again; an old one closed by the gateway was superseded.
            if (ending || (mine != null && mine != session)) {
                return;
            }
            if (statusCode == 1000) {
                report.count("closed_by_agent");
                return;
            }
            report.count("reconnects");
            connect().exceptionally(e -> {
                report.count("reconnect_failures");
                return null;
            });
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            report.count("socket_errors");
        }
    }
}
