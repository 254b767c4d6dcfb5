package io.callguard.processor.internal;

import io.callguard.processor.CallTopologyNames;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * One partition's capacity: the count of calls holding a slot and a bounded FIFO queue of calls waiting
 * for one, both in changelogged stores so they survive restarts and move with the task. The counts are
 * also kept in atomics for gauges read from other threads. Only the task's stream thread changes them.
 */
public final class CapacityLedger {

    private final KeyValueStore<String, Long> counters;
    private final KeyValueStore<String, QueuedCall> queue;
    private final int capacity;
    private final int queueSize;
    private final AtomicLong active = new AtomicLong();
    private final AtomicLong queued = new AtomicLong();

    public CapacityLedger(KeyValueStore<String, Long> counters, KeyValueStore<String, QueuedCall> queue, int capacity,
                          int queueSize) {
        this.counters = counters;
        this.queue = queue;
        this.capacity = capacity;
        this.queueSize = queueSize;
    }

    /**
     * Recounts from the stores: active calls from the call states, queued calls from the queue. Run at
     * task start, so counts can never drift from what the stores hold, even after an unclean stop.
     */
    public void recount(KeyValueStore<String, CallState> states) {
        long activeCalls = 0;
        try (KeyValueIterator<String, CallState> all = states.all()) {
            while (all.hasNext()) {
                if (all.next().value.status() == CallStatus.ACTIVE) {
                    activeCalls++;
                }
            }
        }
        long queuedCalls = 0;
        try (KeyValueIterator<String, QueuedCall> all = queue.all()) {
            while (all.hasNext()) {
                all.next();
                queuedCalls++;
            }
        }
        setActive(activeCalls);
        setQueued(queuedCalls);
    }

    public boolean hasFreeSlot() {
        return active.get() < capacity;
    }

    public boolean queueIsEmpty() {
        return queued.get() == 0;
    }

    public boolean queueIsFull() {
        return queued.get() >= queueSize;
    }

    public void takeSlot() {
        setActive(active.get() + 1);
    }

    public void releaseSlot() {
        setActive(Math.max(0, active.get() - 1));
    }

    /** Adds a call at the tail of the queue. */
    public void enqueue(QueuedCall call) {
        Long next = counters.get(CallTopologyNames.NEXT_SEQUENCE_COUNTER);
        long sequence = next == null ? 0 : next;
        queue.put(sequenceKey(sequence), call);
        counters.put(CallTopologyNames.NEXT_SEQUENCE_COUNTER, sequence + 1);
        setQueued(queued.get() + 1);
    }

    /** Removes and returns the head of the queue, if any. */
    public Optional<QueuedCall> pollHead() {
        KeyValue<String, QueuedCall> head;
        try (KeyValueIterator<String, QueuedCall> all = queue.all()) {
            head = all.hasNext() ? all.next() : null;
        }
        if (head == null) {
            return Optional.empty();
        }
        queue.delete(head.key);
        setQueued(Math.max(0, queued.get() - 1));
        return Optional.of(head.value);
    }

    /**
     * Removes a call from the queue, wherever it stands. Scans the queue, which {@code capacity.queue-size}
     * keeps short; this happens at most once per queued call.
     *
     * @return the removed entry, if the call was queued
     */
    public Optional<QueuedCall> leaveQueue(String callId) {
        KeyValue<String, QueuedCall> found = null;
        try (KeyValueIterator<String, QueuedCall> all = queue.all()) {
            while (all.hasNext() && found == null) {
                KeyValue<String, QueuedCall> entry = all.next();
                if (entry.value.callId().equals(callId)) {
                    found = entry;
                }
            }
        }
        if (found == null) {
            return Optional.empty();
        }
        queue.delete(found.key);
        setQueued(Math.max(0, queued.get() - 1));
        return Optional.of(found.value);
    }

    public int capacity() {
        return capacity;
    }

    public int queueSize() {
        return queueSize;
    }

    /** Calls holding a slot; safe to read from any thread. */
    public AtomicLong activeCount() {
        return active;
    }

    /** Calls in the queue; safe to read from any thread. */
    public AtomicLong queuedCount() {
        return queued;
    }

    private void setActive(long value) {
        active.set(value);
        counters.put(CallTopologyNames.ACTIVE_COUNTER, value);
    }

    private void setQueued(long value) {
        queued.set(value);
        counters.put(CallTopologyNames.QUEUED_COUNTER, value);
    }

    private static String sequenceKey(long sequence) {
        return TimeIndex.pad(sequence);
    }
}
