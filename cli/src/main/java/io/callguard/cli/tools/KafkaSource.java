package io.callguard.cli.tools;

import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.common.KafkaClients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** The Kafka the operator tools read: which servers, and a consumer that joins no group and commits nothing. */
public final class KafkaSource {

    static final Duration METADATA_TIMEOUT = Duration.ofSeconds(15);

    private KafkaSource() {
    }

    /**
     * The bootstrap servers: the one given, else {@code CALLGUARD_BOOTSTRAP_SERVERS}, else the embedded broker
     * of a gateway running on {@code dataDir}.
     *
     * @throws IllegalArgumentException when none of these is there, saying what to give
     */
    public static String servers(String given, Path dataDir) {
        if (given != null && !given.isBlank()) {
            return given;
        }
        String env = System.getenv("CALLGUARD_BOOTSTRAP_SERVERS");
        if (env != null && !env.isBlank()) {
            return env;
        }
        Path dir = dataDir.toAbsolutePath().normalize();
        return EmbeddedKafka.runningAddress(dir).orElseThrow(() -> new IllegalArgumentException(
                "no Kafka to read: give --bootstrap-servers, or run the gateway with its embedded broker on "
                        + dir + " (no " + dir.resolve(EmbeddedKafka.ADDRESS_FILE) + " found)"));
    }

    /**
     * A consumer for manual assignment: no group id, so it joins no group, commits nothing and cannot disturb
     * the application's offsets; read_committed, so it sees what the application's consumers see.
     */
    public static KafkaConsumer<String, byte[]> consumer(String servers, String clientId) {
        Map<String, Object> props = new KafkaClients(servers, "").consumer(clientId);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * The partitions of a topic.
     *
     * @throws IllegalArgumentException when the topic does not exist, listing the topics that do
     */
    public static List<PartitionInfo> partitions(KafkaConsumer<?, ?> consumer, String topic, String servers) {
        List<PartitionInfo> infos = Optional.ofNullable(consumer.partitionsFor(topic, METADATA_TIMEOUT))
                .orElse(List.of());
        if (infos.isEmpty()) {
            TreeSet<String> known = new TreeSet<>(consumer.listTopics(METADATA_TIMEOUT).keySet());
            known.removeIf(t -> t.startsWith("__"));
            throw new IllegalArgumentException("no topic " + topic + " at " + servers + "; topics there: "
                    + (known.isEmpty() ? "none" : String.join(", ", known)));
        }
        return infos;
    }
}
