package io.callguard.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.ResponseType;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.frames.Utterance;
import io.callguard.schemas.Json;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.exceptions.UpgradeException;
import org.eclipse.jetty.websocket.client.WebSocketClient;

/** Plays Retell's side of one LLM WebSocket in tests: sends what Retell sends, records every frame it gets. */
public final class RetellSocketClient implements Session.Listener.AutoDemanding {

    /** A frame as received, with the time it arrived. */
    public record Frame(JsonNode json, long atNanos) {
        /** The frame as retell's parser reads it (typed, or the reason it is unusable). */
        public ParseResult<ServerFrame> parsed() {
            return FrameParser.fromServer(json.toString());
        }
    }

    private final BlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
    private final List<Frame> all = new ArrayList<>();
    private volatile Session session;
    private volatile int closeCode = -1;
    private volatile long closedAtNanos;

    public static RetellSocketClient connect(WebSocketClient client, URI base, String callId, String token) throws Exception {
        RetellSocketClient endpoint = new RetellSocketClient();
        URI uri = URI.create(base.toString().replaceFirst("^http", "ws") + "llm-websocket/" + callId + "?token=" + token);
        endpoint.session = client.connect(endpoint, uri).get(10, TimeUnit.SECONDS);
        return endpoint;
    }

    @Override
    public void onWebSocketText(String message) {
        try {
            Frame f = new Frame(Json.mapper().readTree(message), System.nanoTime());
            synchronized (all) {
                all.add(f);
            }
            frames.add(f);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("gateway sent a frame that is not JSON: " + message, e);
        }
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        closedAtNanos = System.nanoTime();
        closeCode = statusCode;
    }

    /** The HTTP status an upgrade was refused with, found in a failed connect's causes; fails when there is none. */
    public static int upgradeStatus(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof UpgradeException upgrade) {
                return upgrade.getResponseStatusCode();
            }
        }
        throw new AssertionError("no UpgradeException in " + failure, failure);
    }

    /** The next frame, or fails after the timeout. */
    public Frame next(Duration timeout) throws InterruptedException {
        Frame f = frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (f == null) {
            throw new AssertionError("no frame within " + timeout.toMillis() + " ms");
        }
        return f;
    }

    /** The next frame of a response_type, skipping others (pings, config), or fails after the timeout. */
    public Frame next(String responseType, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            Frame f = frames.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (f == null) {
                throw new AssertionError("no " + responseType + " frame within " + timeout.toMillis() + " ms");
            }
            if (responseType.equals(f.json().path(ResponseType.FIELD).asText())) {
                return f;
            }
        }
    }

    /**
     * The {@code content_complete:true} response for {@code responseId}, skipping every other frame (pings, fillers,
     * chunks, other ids), or fails after the timeout.
     */
    public Frame nextComplete(long responseId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Frame f = next(ResponseType.RESPONSE, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            if (f.json().path("response_id").asLong() == responseId && f.json().path("content_complete").asBoolean()) {
                return f;
            }
        }
    }

    /** Every frame received so far. */
    public List<Frame> received() {
        synchronized (all) {
            return List.copyOf(all);
        }
    }

    /** Frames of type response for one response id, so far. */
    public List<JsonNode> responses(long responseId) {
        return received().stream().map(Frame::json)
                .filter(j -> ResponseType.RESPONSE.equals(j.path(ResponseType.FIELD).asText())
                        && j.path("response_id").asLong() == responseId)
                .toList();
    }

    /** How many {@code content_complete:true} responses for {@code responseId} came so far. */
    public long completes(long responseId) {
        return responses(responseId).stream().filter(j -> j.path("content_complete").asBoolean()).count();
    }

    /** The words of every response frame for {@code responseId} so far, joined. */
    public String content(long responseId) {
        StringBuilder all = new StringBuilder();
        responses(responseId).forEach(j -> all.append(j.path("content").asText()));
        return all.toString();
    }

    /** Frames of type agent_interrupt, so far. */
    public List<JsonNode> interrupts() {
        return received().stream().map(Frame::json)
                .filter(j -> ResponseType.AGENT_INTERRUPT.equals(j.path(ResponseType.FIELD).asText())).toList();
    }

    public long sendResponseRequired(long responseId, String userText) {
        String frame = FrameWriter.write(new RetellFrame.ResponseRequired(responseId,
                List.of(new Utterance(Utterance.USER, userText))));
        long at = System.nanoTime();
        session.sendText(frame, Callback.NOOP);
        return at;
    }

    public long sendPing(long timestamp) {
        long at = System.nanoTime();
        session.sendText(FrameWriter.write(new RetellFrame.PingPong(timestamp)), Callback.NOOP);
        return at;
    }

    public void sendText(String text) {
        session.sendText(text, Callback.NOOP);
    }

    /** Cuts the connection without a close handshake, as a network failure does. */
    public void cut() {
        session.disconnect();
    }

    public void close() {
        if (session != null && session.isOpen()) {
            session.close(1000, "done", Callback.NOOP);
        }
    }

    /** The close code seen (1006 when the connection dropped without a close frame), -1 while open. */
    public int closeCode() {
        return closeCode;
    }

    /** When the socket closed (System.nanoTime), 0 while open. */
    public long closedAtNanos() {
        return closedAtNanos;
    }

    public boolean isOpen() {
        return session != null && session.isOpen();
    }
}
