package io.callguard.ingress.internal;

import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Reads a request body into memory without blocking a thread, and ends the read as soon as the body passes its size
 * limit, the shared {@link BodyBudget} has no room for its next bytes, or it arrives slower than a minimum rate.
 * Waiting for bytes costs no thread: reading resumes from {@link Content.Source#demand}.
 *
 * <p>Memory grows with the bytes received, never from what the request declares: the buffer starts empty and
 * doubles as bytes arrive, at most to the declared length (so a body that matches its {@code Content-Length} is
 * copied once into an array of exactly its size), and every byte held is taken from the budget first. A client that
 * declares a large body and sends a byte costs a byte.
 *
 * <p>The rate: after the first {@code graceMs} (from the end of the headers, when reading starts), the body must have
 * arrived at {@code minBytesPerSecond} on average ({@code bytes >= rate * (elapsed - grace)}); a timer set for the
 * moment the body would fall behind, were nothing more to come, checks it, so a client that trickles a byte now and
 * then, or sends nothing at all, is ended then and not only at the connector's idle timeout. Jetty's own
 * {@code MinimumDataRateHandler} (12.1.14) is not used: it divides the bytes read by all requests through the handler
 * by the time of this one, so any other traffic keeps a trickling client alive.
 *
 * <p>Thread-safety: Jetty calls {@link #run} for one demand at a time; the rate timer runs on the scheduler. Whoever
 * ends the read first (last chunk, a limit, a failure, the timer) tells the listener, exactly once.
 */
final class BoundedBody implements Runnable {

    /** Told exactly once how the read ended. */
    interface Listener {
        void onBody(byte[] body);

        void onTooLarge(long bytesSeen);

        /** The body arrived slower than the minimum rate: {@code bytesSeen} after {@code elapsedMs}. */
        void onTooSlow(long bytesSeen, long elapsedMs);

        /** The budget shared by all bodies had no room for the next {@code bytes}. */
        void onOverBudget(long bytesSeen);

        void onFailure(Throwable failure);
    }

    /**
     * What one body may be.
     *
     * @param maxBytes          the size limit
     * @param minBytesPerSecond the average rate the body must keep after the grace; 0 for none
     * @param graceMs           how long after reading starts the rate is first judged
     */
    record Limits(int maxBytes, long minBytesPerSecond, long graceMs) {
        Limits {
            if (maxBytes < 1 || minBytesPerSecond < 0 || graceMs < 0) {
                throw new IllegalArgumentException("invalid body limits: max " + maxBytes + " bytes, rate "
                        + minBytesPerSecond + " bytes/s, grace " + graceMs + " ms");
            }
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private final Content.Source source;
    private final Limits limits;
    private final BodyBudget budget;
    private final Clock clock;
    private final Scheduler scheduler;
    private final Listener listener;
    private final long startMs;
    private final long ceiling;
    private final AtomicBoolean finished = new AtomicBoolean();
    /** Budget bytes this body holds, given back by {@link #release}. */
    private final AtomicLong held = new AtomicLong();
    private byte[] buffer = EMPTY;
    private volatile int size;
    private volatile Scheduler.Task rateCheck;

    /**
     * A body to read from {@code source}; nothing is read before {@link #start()}. Call {@link #release()} once its
     * request is answered, to give its bytes back to the budget.
     */
    BoundedBody(Content.Source source, Limits limits, BodyBudget budget, Clock clock, Scheduler scheduler,
                Listener listener) {
        this.source = source;
        this.limits = limits;
        this.budget = budget;
        this.clock = clock;
        this.scheduler = scheduler;
        this.listener = listener;
        this.startMs = clock.millis();
        long declared = source.getLength();
        // A bound on growth only: nothing is allocated before the bytes arrive.
        this.ceiling = declared > 0 ? Math.min(declared, limits.maxBytes()) : limits.maxBytes();
    }

    /** Starts reading; the listener may be called on this thread, before this returns, or later on another. */
    void start() {
        scheduleRateCheck();
        run();
    }

    /** Gives the bytes this body holds back to the budget; idempotent, and safe while a read is still running. */
    void release() {
        long bytes = held.getAndSet(0);
        if (bytes > 0) {
            budget.release(bytes);
        }
    }

    /** Bytes of buffer allocated now: what this body costs the heap, grown only with the bytes received. */
    int bufferCapacity() {
        return buffer.length;
    }

    @Override
    public void run() {
        while (!finished.get()) {
            Content.Chunk chunk = source.read();
            if (chunk == null) {
                source.demand(this);
                return;
            }
            if (Content.Chunk.isFailure(chunk)) {
                // Transient failures (a read idle timeout) are final here too: the read stays bounded.
                if (finish()) {
                    listener.onFailure(chunk.getFailure());
                }
                return;
            }
            ByteBuffer bytes = chunk.getByteBuffer();
            int length = bytes.remaining();
            if (length > limits.maxBytes() - size) {
                chunk.release();
                // Stop reading: the rest is left to Jetty, which discards it or closes the connection.
                if (finish()) {
                    listener.onTooLarge((long) size + length);
                }
                return;
            }
            if (!budget.tryAcquire(length)) {
                chunk.release();
                if (finish()) {
                    listener.onOverBudget((long) size + length);
                }
                return;
            }
            held.addAndGet(length);
            if (finished.get()) {
                // Ended meanwhile (the rate timer) and perhaps answered: what was just taken goes back at once.
                chunk.release();
                release();
                return;
            }
            append(bytes, length);
            boolean last = chunk.isLast();
            chunk.release();
            if (last) {
                if (finish()) {
                    listener.onBody(size == buffer.length ? buffer : Arrays.copyOf(buffer, size));
                }
                return;
            }
        }
    }

    /** Copies {@code length} bytes in, doubling the buffer as needed, never past the declared length unless sent. */
    private void append(ByteBuffer bytes, int length) {
        int needed = size + length;
        if (needed > buffer.length) {
            long doubled = Math.min(2L * buffer.length, ceiling);
            buffer = Arrays.copyOf(buffer, (int) Math.max(needed, doubled));
        }
        bytes.get(buffer, size, length);
        size = needed;
    }

    /** True for the one caller that ends the read; it tells the listener. */
    private boolean finish() {
        if (!finished.compareAndSet(false, true)) {
            return false;
        }
        Scheduler.Task armed = rateCheck;
        if (armed != null) {
            armed.cancel();
        }
        return true;
    }

    /** Arms the check for the moment the body, as received so far, would fall behind the rate. */
    private void scheduleRateCheck() {
        long rate = limits.minBytesPerSecond();
        if (rate <= 0 || finished.get()) {
            return;
        }
        long dueMs = startMs + limits.graceMs() + (size * 1000L) / rate + 1;
        rateCheck = scheduler.schedule(this::checkRate, Math.max(1, dueMs - clock.millis()), TimeUnit.MILLISECONDS);
    }

    private void checkRate() {
        if (finished.get()) {
            return;
        }
        long elapsedMs = clock.millis() - startMs;
        long received = size;
        if (elapsedMs > limits.graceMs() && received * 1000L < limits.minBytesPerSecond() * (elapsedMs - limits.graceMs())) {
            if (finish()) {
                listener.onTooSlow(received, elapsedMs);
            }
            return;
        }
        scheduleRateCheck();
    }
}
