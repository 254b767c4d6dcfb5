package io.callguard.processor.responder.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The response cache's changelog: a compacted topic {@code <prefix>response-cache} (key: cache key, value:
 * {@code {"answer":…,"expires_at_ms":…}}), written through on every store and read back whole at start,
 * so a restart or another instance starts with the cache warm. Entries past their TTL are skipped on load,
 * and the topic also deletes by time ({@code cache.ttl-ms}).
 */
public final class ResponseCacheTopic {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseCacheTopic.class);

    /** The topic's name after the prefix. */
    public static final String SUFFIX = "response-cache";

    private final String name;
    private final long ttlMs;

    public ResponseCacheTopic(String prefix, long ttlMs) {
        this.name = prefix + SUFFIX;
        this.ttlMs = ttlMs;
    }

    public String name() {
        return name;
    }

    /** Creates the topic when missing (as many partitions as {@code partitions}); existing ones are left alone. */
    public void ensure(Admin admin, int partitions, Duration timeout) throws Exception {
        if (admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS).contains(name)) {
            return;
        }
        NewTopic topic = new NewTopic(name, Optional.of(partitions), Optional.empty()).configs(Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT + "," + TopicConfig.CLEANUP_POLICY_DELETE,
                TopicConfig.RETENTION_MS_CONFIG, String.valueOf(ttlMs)));
        try {
            admin.createTopics(List.of(topic)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
            }
        }
    }

    /**
     * Reads the topic from the beginning to the end offsets it had when this started, restoring every live
     * entry into the cache (later records of a key win).
     *
     * @return entries read
     */
    public int load(Consumer<String, byte[]> consumer, ResponseCache cache, Duration timeout) {
        List<TopicPartition> partitions = new ArrayList<>();
        consumer.partitionsFor(name, timeout).forEach(p -> partitions.add(new TopicPartition(name, p.partition())));
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        long deadline = System.nanoTime() + timeout.toNanos();
        int read = 0;
        while (!reachedEnd(consumer, end) && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                if (r.key() == null || r.value() == null) {
                    continue;
                }
                try {
                    JsonNode v = Json.mapper().readTree(r.value());
                    cache.restore(r.key(), v.path("answer").asText(), v.path("expires_at_ms").asLong());
                    read++;
                } catch (java.io.IOException e) {
                    LOG.warn("response cache skips an unreadable record at {}-{}@{}", r.topic(), r.partition(), r.offset());
                }
            }
        }
        consumer.unsubscribe();
        return read;
    }

    private static boolean reachedEnd(Consumer<String, byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** Writes one stored answer to the topic; a failed write only costs a cache miss later. */
    public void write(Producer<String, byte[]> producer, String key, String answer, long expiresAtMs) {
        byte[] value = Json.mapper().createObjectNode().put("answer", answer).put("expires_at_ms", expiresAtMs)
                .toString().getBytes(StandardCharsets.UTF_8);
        producer.send(new ProducerRecord<>(name, key, value), (meta, error) -> {
            if (error != null) {
                LOG.debug("response cache write failed (costs a miss later): {}", error.toString());
            }
        });
    }
}
