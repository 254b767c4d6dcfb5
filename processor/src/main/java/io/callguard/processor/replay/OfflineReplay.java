package io.callguard.processor.replay;

import io.callguard.processor.CallTopology;
import io.callguard.processor.CallTopologyNames;
import io.callguard.processor.ProcessorConfig;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Re-runs one call's recorded call-events through {@link CallTopology} offline (Kafka Streams'
 * TopologyTestDriver: no broker, nothing written anywhere), the wall clock moved to each event's time so TTLs
 * and timers behave as they did live, and returns what each event did as plain records: the call's state
 * before and after, the records the topology wrote and the counters it moved. What timers did while the clock
 * moved up to an event (a queue timeout, a socket lost past its grace) is a step of its own, not the event's.
 *
 * <p>Needs {@code kafka-streams-test-utils} on the classpath: the processor declares it {@code provided}, so
 * a tool that replays (the CLI) brings it and the gateway does not.
 */
public final class OfflineReplay {

    private OfflineReplay() {
    }

    /**
     * One recorded call-events record.
     *
     * @param atMs        wall-clock time to move to before the record is processed (when it was received)
     * @param timestampMs the record's Kafka timestamp
     */
    public record Event(String key, byte[] value, Headers headers, long timestampMs, long atMs) {
    }

    /**
     * What one event (or the timers fired after the last) did.
     *
     * @param before            the call's state in the store before; null when there was none
     * @param after             the call's state in the store after; null when there is none
     * @param states            call-state records written, in order; a null element is a tombstone
     * @param archives          call-archive records written
     * @param counterIncrements counters that went up, by {@code name|tag values}, in the registry's order
     * @param processingError   the message of an exception the topology threw on this event; null when none
     */
    public record Step(CallState before, CallState after, List<CallState> states, List<CallArchive> archives,
                       Map<String, Double> counterIncrements, String processingError) {

        /** True when the step wrote no record and moved no counter. */
        public boolean isEmpty() {
            return states.isEmpty() && archives.isEmpty() && counterIncrements.isEmpty() && processingError == null;
        }
    }

    /**
     * The replay.
     *
     * @param events       one step per event, in order
     * @param timersBefore by event index: what timers did while the clock moved up to that event's time, for the
     *                     events before which they did something
     * @param timers       the step of moving the clock to the end time after the last event; empty when none was
     *                     asked
     */
    public record Result(List<Step> events, Map<Integer, Step> timersBefore, Optional<Step> timers) {
    }

    /**
     * Replays a call's events.
     *
     * @param callId whose state is read from the store
     * @param events the call's call-events records, in offset order
     * @param endMs  wall-clock time to move to after the last event (fires TTL and grace timers); null for none
     */
    public static Result run(Topics topics, ProcessorConfig config, String callId, List<Event> events, Long endMs) {
        Path stateDir;
        try {
            stateDir = Files.createTempDirectory("callguard-replay");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary state dir for the replay", e);
        }
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "callguard-replay");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "replay.invalid:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        long startMs = events.isEmpty() ? 0 : events.get(0).atMs();
        List<Step> steps = new ArrayList<>();
        Map<Integer, Step> timersBefore = new LinkedHashMap<>();
        Optional<Step> timers = Optional.empty();
        try (TopologyTestDriver driver = new TopologyTestDriver(CallTopology.build(topics, config, meters), props,
                Instant.ofEpochMilli(startMs))) {
            TestInputTopic<String, byte[]> in = driver.createInputTopic(topics.callEvents().name(),
                    new StringSerializer(), new ByteArraySerializer());
            Outputs out = new Outputs(driver, topics);
            KeyValueStore<String, CallState> states = driver.getKeyValueStore(CallTopologyNames.CALL_STATE_STORE);
            long clock = startMs;
            for (Event e : events) {
                if (e.atMs() > clock) {
                    Step moved = advance(driver, out, states, callId, meters, e.atMs() - clock);
                    clock = e.atMs();
                    if (!moved.isEmpty()) {
                        timersBefore.put(steps.size(), moved);
                    }
                }
                CallState before = states.get(callId);
                Map<String, Double> countersBefore = counters(meters);
                String error = null;
                try {
                    in.pipeInput(new TestRecord<>(e.key(), e.value(), e.headers(), Instant.ofEpochMilli(e.timestampMs())));
                } catch (RuntimeException failure) {
                    error = failure.getMessage();
                }
                steps.add(out.drain(before, states.get(callId), increments(countersBefore, counters(meters)), error));
            }
            if (endMs != null && endMs > clock) {
                timers = Optional.of(advance(driver, out, states, callId, meters, endMs - clock));
            }
        } finally {
            deleteQuietly(stateDir);
        }
        return new Result(List.copyOf(steps), Collections.unmodifiableMap(timersBefore), timers);
    }

    /** Moves the wall clock (the due punctuations run) and says what that did. */
    private static Step advance(TopologyTestDriver driver, Outputs out, KeyValueStore<String, CallState> states,
                                String callId, SimpleMeterRegistry meters, long byMs) {
        CallState before = states.get(callId);
        Map<String, Double> countersBefore = counters(meters);
        driver.advanceWallClockTime(Duration.ofMillis(byMs));
        return out.drain(before, states.get(callId), increments(countersBefore, counters(meters)), null);
    }

    /** The topology's outputs, drained after each step. */
    private static final class Outputs {
        private final Topics topics;
        private final TestOutputTopic<String, byte[]> state;
        private final TestOutputTopic<String, byte[]> archive;
        private final TestOutputTopic<String, byte[]> deadLetters;

        Outputs(TopologyTestDriver driver, Topics topics) {
            this.topics = topics;
            state = output(driver, topics.callState().name());
            archive = output(driver, topics.callArchive().name());
            deadLetters = output(driver, topics.deadLetters().name());
        }

        Step drain(CallState before, CallState after, Map<String, Double> increments, String error) {
            List<CallState> written = new ArrayList<>();
            for (var r : state.readRecordsToList()) {
                written.add(r.value() == null ? null
                        : topics.callState().valueSerde().deserializer().deserialize("", r.value()));
            }
            List<CallArchive> archived = new ArrayList<>();
            for (var r : archive.readRecordsToList()) {
                archived.add(topics.callArchive().valueSerde().deserializer().deserialize("", r.value()));
            }
            // Dead letters show in the counters; drained so they do not pile up.
            deadLetters.readRecordsToList();
            return new Step(before, after, Collections.unmodifiableList(written), List.copyOf(archived), increments,
                    error);
        }

        private static TestOutputTopic<String, byte[]> output(TopologyTestDriver driver, String name) {
            return driver.createOutputTopic(name, new StringDeserializer(), new ByteArrayDeserializer());
        }
    }

    /** Counters that went up between two readings, in the order of the later one. */
    private static Map<String, Double> increments(Map<String, Double> before, Map<String, Double> after) {
        Map<String, Double> up = new LinkedHashMap<>();
        after.forEach((id, value) -> {
            double delta = value - before.getOrDefault(id, 0.0);
            if (delta > 0) {
                up.put(id, delta);
            }
        });
        return Collections.unmodifiableMap(up);
    }

    /** Every counter of the registry by {@code name|tag values}. */
    private static Map<String, Double> counters(SimpleMeterRegistry meters) {
        Map<String, Double> out = new HashMap<>();
        for (Meter m : meters.getMeters()) {
            if (m instanceof Counter c) {
                String tags = String.join(",", m.getId().getTags().stream().map(t -> t.getValue()).toList());
                out.merge(m.getId().getName() + "|" + tags, c.count(), Double::sum);
            }
        }
        return out;
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            Iterator<Path> it = paths.sorted(Comparator.reverseOrder()).iterator();
            while (it.hasNext()) {
                Files.deleteIfExists(it.next());
            }
        } catch (IOException e) {
            // A temporary directory left behind is harmless.
        }
    }
}
