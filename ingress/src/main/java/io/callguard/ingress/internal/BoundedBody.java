package io.callguard.ingress.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import org.eclipse.jetty.io.Content;

/**
 * Reads a request body into memory without blocking a thread, and stops reading as soon as it passes a
 * limit. Waiting for bytes costs no thread: reading resumes from {@link Content.Source#demand}; a stalled
 * client is ended by the connector's idle timeout, which arrives here as a failure.
 */
final class BoundedBody implements Runnable {

    /** Told exactly once how the read ended. */
    interface Listener {
        void onBody(byte[] body);

        void onTooLarge(long bytesSeen);

        void onFailure(Throwable failure);
    }

    private final Content.Source source;
    private final int maxBytes;
    private final Listener listener;
    private final ByteArrayOutputStream out;

    private BoundedBody(Content.Source source, int maxBytes, Listener listener) {
        this.source = source;
        this.maxBytes = maxBytes;
        this.listener = listener;
        long declared = source.getLength();
        this.out = new ByteArrayOutputStream(declared > 0 ? (int) Math.min(declared, maxBytes) : 1024);
    }

    /** Starts reading; the listener may be called on this thread or later on another. */
    static void read(Content.Source source, int maxBytes, Listener listener) {
        new BoundedBody(source, maxBytes, listener).run();
    }

    @Override
    public void run() {
        while (true) {
            Content.Chunk chunk = source.read();
            if (chunk == null) {
                source.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                // Transient failures (a read idle timeout) are final here too: the read stays bounded.
                listener.onFailure(chunk.getFailure());
                return;
            }
            ByteBuffer buffer = chunk.getByteBuffer();
            int length = buffer.remaining();
            if (length > maxBytes - out.size()) {
                chunk.release();
                // Stop reading: the rest is left to Jetty, which discards it or closes the connection.
                listener.onTooLarge((long) out.size() + length);
                return;
            }
            byte[] bytes = new byte[length];
            buffer.get(bytes);
            out.write(bytes, 0, length);
            boolean last = chunk.isLast();
            chunk.release();
            if (last) {
                listener.onBody(out.toByteArray());
                return;
            }
        }
    }
}
