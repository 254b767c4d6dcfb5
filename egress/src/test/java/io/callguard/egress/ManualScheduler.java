package io.callguard.egress;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A deterministic {@link Scheduler} on a {@link ManualClock}: tasks run only inside {@link #advance} or
 * {@link #runNext}, on the test's thread, in due order, with the clock set to each task's due time. Safe to
 * schedule into from other threads (Jetty callbacks in the dial-out tests).
 */
public final class ManualScheduler implements Scheduler {

    /** A task as it was scheduled. */
    public record Task(long dueMs, long requestedDelayMs, long seq, Runnable runnable) {
    }

    private final ManualClock clock;
    private final List<Task> tasks = new ArrayList<>();
    private final List<Long> requestedDelays = new ArrayList<>();
    private long seq;

    public ManualScheduler(ManualClock clock) {
        this.clock = clock;
    }

    public ManualClock clock() {
        return clock;
    }

    @Override
    public synchronized Cancellable schedule(Runnable task, long delayMs) {
        Task scheduled = new Task(clock.millis() + Math.max(0, delayMs), delayMs, seq++, task);
        tasks.add(scheduled);
        requestedDelays.add(delayMs);
        return () -> {
            synchronized (this) {
                tasks.remove(scheduled);
            }
        };
    }

    /** Moves the clock forward by {@code ms}, running every task that falls due on the way. */
    public void advance(long ms) {
        long target = clock.millis() + ms;
        while (true) {
            Task next;
            synchronized (this) {
                next = earliest().filter(t -> t.dueMs() <= target).orElse(null);
                if (next == null) {
                    break;
                }
                tasks.remove(next);
            }
            clock.set(Math.max(clock.millis(), next.dueMs()));
            next.runnable().run();
        }
        clock.set(target);
    }

    /** Runs the earliest pending task, moving the clock to its due time. */
    public Task runNext() {
        Task next;
        synchronized (this) {
            next = earliest().orElseThrow(() -> new IllegalStateException("nothing scheduled"));
            tasks.remove(next);
        }
        clock.set(Math.max(clock.millis(), next.dueMs()));
        next.runnable().run();
        return next;
    }

    public synchronized List<Task> pending() {
        return List.copyOf(tasks);
    }

    /** Every delay ever asked for, in order. */
    public synchronized List<Long> requestedDelays() {
        return List.copyOf(requestedDelays);
    }

    private Optional<Task> earliest() {
        return tasks.stream().min(Comparator.comparingLong(Task::dueMs).thenComparingLong(Task::seq));
    }
}
