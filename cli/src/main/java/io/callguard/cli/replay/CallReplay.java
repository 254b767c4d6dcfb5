package io.callguard.cli.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.processor.CallTopology;
import io.callguard.processor.CallTopologyNames;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.Json;
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
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
 * Re-runs one call's recorded events through {@link CallTopology} offline (TopologyTestDriver: no broker, nothing
 * written anywhere), the wall clock set to each event's receipt time so TTLs and timers behave as they did live,
 * and describes what each event did: the state transition and the decisions, read from the topology's outputs
 * and metrics rather than re-derived.
 *
 * <p>Capacity decisions are made for this call alone: the other calls that shared its partition live are not
 * re-run, so a call that was queued or refused live may be admitted here. The timeline says so when the live
 * state differs.
 */
final class CallReplay {

    private CallReplay() {
    }

    /** What the replay produced: one entry per event (and one for timers fired after the last), and the final state. */
    record Result(ArrayNode entries, CallState finalState, String archiveReason) {
    }

    /**
     * @param records the call's call-events records, in offset order
     * @param endMs   wall-clock time to advance to after the last event (fires TTL and grace timers); null for none
     */
    static Result run(Topics topics, ProcessorConfig config, String callId, List<ConsumerRecord<String, byte[]>> records,
                      Long endMs) {
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
        long startMs = records.isEmpty() ? 0 : receivedAt(records.get(0));
        ArrayNode entries = Json.mapper().createArrayNode();
        CallState lastState = null;
        String archiveReason = null;
        try (TopologyTestDriver driver = new TopologyTestDriver(CallTopology.build(topics, config, meters), props,
                Instant.ofEpochMilli(startMs))) {
            TestInputTopic<String, byte[]> in = driver.createInputTopic(topics.callEvents().name(),
                    new StringSerializer(), new ByteArraySerializer());
            Outputs out = new Outputs(driver, topics);
            KeyValueStore<String, CallState> states = driver.getKeyValueStore(CallTopologyNames.CALL_STATE_STORE);
            long clock = startMs;
            for (ConsumerRecord<String, byte[]> r : records) {
                long at = receivedAt(r);
                if (at > clock) {
                    driver.advanceWallClockTime(Duration.ofMillis(at - clock));
                    clock = at;
                }
                ObjectNode entry = eventEntry(r);
                CallState before = states.get(callId);
                Map<String, Double> countersBefore = counters(meters);
                try {
                    in.pipeInput(new TestRecord<>(r.key(), r.value(), r.headers(), Instant.ofEpochMilli(r.timestamp())));
                } catch (RuntimeException e) {
                    entry.withArray("decisions").add("processing_error: " + e.getMessage());
                }
                Step step = describe(entry, before, states.get(callId), countersBefore, counters(meters), out);
                lastState = step.lastState != null ? step.lastState : lastState;
                archiveReason = step.archiveReason != null ? step.archiveReason : archiveReason;
                entries.add(entry);
            }
            if (endMs != null && endMs > clock) {
                CallState before = states.get(callId);
                Map<String, Double> countersBefore = counters(meters);
                driver.advanceWallClockTime(Duration.ofMillis(endMs - clock));
                ObjectNode entry = Json.mapper().createObjectNode().put("kind", "timers")
                        .put("time", Instant.ofEpochMilli(endMs).toString());
                Step step = describe(entry, before, states.get(callId), countersBefore, counters(meters), out);
                if (!entry.withArray("decisions").isEmpty() || entry.has("transition")) {
                    entries.add(entry);
                }
                lastState = step.lastState != null ? step.lastState : lastState;
                archiveReason = step.archiveReason != null ? step.archiveReason : archiveReason;
            }
        } finally {
            deleteQuietly(stateDir);
        }
        return new Result(entries, lastState, archiveReason);
    }

    private record Step(CallState lastState, String archiveReason) {
    }

    /** The topology's outputs, drained after each step. */
    private static final class Outputs {
        final TestOutputTopic<String, byte[]> state;
        final TestOutputTopic<String, byte[]> responses;
        final TestOutputTopic<String, byte[]> archive;
        final TestOutputTopic<String, byte[]> deadLetters;

        Outputs(TopologyTestDriver driver, Topics topics) {
            state = output(driver, topics.callState().name());
            responses = output(driver, topics.responses().name());
            archive = output(driver, topics.callArchive().name());
            deadLetters = output(driver, topics.deadLetters().name());
        }

        private static TestOutputTopic<String, byte[]> output(TopologyTestDriver driver, String name) {
            return driver.createOutputTopic(name, new StringDeserializer(), new ByteArrayDeserializer());
        }
    }

    private static Step describe(ObjectNode entry, CallState before, CallState after, Map<String, Double> countersBefore,
                                 Map<String, Double> countersAfter, Outputs out) {
        ArrayNode decisions = entry.withArray("decisions");
        CallState lastState = null;
        String archiveReason = null;
        String statusBefore = before == null ? null : before.status().wireName();
        for (var r : out.state.readRecordsToList()) {
            if (r.value() == null) {
                decisions.add("removed (grace period over; tombstone written)");
                continue;
            }
            lastState = Topics.defaults().callState().valueSerde().deserializer().deserialize("", r.value());
        }
        String statusAfter = after != null ? after.status().wireName()
                : lastState != null ? lastState.status().wireName() : null;
        if (statusBefore == null && "active".equals(statusAfter)) {
            decisions.add("admitted");
        } else if (statusBefore == null && "queued".equals(statusAfter)) {
            decisions.add("queued");
        } else if ("queued".equals(statusBefore) && "active".equals(statusAfter)) {
            decisions.add("admitted from queue");
        }
        countersAfter.forEach((id, value) -> {
            double delta = value - countersBefore.getOrDefault(id, 0.0);
            if (delta <= 0) {
                return;
            }
            String name = id.substring(0, id.indexOf('|'));
            String tag = id.substring(id.indexOf('|') + 1);
            String decision = switch (name) {
                case ProcessorMetrics.DUPLICATES_DROPPED -> "duplicate dropped";
                case ProcessorMetrics.EVENTS_DROPPED -> "dropped (" + tag + ")";
                case ProcessorMetrics.DEAD_LETTERS -> "dead-lettered (" + tag + ")";
                case ProcessorMetrics.CALLS_REJECTED -> "rejected (" + tag + ")";
                case ProcessorMetrics.CALLS_ARCHIVED -> "archived (" + tag + ")";
                case ProcessorMetrics.EVENTS_APPLIED -> "applied";
                default -> null;
            };
            if (decision != null) {
                decisions.add(decision);
            }
        });
        for (var r : out.responses.readRecordsToList()) {
            AgentResponse busy = Topics.defaults().responses().valueSerde().deserializer().deserialize("", r.value());
            decisions.add(busy.kind().wireName() + " response (" + busy.reason() + ")");
        }
        for (var r : out.archive.readRecordsToList()) {
            CallArchive archive = Topics.defaults().callArchive().valueSerde().deserializer().deserialize("", r.value());
            archiveReason = archive.reason().wireName();
            if (lastState == null) {
                lastState = archive.finalState();
            }
        }
        out.deadLetters.readRecordsToList();
        if (!java.util.Objects.equals(statusBefore, statusAfter) || before != null && after != null) {
            ObjectNode transition = entry.putObject("transition");
            transition.put("status_before", statusBefore).put("status_after", statusAfter);
            transition.set("changed", changedFields(before, after));
        }
        return new Step(lastState, archiveReason);
    }

    /** Fields that differ between two states, each as {@code [before, after]}; bookkeeping times left out. */
    static ObjectNode changedFields(CallState before, CallState after) {
        ObjectNode changed = Json.mapper().createObjectNode();
        JsonNode a = before == null ? Json.mapper().createObjectNode() : Json.mapper().valueToTree(before);
        JsonNode b = after == null ? Json.mapper().createObjectNode() : Json.mapper().valueToTree(after);
        List<String> names = new ArrayList<>();
        b.fieldNames().forEachRemaining(names::add);
        a.fieldNames().forEachRemaining(n -> {
            if (!names.contains(n)) {
                names.add(n);
            }
        });
        for (String name : names) {
            if (name.equals("schema_version") || name.equals("updated_at_ms") || name.equals("last_event_at_ms")
                    || name.equals("call_id")) {
                continue;
            }
            JsonNode x = a.path(name);
            JsonNode y = b.path(name);
            if (!x.equals(y) && !(x.isMissingNode() && y.isNull()) && !(x.isNull() && y.isMissingNode())) {
                ArrayNode pair = changed.putArray(name);
                pair.add(x.isMissingNode() ? Json.mapper().nullNode() : x);
                pair.add(y.isMissingNode() ? Json.mapper().nullNode() : y);
            }
        }
        return changed;
    }

    /** The event as received: time, source, type, response id, idempotency key (or why it could not be read). */
    static ObjectNode eventEntry(ConsumerRecord<String, byte[]> r) {
        ObjectNode entry = Json.mapper().createObjectNode().put("kind", "event").put("offset", r.offset());
        CallEvent event = parse(r);
        if (event == null) {
            entry.put("time", Instant.ofEpochMilli(r.timestamp()).toString()).put("type", "(unreadable record)");
            return entry;
        }
        entry.put("time", Instant.ofEpochMilli(event.receivedAtMs()).toString())
                .put("received_at_ms", event.receivedAtMs()).put("source", event.source().wireName())
                .put("type", event.type());
        if (event.responseId() != null) {
            entry.put("response_id", event.responseId());
        }
        entry.put("idempotency_key", event.idempotencyKey()).put("edge_node", event.edgeNode());
        return entry;
    }

    static CallEvent parse(ConsumerRecord<String, byte[]> r) {
        try {
            return r.value() == null ? null
                    : Topics.defaults().callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value());
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static long receivedAt(ConsumerRecord<String, byte[]> r) {
        CallEvent event = parse(r);
        return event != null && event.receivedAtMs() > 0 ? event.receivedAtMs() : r.timestamp();
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
