package io.callguard.egress;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a task after a delay. The watchdog and the dial-out backoff wait through this, never by
 * sleeping, so tests drive time by hand.
 */
@FunctionalInterface
public interface Scheduler {

    /**
     * Runs {@code task} once, {@code delayMs} from now (0 or less: as soon as possible).
     *
     * @return a handle that cancels the task if it has not started
     */
    Cancellable schedule(Runnable task, long delayMs);

    /** A scheduled task that can still be cancelled. */
    @FunctionalInterface
    interface Cancellable {
        void cancel();
    }

    /** A scheduler backed by an executor; the caller keeps owning (and shutting down) the executor. */
    static Scheduler of(ScheduledExecutorService executor) {
        return (task, delayMs) -> {
            ScheduledFuture<?> future = executor.schedule(task, Math.max(0, delayMs), TimeUnit.MILLISECONDS);
            return () -> future.cancel(false);
        };
    }
}
