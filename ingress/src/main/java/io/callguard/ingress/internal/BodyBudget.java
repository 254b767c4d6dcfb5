package io.callguard.ingress.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The webhook body bytes all requests together may hold at once ({@code webhook.body-budget-bytes}): a body takes
 * its bytes as they arrive and gives them back when its request is answered. Without it, N connections that each
 * really send a body at the size limit hold N times that limit. Thread-safe, lock-free.
 */
final class BodyBudget {

    private final long limit;
    private final AtomicLong held = new AtomicLong();

    /** @param limit the bytes that may be held at once; at least 1 */
    BodyBudget(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("a body budget must be at least 1 byte, was " + limit);
        }
        this.limit = limit;
    }

    /** Takes {@code bytes} when they fit under the limit with what is held; false (and nothing taken) otherwise. */
    boolean tryAcquire(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must not be negative, was " + bytes);
        }
        while (true) {
            long now = held.get();
            if (now + bytes > limit) {
                return false;
            }
            if (held.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    /** Gives back bytes taken by {@link #tryAcquire}. */
    void release(long bytes) {
        held.addAndGet(-bytes);
    }

    /** The bytes held now. */
    long held() {
        return held.get();
    }

    long limit() {
        return limit;
    }
}
