package io.callguard.processor;

import static io.callguard.processor.CallTopologyNames.CALL_ARCHIVE_SINK;
import static io.callguard.processor.CallTopologyNames.CALL_DETAILS_STORE;
import static io.callguard.processor.CallTopologyNames.CALL_EVENTS_SOURCE;
import static io.callguard.processor.CallTopologyNames.CALL_STATE_PROCESSOR;
import static io.callguard.processor.CallTopologyNames.CALL_STATE_SINK;
import static io.callguard.processor.CallTopologyNames.CALL_STATE_STORE;
import static io.callguard.processor.CallTopologyNames.CALL_TIMERS_STORE;
import static io.callguard.processor.CallTopologyNames.CAPACITY_COUNTERS_STORE;
import static io.callguard.processor.CallTopologyNames.CAPACITY_QUEUE_STORE;
import static io.callguard.processor.CallTopologyNames.CLOSED_CALLS_STORE;
import static io.callguard.processor.CallTopologyNames.DEAD_LETTER_SINK;
import static io.callguard.processor.CallTopologyNames.DEDUPE_EXPIRY_STORE;
import static io.callguard.processor.CallTopologyNames.DEDUPE_STORE;

import io.callguard.processor.internal.CallDetails;
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
 * Builds the processor's Kafka Streams topology (Processor API): call-events in; call state, call archive
 * and dead letters out (no answers: admission is told on call-state, and the responder says the hold and busy
 * lines). Building has no side effects; its names are in {@link CallTopologyNames}.
 */
public final class CallTopology {

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
