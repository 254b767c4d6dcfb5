package io.callguard.processor;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;

import io.callguard.common.KafkaClients;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The call topology in a {@link TopologyTestDriver} with real RocksDB stores, the role's own streams
 * properties and a wall clock the test moves. Every record read from an output topic is checked against
 * its schema file.
 */
final class TopologyFixture implements AutoCloseable {

    static final long T0 = 1_700_000_000_000L;

    final Topics topics = Topics.defaults();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final ProcessorConfig config;
    final TopologyTestDriver driver;
    final TestInputTopic<String, CallEvent> events;
    final TestInputTopic<String, byte[]> rawEvents;
    private final TestOutputTopic<String, CallState> states;
    private final TestOutputTopic<String, DeadLetter> deadLetters;
    private final TestOutputTopic<String, AgentResponse> responses;
    private final TestOutputTopic<String, CallArchive> archives;

    TopologyFixture(Path stateDir, Map<String, ?> overrides) {
        Map<String, Object> values = new HashMap<>(overrides);
        config = new ProcessorConfig(values);
        driver = new TopologyTestDriver(CallTopology.build(topics, config, meters),
                ProcessorRole.streamsProperties(config, new KafkaClients("unused:9092", ""), topics, stateDir, meters),
                Instant.ofEpochMilli(T0));
        events = driver.createInputTopic(topics.callEvents().name(), new StringSerializer(),
                topics.callEvents().valueSerde().serializer());
        rawEvents = driver.createInputTopic(topics.callEvents().name(), new StringSerializer(), new ByteArraySerializer());
        states = driver.createOutputTopic(topics.callState().name(), new StringDeserializer(),
                topics.callState().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetters().name(), new StringDeserializer(),
                topics.deadLetters().valueSerde().deserializer());
        responses = driver.createOutputTopic(topics.responses().name(), new StringDeserializer(),
                topics.responses().valueSerde().deserializer());
        archives = driver.createOutputTopic(topics.callArchive().name(), new StringDeserializer(),
                topics.callArchive().valueSerde().deserializer());
    }

    TopologyFixture(Path stateDir) {
        this(stateDir, Map.of());
    }

    void send(CallEvent event) {
        events.pipeInput(event.callId(), event);
    }

    /** Moves the driver's wall clock; wall-clock punctuators due by then run. */
    void advanceMs(long ms) {
        driver.advanceWallClockTime(Duration.ofMillis(ms));
    }

    /** Every call-state record written since the last read, tombstones as null values. */
    List<KeyValue<String, CallState>> stateChanges() {
        List<KeyValue<String, CallState>> changes = states.readKeyValuesToList();
        changes.stream().filter(kv -> kv.value != null).forEach(kv -> assertMatchesSchema(kv.value));
        return changes;
    }

    /** The last call-state record for a call written since the last read. */
    CallState lastState(String callId) {
        List<KeyValue<String, CallState>> changes = stateChanges();
        CallState last = null;
        for (KeyValue<String, CallState> change : changes) {
            if (change.key.equals(callId)) {
                last = change.value;
            }
        }
        return last;
    }

    List<DeadLetter> deadLetters() {
        List<DeadLetter> letters = new ArrayList<>(deadLetters.readValuesToList());
        letters.forEach(letter -> assertMatchesSchema(letter));
        return letters;
    }

    List<AgentResponse> responses() {
        List<AgentResponse> read = responses.readValuesToList();
        read.forEach(response -> assertMatchesSchema(response));
        return read;
    }

    List<CallArchive> archives() {
        List<CallArchive> read = archives.readValuesToList();
        read.forEach(archive -> assertMatchesSchema(archive));
        return read;
    }

    /** The latest state of each call written since the last read, by call id (null for a tombstone). */
    Map<String, CallState> latestStates() {
        Map<String, CallState> latest = new LinkedHashMap<>();
        stateChanges().forEach(change -> latest.put(change.key, change.value));
        return latest;
    }

    long counter(String key) {
        KeyValueStore<String, Long> counters = driver.getKeyValueStore(CallTopologyNames.CAPACITY_COUNTERS_STORE);
        Long value = counters.get(key);
        return value == null ? 0 : value;
    }

    double gauge(String meter) {
        return meters.get(meter).tag(ProcessorMetrics.TAG_PARTITION, "0").gauge().value();
    }

    CallState storedState(String callId) {
        KeyValueStore<String, CallState> store = driver.getKeyValueStore(CallTopologyNames.CALL_STATE_STORE);
        return store.get(callId);
    }

    double count(String meter, String... tags) {
        Counter counter = meters.find(meter).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    @Override
    public void close() {
        driver.close();
    }
}
