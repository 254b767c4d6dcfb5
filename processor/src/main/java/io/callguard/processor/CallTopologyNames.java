package io.callguard.processor;

/**
 * Names of the call topology's nodes and state stores, and the keys of its capacity counters: shared by
 * {@link CallTopology}, its processor, interactive queries and tests. A leaf: it imports nothing of ours.
 */
public final class CallTopologyNames {

    public static final String CALL_EVENTS_SOURCE = "call-events-source";
    public static final String CALL_STATE_PROCESSOR = "call-state-processor";
    public static final String CALL_STATE_SINK = "call-state-sink";
    public static final String DEAD_LETTER_SINK = "dead-letter-sink";
    public static final String CALL_ARCHIVE_SINK = "call-archive-sink";

    /** Call id -> call state. */
    public static final String CALL_STATE_STORE = "call-state";
    /** Call id + event type -> the call object fields that event reported. */
    public static final String CALL_DETAILS_STORE = "call-details";
    /** Idempotency key -> expiry, wall-clock ms. */
    public static final String DEDUPE_STORE = "dedupe";
    /** Zero-padded expiry + idempotency key -> idempotency key: finds expired keys by range scan. */
    public static final String DEDUPE_EXPIRY_STORE = "dedupe-expiry";
    /** Zero-padded due time + timer kind + call id -> timer kind + call id: TTL, queue timeout, grace, closed. */
    public static final String CALL_TIMERS_STORE = "call-timers";
    /** Call id -> until when (wall-clock ms) events for the removed call are dropped. */
    public static final String CLOSED_CALLS_STORE = "closed-calls";
    /** Zero-padded sequence -> queued call: the partition's FIFO capacity queue. */
    public static final String CAPACITY_QUEUE_STORE = "capacity-queue";
    /** {@link #ACTIVE_COUNTER}, {@link #QUEUED_COUNTER}, {@link #NEXT_SEQUENCE_COUNTER} -> count: the partition's capacity counters. */
    public static final String CAPACITY_COUNTERS_STORE = "capacity-counters";

    /** Counter key in {@link #CAPACITY_COUNTERS_STORE}: calls holding a slot. */
    public static final String ACTIVE_COUNTER = "active";
    /** Counter key in {@link #CAPACITY_COUNTERS_STORE}: calls in the queue. */
    public static final String QUEUED_COUNTER = "queued";
    /** Counter key in {@link #CAPACITY_COUNTERS_STORE}: sequence number of the next queued call; orders the queue. */
    public static final String NEXT_SEQUENCE_COUNTER = "next-sequence";

    private CallTopologyNames() {
    }
}
