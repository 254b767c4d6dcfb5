package io.callguard.testkit;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A deterministic {@link ScheduledExecutorService} on a {@link ManualClock}: tasks run only inside
 * {@link #advance} or {@link #runNext}, on the caller's thread, in due order (then in scheduling order), with
 * the clock set to each task's due time first. Safe to schedule into and cancel from other threads (Jetty
 * callbacks). A task that throws fails the test at the {@code advance} or {@code runNext} that ran it.
 * Periodic scheduling is not supported.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

    private final ManualClock clock;
    private final List<Task<?>> tasks = new ArrayList<>();
    private final List<Long> requestedDelays = new ArrayList<>();
    private long seq;
    private boolean shutdown;

    public ManualScheduler(ManualClock clock) {
        this.clock = clock;
    }

    public ManualClock clock() {
        return clock;
    }

    /** Moves the clock forward by {@code ms}, running every task that falls due on the way, in order. */
    public void advance(long ms) {
        long target = clock.millis() + ms;
        while (true) {
            Task<?> next;
            synchronized (this) {
                next = earliest().filter(t -> t.dueMs() <= target).orElse(null);
                if (next == null) {
                    break;
                }
                tasks.remove(next);
            }
            run(next);
        }
        clock.set(target);
    }

    /**
     * Runs the earliest pending task, moving the clock to its due time.
     *
     * @throws IllegalStateException when nothing is scheduled
     */
    public Task<?> runNext() {
        Task<?> next;
        synchronized (this) {
            next = earliest().orElseThrow(() -> new IllegalStateException("nothing scheduled"));
            tasks.remove(next);
        }
        run(next);
        return next;
    }

    /** Tasks waiting to run, in scheduling order. */
    public synchronized List<Task<?>> pending() {
        return List.copyOf(tasks);
    }

    /** Every delay ever asked for, in ms, in order (as asked: a negative one stays negative). */
    public synchronized List<Long> requestedDelays() {
        return List.copyOf(requestedDelays);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return enqueue(Executors.callable(command, null), unit.toMillis(delay));
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        return enqueue(callable, unit.toMillis(delay));
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        throw new UnsupportedOperationException("periodic tasks are not supported");
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException("periodic tasks are not supported");
    }

    /** Runs at the next {@link #advance(long)}, even {@code advance(0)}. */
    @Override
    public void execute(Runnable command) {
        schedule(command, 0, TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void shutdown() {
        shutdown = true;
    }

    @Override
    public synchronized List<Runnable> shutdownNow() {
        shutdown = true;
        List<Runnable> left = new ArrayList<>(tasks);
        tasks.clear();
        return left;
    }

    @Override
    public synchronized boolean isShutdown() {
        return shutdown;
    }

    @Override
    public synchronized boolean isTerminated() {
        return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }

    private synchronized <V> Task<V> enqueue(Callable<V> callable, long delayMs) {
        if (shutdown) {
            throw new RejectedExecutionException("shut down");
        }
        Task<V> task = new Task<>(callable, clock.millis() + Math.max(0, delayMs), delayMs, seq++);
        tasks.add(task);
        requestedDelays.add(delayMs);
        return task;
    }

    private void run(Task<?> task) {
        if (task.dueMs() > clock.millis()) {
            clock.set(task.dueMs());
        }
        task.run();
        if (task.isDone() && !task.isCancelled()) {
            try {
                task.get();
            } catch (ExecutionException e) {
                throw new AssertionError("a scheduled task failed", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    private Optional<Task<?>> earliest() {
        return tasks.stream().min(Comparator.<Task<?>>comparingLong(Task::dueMs).thenComparingLong(Task::seq));
    }

    /** A task as it was scheduled; cancelling it takes it out of {@link #pending()}. */
    public final class Task<V> extends FutureTask<V> implements ScheduledFuture<V> {
        private final long dueMs;
        private final long requestedDelayMs;
        private final long seq;

        Task(Callable<V> callable, long dueMs, long requestedDelayMs, long seq) {
            super(callable);
            this.dueMs = dueMs;
            this.requestedDelayMs = requestedDelayMs;
            this.seq = seq;
        }

        /** When it falls due, epoch ms. */
        public long dueMs() {
            return dueMs;
        }

        /** The delay asked for, in ms. */
        public long requestedDelayMs() {
            return requestedDelayMs;
        }

        /** Its place in scheduling order. */
        public long seq() {
            return seq;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(dueMs - clock.millis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(getDelay(TimeUnit.MILLISECONDS), other.getDelay(TimeUnit.MILLISECONDS));
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            synchronized (ManualScheduler.this) {
                tasks.remove(this);
            }
            return cancelled;
        }
    }
}
