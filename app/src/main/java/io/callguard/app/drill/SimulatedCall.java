package io.callguard.app.drill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.Json;
import java.io.IOException;
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

    private final String callId;
    private final DrillOptions options;
    private final DrillReport report;
    private final WebSocketClient client;
    private final ScheduledExecutorService scheduler;
    private final Map<Long, Turn> turns = new ConcurrentHashMap<>();
    private final ArrayNode transcript = Json.mapper().createArrayNode();
    private volatile Session session;
    private volatile long latestRequested = -1;
    private volatile boolean ending;
    private long nextResponseId = 1;
    private ScheduledFuture<?> turnTask;
    private ScheduledFuture<?> pingTask;

    private static final class Turn {
        final long sentAtNanos;
        long firstChunkAtNanos;
        boolean complete;

        Turn(long sentAtNanos) {
            this.sentAtNanos = sentAtNanos;
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

    /** Opens the socket and starts the turns and pings. */
    CompletableFuture<Void> start() {
        return connect().thenRun(() -> {
            long interval = options.turnInterval().toMillis();
            turnTask = scheduler.scheduleAtFixedRate(this::safeTurn, interval, interval, TimeUnit.MILLISECONDS);
            pingTask = scheduler.scheduleAtFixedRate(this::ping, PING_INTERVAL_MS, PING_INTERVAL_MS, TimeUnit.MILLISECONDS);
        });
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
    void stopTurns() {
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
        // A turn not completed by now was silent: its budget (< the interval) ran out.
        turns.forEach((id, t) -> {
            if (!t.complete && System.nanoTime() - t.sentAtNanos > options.budget().toNanos()) {
                t.complete = true;
                report.count(DrillReport.SILENT_TURNS);
            }
        });
        long id = nextResponseId++;
        transcript.addObject().put("role", "user").put("content", "call " + callId + " turn " + id);
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "response_required")
                .put("response_id", id);
        frame.set("transcript", transcript.deepCopy());
        Session s = session;
        if (s == null || !s.isOpen()) {
            report.count("turns_skipped_socket_down");
            return;
        }
        turns.put(id, new Turn(System.nanoTime()));
        latestRequested = id;
        report.count("turns_sent");
        s.sendText(frame.toString(), Callback.NOOP);
    }

    private void ping() {
        Session s = session;
        if (s != null && s.isOpen()) {
            s.sendText("{\"interaction_type\":\"ping_pong\",\"timestamp\":" + System.currentTimeMillis() + "}",
                    Callback.NOOP);
        }
    }

    private void onText(String text) {
        JsonNode frame;
        try {
            frame = Json.mapper().readTree(text);
        } catch (IOException e) {
            report.count("invalid_frames_received");
            return;
        }
        String type = frame.path("response_type").asText();
        switch (type) {
            case "ping_pong" -> report.count("pongs");
            case "config" -> report.count("configs");
            case "response" -> onResponse(frame);
            default -> report.count("other_frames");
        }
    }

    private synchronized void onResponse(JsonNode frame) {
        long now = System.nanoTime();
        if (!frame.path("response_id").isIntegralNumber() || !frame.path("content_complete").isBoolean()
                || !frame.path("content").isTextual()) {
            // Retell drops such a frame silently: for the caller this turn is as good as unanswered.
            report.count("mistyped_frames");
            return;
        }
        long id = frame.get("response_id").asLong();
        boolean complete = frame.get("content_complete").asBoolean();
        String content = frame.get("content").asText();
        if (content.contains("call ") && content.contains(" turn ") && !content.contains("call " + callId + " turn ")) {
            report.count(DrillReport.MISROUTED_ANSWERS);
        }
        if (id == 0) {
            if (frame.path("end_call").asBoolean(false)) {
                report.count("busy_rejections");
            }
            report.count("begin_messages");
            return;
        }
        if (id < latestRequested) {
            report.count(DrillReport.STALE_ANSWERS);
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
        transcript.addObject().put("role", "agent").put("content", content);
    }

    /** The socket's events; a cut socket is dialled again as Retell does (it keeps the same URL). */
    public final class Listener implements Session.Listener.AutoDemanding {

        private volatile Session mine;

        @Override
        public void onWebSocketOpen(Session opened) {
            mine = opened;
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
