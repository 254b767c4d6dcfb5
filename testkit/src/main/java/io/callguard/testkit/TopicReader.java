package io.callguard.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads a whole topic from the beginning, without a consumer group, for assertions. */
public final class TopicReader<V> implements AutoCloseable {

    private final KafkaConsumer<String, V> consumer;
    private final List<ConsumerRecord<String, V>> seen = new ArrayList<>();

    public TopicReader(String bootstrapServers, String topic, Deserializer<V> values) {
        this(bootstrapServers, topic, values, false);
    }

    /** @param readCommitted skip records of aborted transactions (output of a processor killed under exactly_once_v2) */
    public TopicReader(String bootstrapServers, String topic, Deserializer<V> values, boolean readCommitted) {
        consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, readCommitted ? "read_committed" : "read_uncommitted"),
                new StringDeserializer(), values);
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Polls once more and returns everything read so far, in per-partition order. */
    public List<ConsumerRecord<String, V>> records() {
        consumer.poll(Duration.ofMillis(100)).forEach(seen::add);
        return List.copyOf(seen);
    }

    /** Values read so far for one key. */
    public List<V> valuesFor(String key) {
        return records().stream().filter(r -> key.equals(r.key())).map(ConsumerRecord::value).collect(Collectors.toList());
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(2));
    }
}
