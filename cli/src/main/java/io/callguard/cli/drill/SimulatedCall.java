package io.callguard.cli.drill;

import io.callguard.processor.responder.ScriptBackend;
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
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;

/**
 * One call played the way Retell plays it: the LLM WebSocket, a {@code response_required} with the whole
 * transcript so far {@code --turn-interval} after the previous answer was complete (never while one is open,
 * unless the caller interrupts), {@code ping_pong} every 2 s, and a reconnect to the same URL when the socket is
 * cut (a turn asked meanwhile goes out on the new socket, its budget counted from when the caller spoke). Judges
 * every answer by what the caller heard ({@link TurnClassifier}).
 *
 * <p>A call meant to end ({@link Ending}) asks for it on turn {@value Ending#TURN}; when that answer carries the
 * action by its content_complete, the call does what Retell does: no more turns, and the socket closed with 1000
 * (no reconnect). An action on any other answer (the begin message's busy line aside), or on an
 * {@code agent_interrupt}, is {@link DrillReport#UNEXPECTED_END_CALL}; the call goes on, to keep measuring. Agent frames other than responses are counted by type; an {@code agent_interrupt}'s words are
 * not part of any turn's answer.
 */
final class SimulatedCall {

    private static final long PING_INTERVAL_MS = 2_000;
    /**
     * How Retell opens a socket (retell-protocol.md): 3 attempts, 3 s apart, then the call ends. A cut socket is
     * dialled again at once, then the same way; a call whose attempts all fail is dropped.
     */
    static final int RECONNECT_ATTEMPTS = 3;
    static final long RECONNECT_PAUSE_MS = 3_000;
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
    private final TurnClassifier classifier;
    private final SplittableRandom random;
    private final Ending plannedEnding;
    private final Map<Long, Turn> turns = new ConcurrentHashMap<>();
    private final List<Utterance> transcript = new ArrayList<>();
    private volatile Session session;
    private volatile long latestRequested = -1;
    private volatile long latestRequestedAtNanos;
    private volatile boolean ending;
    /** The ending turn completed, with its action or without. */
    private boolean endingSettled;
    /** The agent ended or transferred the call as asked; the drill hung up. */
    private volatile boolean endedByAgent;
    private long nextResponseId = 1;
    private long dropAfterTurn = -1;
    private ScheduledFuture<?> nextTurn;
    private ScheduledFuture<?> pingTask;
    private volatile long startedAtNanos;
    /** When the current socket was cut (System.nanoTime), while it is being dialled again. */
    private volatile long cutAtNanos;
    /** The drill's start (System.nanoTime), for the times in the report's descriptions. */
    private volatile long runStartedAtNanos;

    /** One asked turn; guarded by the call's monitor. */
    private static final class Turn {
        final long sentAtNanos;
        final String frame;
        final String echo;
        final boolean interrupt;
        /** The ending this turn asks for, {@link Ending#NONE} for a plain turn. */
        final Ending asks;
        final StringBuilder heard = new StringBuilder();
        /** What the answer's frames carried so far. */
        boolean endCall;
        String transferNumber;
        long firstWordsAtNanos;
        /** When it was asked again on a new socket after a cut (System.nanoTime); 0 when it never was. */
        long resentAtNanos;
        long completedAtNanos;
        /** Judged, interrupted or superseded: nothing more is expected of it. */
        boolean done;
        ScheduledFuture<?> giveUp;

        Turn(long sentAtNanos, String frame, String echo, boolean interrupt, Ending asks) {
            this.sentAtNanos = sentAtNanos;
            this.frame = frame;
            this.echo = echo;
            this.interrupt = interrupt;
            this.asks = asks;
        }

        boolean acted() {
            return endCall || transferNumber != null;
        }
    }

    SimulatedCall(String callId, DrillOptions options, DrillReport report, WebSocketClient client,
                  ScheduledExecutorService scheduler, TurnClassifier classifier, SplittableRandom random,
                  Ending plannedEnding) {
        this.callId = callId;
        this.options = options;
        this.report = report;
        this.client = client;
        this.scheduler = scheduler;
        this.classifier = classifier;
        this.random = random;
        this.plannedEnding = plannedEnding;
    }

    String callId() {
        return callId;
    }

    /** The {@code disconnection_reason} of the call's {@code call_ended}: the agent's hang-up or transfer, else the caller's. */
    String disconnectionReason() {
        return (endedByAgent ? plannedEnding : Ending.NONE).disconnectionReason();
    }

    /** When the call's socket first opened (System.nanoTime), 0 before. */
    long startedAtNanos() {
        return startedAtNanos;
    }

    /**
     * Opens the socket and starts the turns and pings. The first turn keeps a phase of its own within the
     * interval, counted from the drill's epoch, not from when the socket happened to open: calls whose sockets
     * open together (they do, behind a burst of webhook acknowledgements) would otherwise ask in lockstep. Each
     * later turn follows the previous answer by the interval, as a caller speaks after listening.
     *
     * @param epochNanos the drill's start (System.nanoTime)
     * @param phaseMs    this call's offset within the turn interval
     */
    CompletableFuture<Void> start(long epochNanos, long phaseMs) {
        runStartedAtNanos = epochNanos;
        return connect().thenRun(() -> {
            startedAtNanos = System.nanoTime();
            long interval = options.turnInterval().toMillis();
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(startedAtNanos - epochNanos);
            scheduler.schedule(this::stopTurns, options.duration().toMillis(), TimeUnit.MILLISECONDS);
            synchronized (this) {
                nextTurn = scheduler.schedule(this::safeTurn, firstTurnDelayMs(interval, phaseMs, elapsedMs),
                        TimeUnit.MILLISECONDS);
            }
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

    /** Cuts the socket 3 ms after turn {@code n} is sent (so the reconnect happens mid-turn). */
    synchronized void dropAfterTurn(long n) {
        dropAfterTurn = n;
    }

    /** Cuts the socket without a close handshake (as a network failure does) and dials again, as Retell does. */
    void dropAndReconnect() {
        Session s = session;
        if (s != null) {
            report.count("sockets_dropped");
            s.disconnect();
        }
    }

    /** Stops asking; turns still open may still be answered until {@link #finish}. */
    synchronized void stopTurns() {
        ending = true;
        if (nextTurn != null) {
            nextTurn.cancel(false);
        }
        if (pingTask != null) {
            pingTask.cancel(false);
        }
    }

    /** True while a turn may still be answered: words have come but no complete, or its budget has not passed. */
    synchronized boolean answering() {
        long now = System.nanoTime();
        for (Turn t : turns.values()) {
            if (!t.done && (t.firstWordsAtNanos != 0 || now - t.sentAtNanos <= options.budget().toNanos())) {
                return true;
            }
        }
        return false;
    }

    /** Closes the socket as a finished call does; a turn that never got a complete answer was silent. */
    synchronized void finish() {
        for (Turn t : turns.values()) {
            if (!t.done) {
                judge(t, false);
            }
        }
        if (plannedEnding != Ending.NONE && !endingSettled) {
            report.count(DrillReport.ENDINGS_NOT_REACHED);
        }
        Session s = session;
        if (s != null && s.isOpen()) {
            s.close(1000, "call ended", Callback.NOOP);
        }
    }

    private CompletableFuture<Void> connect() {
        try {
            return client.connect(new Listener(session != null), options.socketUri(callId))
                    .thenAccept(s -> session = s);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Dials the call's socket again after it was cut, as Retell does: at once, then {@link #RECONNECT_PAUSE_MS}
     * apart; when {@link #RECONNECT_ATTEMPTS} failed, the call is dropped (Retell ends it).
     */
    private void reconnect(int attempt) {
        connect().whenComplete((opened, failure) -> {
            if (failure == null) {
                return;
            }
            report.count("reconnect_failures");
            if (ending) {
                return;
            }
            if (attempt + 1 >= RECONNECT_ATTEMPTS) {
                report.count(DrillReport.DROPPED_CALLS);
                return;
            }
            scheduler.schedule(() -> reconnect(attempt + 1), RECONNECT_PAUSE_MS, TimeUnit.MILLISECONDS);
        });
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
        // The caller speaks only when no answer is open (or interrupts, having closed it): whatever is left open
        // here is a turn the caller stopped waiting for.
        turns.values().forEach(t -> {
            if (!t.done) {
                report.count("turns_superseded_unanswered");
                judge(t, false);
            }
        });
        long id = nextResponseId++;
        Ending asks = id == Ending.TURN ? plannedEnding : Ending.NONE;
        // The ending phrase follows the usual words, so the echo and misrouting checks still hold.
        String utterance = "call " + callId + " turn " + id + asks.phrase();
        transcript.add(new Utterance(Utterance.USER, utterance));
        String text = FrameWriter.write(new RetellFrame.ResponseRequired(id, transcript));
        Session s = session;
        // The caller speaks whether or not the socket is up: while it is being dialled again, the request waits for
        // the new socket (sent on its open), and its budget runs from now, so the reconnect's time is heard.
        boolean reconnecting = s == null || !s.isOpen();
        // An interruption cancels the ending's action (Retell's rule), so the ending turn is never interrupted.
        boolean interrupt = options.interruptRate() > 0 && random.nextDouble() < options.interruptRate()
                && asks == Ending.NONE;
        Turn turn = new Turn(System.nanoTime(), text, ScriptBackend.ECHO_PREFIX + utterance, interrupt, asks);
        turns.put(id, turn);
        latestRequested = id;
        latestRequestedAtNanos = System.nanoTime();
        report.count("turns_sent");
        // A caller who hears nothing speaks again; one who hears words listens to the end, as Retell waits.
        turn.giveUp = scheduler.schedule(() -> giveUp(turn), options.budget().toMillis()
                + options.turnInterval().toMillis(), TimeUnit.MILLISECONDS);
        if (reconnecting) {
            report.count("turns_asked_while_reconnecting");
            return;
        }
        s.sendText(text, Callback.NOOP);
        if (id == dropAfterTurn) {
            scheduler.schedule(this::dropAndReconnect, 3, TimeUnit.MILLISECONDS);
        }
    }

    private synchronized void giveUp(Turn turn) {
        if (turn.done || turn.firstWordsAtNanos != 0) {
            return;
        }
        judge(turn, false);
        report.count("turns_given_up");
        safeTurn();
    }

    private synchronized void scheduleTurn(long delayMs) {
        if (!ending) {
            nextTurn = scheduler.schedule(this::safeTurn, delayMs, TimeUnit.MILLISECONDS);
        }
    }

    /** Classifies a turn by what the caller heard and closes it. */
    private void judge(Turn turn, boolean complete) {
        turn.done = true;
        if (turn.giveUp != null) {
            turn.giveUp.cancel(false);
        }
        boolean inBudget = turn.firstWordsAtNanos != 0
                && turn.firstWordsAtNanos - turn.sentAtNanos <= options.budget().toNanos();
        Heard heard = classifier.classify(turn.heard.toString(), complete, inBudget,
                options.expectEcho() ? turn.echo : null);
        report.recordHeard(heard);
        report.recordTurnMark(turn.sentAtNanos, heard,
                turn.completedAtNanos == 0 ? 0 : turn.completedAtNanos - turn.sentAtNanos);
        if (heard == Heard.SILENT) {
            // What a silent turn was, to tell a gateway's silence from a slow socket or a turn lost in a move.
            report.turnExample(String.format(java.util.Locale.ROOT,
                    "silent: %s turn asked at %.1f s: first words %s, %s, heard '%s'%s", callId, askedAtSeconds(turn),
                    turn.firstWordsAtNanos == 0 ? "never"
                            : "after " + (turn.firstWordsAtNanos - turn.sentAtNanos) / 1_000_000 + " ms",
                    complete ? "complete" : "never complete", clip(turn.heard, 60),
                    cutAtNanos > turn.sentAtNanos - 5_000_000_000L && cutAtNanos != 0 ? ", socket cut "
                            + (turn.sentAtNanos - cutAtNanos) / 1_000_000 + " ms before it was asked" : ""));
        }
    }

    /**
     * After a reconnect, asks again for the latest turn when it is still unanswered: a request written just
     * before the cut may never have reached the gateway, and Retell keeps waiting for the latest response_id.
     * Same response_id, so a gateway that did receive it must treat this as a duplicate, not a new turn.
     */
    private synchronized void resendLatestIfOpen(Session s) {
        Turn latest = turns.get(latestRequested);
        if (latest != null && !latest.done && !ending) {
            report.count("turns_resent_after_reconnect");
            latest.resentAtNanos = System.nanoTime();
            s.sendText(latest.frame, Callback.NOOP);
        }
    }

    private void sendCallDetails() {
        Session s = session;
        if (s != null && s.isOpen()) {
            com.fasterxml.jackson.databind.node.ObjectNode call = io.callguard.schemas.Json.mapper().createObjectNode()
                    .put("call_id", callId).put("call_type", "web_call").put("agent_id", "drill-agent")
                    .put("from_number", "+14155550123").put("to_number", "+14155550199");
            s.sendText(FrameWriter.write(new RetellFrame.CallDetails(call)), Callback.NOOP);
            report.count("call_details_sent");
        }
    }

    private void ping() {
        Session s = session;
        if (s != null && s.isOpen()) {
            s.sendText(FrameWriter.write(new RetellFrame.PingPong(System.currentTimeMillis())), Callback.NOOP);
        }
    }

    private void onText(String text, Listener on) {
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
        } else if (frame instanceof ServerFrame.Config config) {
            report.count("configs");
            if (config.callDetails()) {
                // As Retell does when the config asks: the call object, which many servers wait for to greet.
                sendCallDetails();
            }
        } else if (frame instanceof ServerFrame.Response response) {
            if (response.responseId() == 0 && on.reconnect && !response.content().isEmpty() && !on.greeted) {
                // A reconnect mid-call greeted like a new call: the caller hears the greeting again.
                on.greeted = true;
                report.count(DrillReport.GREETED_AGAIN);
            }
            onResponse(response);
        } else if (frame instanceof ServerFrame.Unknown) {
            report.count("other_frames");
        } else {
            report.recordAgentFrame(frame.type());
            if (frame instanceof ServerFrame.AgentInterrupt interrupt
                    && (Boolean.TRUE.equals(interrupt.endCall()) || interrupt.transferNumber() != null)) {
                // No caller's words asked for it: the drill's callers end a call only on their ending turn.
                report.count(DrillReport.UNEXPECTED_END_CALL);
            }
        }
    }

    private synchronized void onResponse(ServerFrame.Response frame) {
        long now = System.nanoTime();
        long id = frame.responseId();
        boolean complete = frame.contentComplete();
        String content = frame.content();
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
        if (turn.done) {
            if (complete) {
                // A second complete answer, or one for a turn the caller stopped waiting for.
                report.count(turn.completedAtNanos != 0 ? DrillReport.DUPLICATE_ANSWERS : "late_answers");
            } else {
                report.count("chunks_after_complete");
            }
            return;
        }
        actions(turn, frame);
        turn.heard.append(content);
        if (turn.firstWordsAtNanos == 0 && !content.isEmpty()) {
            turn.firstWordsAtNanos = now;
            report.recordFirstWords(now - turn.sentAtNanos);
            if (turn.resentAtNanos != 0) {
                report.recordFirstWordsAfterReconnect(now - turn.resentAtNanos);
            }
            if (turn.interrupt && !complete) {
                // The caller speaks over the agent: Retell asks again with the next id and drops the rest.
                turn.done = true;
                turn.giveUp.cancel(false);
                report.count("turns_interrupted");
                turn();
                return;
            }
        }
        if (!complete) {
            return;
        }
        String heard = turn.heard.toString();
        if (misrouted(heard, callId, id)) {
            report.turnExample(String.format(java.util.Locale.ROOT, "misrouted: %s turn %d asked at %.1f s heard '%s'",
                    callId, id, askedAtSeconds(turn), clip(heard, 120)));
            turn.done = true;
            turn.giveUp.cancel(false);
            report.count(DrillReport.MISROUTED_ANSWERS);
            scheduleTurn(options.turnInterval().toMillis());
            return;
        }
        turn.completedAtNanos = now;
        report.recordTurn(now - turn.sentAtNanos);
        report.count("turns_answered");
        judge(turn, true);
        transcript.add(new Utterance(Utterance.AGENT, heard));
        if (turn.asks != Ending.NONE && settleEnding(turn)) {
            return;
        }
        scheduleTurn(options.turnInterval().toMillis());
    }

    /** Notes the actions a frame of the turn's answer carries; one unasked for is counted once per turn. */
    private void actions(Turn turn, ServerFrame.Response frame) {
        boolean acted = turn.acted();
        turn.endCall |= Boolean.TRUE.equals(frame.endCall());
        if (turn.transferNumber == null && frame.transferNumber() != null) {
            turn.transferNumber = frame.transferNumber();
        }
        if (!acted && turn.acted() && turn.asks == Ending.NONE) {
            report.count(DrillReport.UNEXPECTED_END_CALL);
        }
    }

    /**
     * The ending turn completed: with its action, the call ends as Retell ends it (no more turns, the socket closed
     * with 1000, no reconnect); without, that is a failure and the call goes on.
     *
     * @return true when the call ended
     */
    private boolean settleEnding(Turn turn) {
        endingSettled = true;
        boolean acted = turn.asks == Ending.END_CALL ? turn.endCall : turn.transferNumber != null;
        if (!acted) {
            report.count(turn.asks.missingCount());
            return false;
        }
        if (turn.asks == Ending.TRANSFER) {
            report.recordTransfer(turn.transferNumber);
        } else {
            report.count(turn.asks.doneCount());
        }
        endedByAgent = true;
        stopTurns();
        Session s = session;
        if (s != null && s.isOpen()) {
            s.close(1000, turn.asks == Ending.TRANSFER ? "transferred" : "agent hangup", Callback.NOOP);
        }
        return true;
    }

    /** When the turn was asked, in seconds from the drill's start, for the report's descriptions. */
    private double askedAtSeconds(Turn turn) {
        return (turn.sentAtNanos - runStartedAtNanos) / 1e9;
    }

    /** At most {@code max} characters of what was heard, for a report line. */
    private static String clip(CharSequence heard, int max) {
        return heard.length() > max ? heard.subSequence(0, max) + "..." : heard.toString();
    }

    /** An echo of the script backend: {@code call <id> turn <n>}, both whole. */
    private static final java.util.regex.Pattern ECHO = java.util.regex.Pattern.compile("call (\\S+) turn (\\d+)");

    /**
     * The script backend echoes the caller's last utterance, {@code call <id> turn <n>}: a whole echo naming another
     * call, or another turn of this call, is an answer delivered to the wrong place. An echo cut short (the answer's
     * node died mid-stream: {@code call <id> turn } and then a filler or closing line) is not: it is what the caller
     * heard of this turn's answer, judged truncated.
     */
    static boolean misrouted(String content, String callId, long id) {
        java.util.regex.Matcher m = ECHO.matcher(content);
        while (m.find()) {
            if (!m.group(1).equals(callId) || !m.group(2).equals(Long.toString(id))) {
                return true;
            }
        }
        return false;
    }

    /** The socket's events; a cut socket is dialled again as Retell does (it keeps the same URL). */
    public final class Listener implements Session.Listener.AutoDemanding {

        /** This socket replaces a cut one of the same call. */
        private final boolean reconnect;
        /** Socket-thread only: this reconnect's begin message already had words. */
        private boolean greeted;
        private volatile Session mine;

        Listener(boolean reconnect) {
            this.reconnect = reconnect;
        }

        @Override
        public void onWebSocketOpen(Session opened) {
            mine = opened;
            session = opened;
            if (reconnect) {
                report.recordReconnect(System.nanoTime() - cutAtNanos);
                resendLatestIfOpen(opened);
            }
        }

        @Override
        public void onWebSocketText(String message) {
            onText(message, this);
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            // Only the call's current socket dials again; an old one closed by the gateway was superseded.
            if (ending || (mine != null && mine != session)) {
                return;
            }
            report.count("socket_closes_" + statusCode);
            if (statusCode == 1000) {
                // Retell ends the call (agent_hangup): no caller here asked for it.
                report.count("closed_by_agent");
                report.count(DrillReport.DROPPED_CALLS);
                return;
            }
            report.count("reconnects");
            cutAtNanos = System.nanoTime();
            report.recordCut(cutAtNanos);
            reconnect(0);
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            report.count("socket_errors");
        }
    }
}
