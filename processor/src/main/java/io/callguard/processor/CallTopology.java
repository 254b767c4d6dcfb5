package io.callguard.processor;

import io.callguard.processor.internal.CallDetails;
import io.callguard.processor.internal.CapacityLedger;
import io.callguard.processor.internal.CallStateProcessor;
import io.callguard.processor.internal.QueuedCall;
import io.callguard.processor.internal.StoreSerde;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * Builds the processor's Kafka Streams topology (Processor API): call-events in; call state, busy
 * responses, call archive and dead letters out. Building has no side effects; the names below are shared with tests and interactive queries.
 */
public final class CallTopology {

    public static final String CALL_EVENTS_SOURCE = "call-events-source";
    public static final String CALL_STATE_PROCESSOR = "call-state-processor";
    public static final String CALL_STATE_SINK = "call-state-sink";
    public static final String DEAD_LETTER_SINK = "dead-letter-sink";
    public static final String RESPONSE_SINK = "response-sink";
    public static final String CALL_ARCHIVE_SINK = "call-archive-sink";

    /** Call id -> {@link CallState}. */
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
    /** {@code active}, {@code queued}, {@code next-sequence} -> count: the partition's capacity counters. */
    public static final String CAPACITY_COUNTERS_STORE = "capacity-counters";
    /** Keys of {@link #CAPACITY_COUNTERS_STORE}. */
    public static final String ACTIVE_COUNTER = CapacityLedger.ACTIVE;
    public static final String QUEUED_COUNTER = CapacityLedger.QUEUED;

    private CallTopology() {
    }

    /** The topology, recording its metrics in a registry of its own (use the three-argument form to export them). */
    public static Topology build(Topics topics, ProcessorConfig config) {
        return build(topics, config, new SimpleMeterRegistry());
    }

    /**
     * The topology.
     *
     * @param topics where to read and write
     * @param config dedupe, capacity and lifecycle settings; capacity per partition from
     *               {@link ProcessorConfig#maxActiveCallsPerPartition()}
     * @param meters where the processors record their metrics
     */
    public static Topology build(Topics topics, ProcessorConfig config, MeterRegistry meters) {
        Objects.requireNonNull(topics, "topics");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(meters, "meters");
        Topology topology = new Topology();
        // Values are read as bytes and parsed inside the processor: a record that cannot be parsed is
        // forwarded as a DeadLetter (our schema, our topic, our metric) with the topic, partition and offset
        // from the record context, and processing continues. A DeserializationExceptionHandler could only
        // answer CONTINUE/FAIL or hand Kafka raw-byte dead-letter records; it cannot write our DeadLetter
        // record through the topology, and it is built by reflection, outside the reach of our meters.
        topology.addSource(CALL_EVENTS_SOURCE, new StringDeserializer(), new ByteArrayDeserializer(),
                topics.callEvents().name());
        int capacityPerPartition = config.maxActiveCallsPerPartition();
        topology.addProcessor(CALL_STATE_PROCESSOR, () -> new CallStateProcessor(config, capacityPerPartition, meters),
                CALL_EVENTS_SOURCE);
        topology.addStateStore(store(CALL_STATE_STORE, StoreSerde.of(CallState.class)), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(CALL_DETAILS_STORE, StoreSerde.of(CallDetails.class)), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(DEDUPE_STORE, Serdes.Long()), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(DEDUPE_EXPIRY_STORE, Serdes.String()), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(CALL_TIMERS_STORE, Serdes.String()), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(CLOSED_CALLS_STORE, Serdes.Long()), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(CAPACITY_QUEUE_STORE, StoreSerde.of(QueuedCall.class)), CALL_STATE_PROCESSOR);
        topology.addStateStore(store(CAPACITY_COUNTERS_STORE, Serdes.Long()), CALL_STATE_PROCESSOR);
        topology.addSink(CALL_STATE_SINK, topics.callState().name(), new StringSerializer(),
                topics.callState().valueSerde().serializer(), CALL_STATE_PROCESSOR);
        topology.addSink(DEAD_LETTER_SINK, topics.deadLetters().name(), new StringSerializer(),
                topics.deadLetters().valueSerde().serializer(), CALL_STATE_PROCESSOR);
        topology.addSink(RESPONSE_SINK, topics.responses().name(), new StringSerializer(),
                topics.responses().valueSerde().serializer(), CALL_STATE_PROCESSOR);
        topology.addSink(CALL_ARCHIVE_SINK, topics.callArchive().name(), new StringSerializer(),
                topics.callArchive().valueSerde().serializer(), CALL_STATE_PROCESSOR);
        return topology;
    }

    /** A persistent RocksDB store with a changelog, so a restart or a rebalance restores it. */
    private static <V> StoreBuilder<KeyValueStore<String, V>> store(String name, Serde<V> values) {
        return Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), Serdes.String(), values)
                .withLoggingEnabled(Map.of());
    }
}
