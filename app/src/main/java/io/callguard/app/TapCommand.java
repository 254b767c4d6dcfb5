package io.callguard.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard tap TOPIC}: prints a topic's records as JSON lines. It joins no consumer group and
 * commits nothing, so it never disturbs the application's groups or offsets.
 */
@Command(name = "tap", mixinStandardHelpOptions = true,
        description = "Print a callguard topic's records as JSON lines (one object per record).")
public final class TapCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "TOPIC", description = "call-events, responses, call-state, call-archive, dead-letters "
            + "(or a full topic name).")
    String topic;

    @Option(names = "--from-beginning", description = "Start at the oldest record rather than follow new ones.")
    boolean fromBeginning;

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
        String servers = resolveServers();
        String name = resolveTopic();
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, servers,
                ConsumerConfig.CLIENT_ID_CONFIG, "callguard-tap", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(name, Duration.ofSeconds(15));
            if (infos == null || infos.isEmpty()) {
                spec.commandLine().getErr().println("callguard tap: no topic " + name + " at " + servers);
                return 1;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(name, p.partition()))
                    .collect(Collectors.toList());
            consumer.assign(partitions);
            if (fromBeginning) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
            }
            long printed = 0;
            long lastRecordAt = System.nanoTime();
            while (max == null || printed < max) {
                var records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, byte[]> r : records) {
                    out.println(line(r));
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

    /** One record as a JSON object: coordinates, key, and the value as JSON (or base64 when it is not JSON). */
    static String line(ConsumerRecord<String, byte[]> r) {
        ObjectNode node = Json.mapper().createObjectNode();
        node.put("topic", r.topic()).put("partition", r.partition()).put("offset", r.offset())
                .put("timestamp", r.timestamp()).put("key", r.key());
        if (r.value() == null) {
            node.putNull("value");
        } else {
            try {
                JsonNode value = Json.mapper().readTree(r.value());
                node.set("value", value);
            } catch (IOException e) {
                node.put("value_base64", Base64.getEncoder().encodeToString(r.value()));
                node.put("value_error", "not JSON");
            }
        }
        return node.toString();
    }

    private String resolveTopic() {
        Topics topics = Topics.withPrefix(prefix);
        return topics.all().stream().map(Topic::name)
                .filter(n -> n.equals(topic) || n.equals(topics.prefix() + topic))
                .findFirst().orElse(topic);
    }

    private String resolveServers() {
        if (bootstrapServers != null && !bootstrapServers.isBlank()) {
            return bootstrapServers;
        }
        String env = System.getenv("CALLGUARD_BOOTSTRAP_SERVERS");
        if (env != null && !env.isBlank()) {
            return env;
        }
        Path dir = dataDir.toAbsolutePath().normalize();
        return EmbeddedKafka.runningAddress(dir).orElseThrow(() -> new ParameterException(spec.commandLine(),
                "no Kafka to read: give --bootstrap-servers, or run the gateway with its embedded broker on "
                        + dir + " (no " + dir.resolve(EmbeddedKafka.ADDRESS_FILE) + " found)"));
    }

}
