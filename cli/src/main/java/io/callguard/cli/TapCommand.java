package io.callguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.cli.tools.AnswerText;
import io.callguard.cli.tools.CallPartitions;
import io.callguard.cli.tools.KafkaSource;
import io.callguard.cli.tools.TimeArg;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard tap TOPIC}: prints a topic's records as JSON lines, optionally only one call's or one
 * type's. It joins no consumer group and commits nothing, so it never disturbs the application's groups or
 * offsets.
 */
@Command(name = "tap", mixinStandardHelpOptions = true,
        description = {"Print a callguard topic's records as JSON lines (one object per record).",
            "--type matches, per topic: call-events: the event type (call_started, response_required, ...); "
                    + "responses: the kind (generated, cached, fallback, busy); call-state: the status (active, "
                    + "queued, ended, expired, rejected); call-archive: the reason (ended, expired, rejected); "
                    + "dead-letters: the reason (invalid_json, ...)."})
public final class TapCommand implements Callable<Integer> {

    /** Which value field {@code --type} matches, per topic suffix. */
    static final Map<String, String> TYPE_FIELDS = Map.of(Topics.CALL_EVENTS, "type", Topics.RESPONSES, "kind",
            Topics.CALL_STATE, "status", Topics.CALL_ARCHIVE, "reason", Topics.DEAD_LETTERS, "reason");

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "TOPIC", description = "call-events, responses, call-state, call-archive, dead-letters "
            + "(or a full topic name).")
    String topic;

    @Option(names = "--from-beginning", description = "Start at the oldest record rather than follow new ones.")
    boolean fromBeginning;

    @Option(names = "--since", paramLabel = "TIME", description = "Start at the first record at or after TIME: an ISO "
            + "time (2026-11-29T12:00:00Z), a date, epoch ms, or a duration back from now (30s, 10m, 2h, 1d).")
    String since;

    @Option(names = "--call-id", paramLabel = "ID", description = "Only this call's records (reads only the "
            + "call's partition; dead-letters are keyed by source, so there the value's call_id is matched).")
    String callId;

    @Option(names = "--type", paramLabel = "TYPE", description = "Only records whose type field is TYPE "
            + "(case-insensitive; which field per topic: see above).")
    String type;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "json",
            description = "json (one object per line, default) or pretty (a header line and the value indented).")
    String format;

    @Option(names = "--max", paramLabel = "N", description = "Stop after N records.")
    Long max;

    @Option(names = "--idle-exit-ms", paramLabel = "MS", description = "Stop when no record came for MS "
            + "milliseconds (default: follow forever).")
    Long idleExitMs;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...",
            description = "Kafka to read. Default: CALLGUARD_BOOTSTRAP_SERVERS, else the embedded broker running on "
                    + "--data-dir.")
    String bootstrapServers;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "./data",
            description = "Data dir of a gateway running an embedded broker (default ./data).")
    Path dataDir;

    @Option(names = "--prefix", paramLabel = "PREFIX", defaultValue = Topics.DEFAULT_PREFIX,
            description = "Topic prefix (default ${DEFAULT-VALUE}).")
    String prefix;

    @Override
    public Integer call() {
        if (max != null && max < 1) {
            throw new ParameterException(spec.commandLine(), "--max must be at least 1, was " + max);
        }
        if (!format.equals("json") && !format.equals("pretty")) {
            throw new ParameterException(spec.commandLine(), "--format must be json or pretty, was '" + format + "'");
        }
        if (fromBeginning && since != null) {
            throw new ParameterException(spec.commandLine(), "give --from-beginning or --since, not both");
        }
        Instant sinceAt;
        String servers;
        try {
            sinceAt = since == null ? null : TimeArg.parse(since, Instant.now());
            servers = KafkaSource.servers(bootstrapServers, dataDir);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        String name = resolveTopic();
        String typeField = TYPE_FIELDS.entrySet().stream().filter(e -> name.endsWith(e.getKey()))
                .map(Map.Entry::getValue).findFirst().orElse("type");
        boolean keyedBySource = name.endsWith(Topics.DEAD_LETTERS);
        PrintWriter out = spec.commandLine().getOut();
        try (KafkaConsumer<String, byte[]> consumer = KafkaSource.consumer(servers, "callguard-tap")) {
            List<PartitionInfo> infos;
            try {
                infos = KafkaSource.partitions(consumer, name, servers);
            } catch (IllegalArgumentException e) {
                spec.commandLine().getErr().println("callguard tap: " + e.getMessage());
                return 1;
            }
            List<TopicPartition> partitions = callId != null && !keyedBySource
                    ? List.of(new TopicPartition(name, CallPartitions.of(callId, infos.size())))
                    : infos.stream().map(p -> new TopicPartition(name, p.partition())).toList();
            consumer.assign(partitions);
            seek(consumer, partitions, sinceAt);
            long printed = 0;
            long lastRecordAt = System.nanoTime();
            while (max == null || printed < max) {
                var records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, byte[]> r : records) {
                    ObjectNode node = node(r);
                    if (!matches(node, typeField, keyedBySource)) {
                        continue;
                    }
                    out.println(format.equals("pretty") ? pretty(node) : node.toString());
                    printed++;
                    if (max != null && printed >= max) {
                        break;
                    }
                }
                out.flush();
                if (!records.isEmpty()) {
                    lastRecordAt = System.nanoTime();
                } else if (idleExitMs != null && System.nanoTime() - lastRecordAt > idleExitMs * 1_000_000) {
                    break;
                }
            }
        }
        return 0;
    }

    private void seek(KafkaConsumer<String, byte[]> consumer, List<TopicPartition> partitions, Instant sinceAt) {
        if (sinceAt != null) {
            Map<TopicPartition, Long> query = new HashMap<>();
            partitions.forEach(p -> query.put(p, sinceAt.toEpochMilli()));
            Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, Duration.ofSeconds(15));
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(15));
            for (TopicPartition p : partitions) {
                OffsetAndTimestamp at = found.get(p);
                // No record at or after the time: start at the end, so only new records are shown.
                consumer.seek(p, at != null ? at.offset() : ends.get(p));
            }
        } else if (fromBeginning) {
            consumer.seekToBeginning(partitions);
        } else {
            consumer.seekToEnd(partitions);
        }
    }

    private boolean matches(ObjectNode node, String typeField, boolean keyedBySource) {
        JsonNode value = node.path("value");
        if (callId != null) {
            String recordCall = keyedBySource ? value.path("call_id").asText(null) : node.path("key").asText(null);
            if (!callId.equals(recordCall)) {
                return false;
            }
        }
        return type == null || type.equalsIgnoreCase(value.path(typeField).asText(""));
    }

    /** One record as a JSON line: coordinates, key, and the value as JSON (or base64 when it is not JSON). */
    static String line(ConsumerRecord<String, byte[]> r) {
        return node(r).toString();
    }

    static ObjectNode node(ConsumerRecord<String, byte[]> r) {
        ObjectNode node = Json.mapper().createObjectNode();
        node.put("topic", r.topic()).put("partition", r.partition()).put("offset", r.offset())
                .put("timestamp", r.timestamp()).put("key", r.key());
        if (r.value() == null) {
            node.putNull("value");
        } else {
            try {
                JsonNode value = Json.mapper().readTree(r.value());
                node.set("value", value);
                if (r.topic().endsWith(Topics.RESPONSES)) {
                    describeAnswer(node, r.value());
                }
            } catch (IOException e) {
                node.put("value_base64", Base64.getEncoder().encodeToString(r.value()));
                node.put("value_error", "not JSON");
            }
        }
        return node;
    }

    /**
     * Beside an answer record's value: its {@code scope} when it is an interrupt or call-level, and its
     * {@code effects} (frames and actions, {@link AnswerText}) when it has any; nothing for a record that cannot be
     * read as an answer (its value is printed as it is).
     */
    private static void describeAnswer(ObjectNode node, byte[] value) {
        AgentResponse answer;
        try {
            answer = Topics.defaults().responses().valueSerde().deserializer().deserialize("", value);
        } catch (RuntimeException e) {
            return;
        }
        if (answer == null) {
            return;
        }
        if (!answer.inTurn()) {
            node.put("scope", AnswerText.scope(answer));
        }
        List<String> effects = AnswerText.effects(answer);
        if (!effects.isEmpty()) {
            ArrayNode shown = node.putArray("effects");
            effects.forEach(shown::add);
        }
    }

    /**
     * A header a person scans (time, topic-partition@offset, key; for an answer its scope and effects) and the
     * value indented below it.
     */
    static String pretty(ObjectNode node) {
        String header = Instant.ofEpochMilli(node.path("timestamp").asLong()) + "  " + node.path("topic").asText()
                + "-" + node.path("partition").asInt() + "@" + node.path("offset").asLong() + "  key="
                + node.path("key").asText();
        if (node.has("scope")) {
            header += "  " + node.path("scope").asText();
        }
        if (node.has("effects")) {
            List<String> effects = new ArrayList<>();
            node.path("effects").forEach(e -> effects.add(e.asText()));
            header += "  [" + String.join(", ", effects) + "]";
        }
        JsonNode value = node.get("value");
        String body = value == null ? "(not JSON, base64) " + node.path("value_base64").asText()
                : value.isNull() ? "(tombstone)" : value.toPrettyString();
        return header + "\n  " + body.replace("\n", "\n  ") + "\n";
    }

    private String resolveTopic() {
        Topics topics = Topics.withPrefix(prefix);
        return topics.all().stream().map(Topic::name)
                .filter(n -> n.equals(topic) || n.equals(topics.prefix() + topic))
                .findFirst().orElse(topic);
    }
}
