package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/** A Jetty client endpoint that records what it received, to be read with timeouts. Public: Jetty requires it. */
public class RecordingClientEndpoint implements Session.Listener.AutoDemanding {

    /** One text frame and when it arrived ({@link System#nanoTime()}). */
    public record Received(String text, long atNanos) {
    }

    /** How the socket closed. */
    public record Close(int code, String reason) {
    }

    private final BlockingQueue<Received> frames = new LinkedBlockingQueue<>();
    private final CompletableFuture<Close> closed = new CompletableFuture<>();
    private final BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
    private volatile Session session;

    @Override
    public void onWebSocketOpen(Session session) {
        this.session = session;
    }

    @Override
    public void onWebSocketText(String message) {
        frames.add(new Received(message, System.nanoTime()));
    }

    // Recorded so Jetty does not log it as unhandled; a drop shows as the close that follows.
    @Override
    public void onWebSocketError(Throwable cause) {
        errors.add(cause);
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        closed.complete(new Close(statusCode, reason));
    }

    /** The next text frame, waiting at most 5 s. */
    public Received next() throws InterruptedException {
        Received received = frames.poll(5, TimeUnit.SECONDS);
        assertThat(received).as("a text frame within 5 s").isNotNull();
        return received;
    }

    /** The next text frame's text, waiting at most 5 s. */
    public String nextText() throws InterruptedException {
        return next().text();
    }

    /** The next text frame if one arrives within the wait, else null. */
    public Received poll(long millis) throws InterruptedException {
        return frames.poll(millis, TimeUnit.MILLISECONDS);
    }

    /** How the socket closed, waiting at most 5 s. */
    public Close awaitClose() throws Exception {
        return closed.get(5, TimeUnit.SECONDS);
    }

    /** True once the socket closed, by either side. */
    public boolean isClosed() {
        return closed.isDone();
    }

    public void send(String text) {
        session.sendText(text, Callback.NOOP);
    }

    public void sendBinary(byte[] bytes) {
        session.sendBinary(ByteBuffer.wrap(bytes), Callback.NOOP);
    }

    public void close(int code, String reason) {
        session.close(code, reason, Callback.NOOP);
    }
}
