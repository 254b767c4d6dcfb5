package io.callguard.processor.responder.internal;

import io.callguard.schemas.CachedAnswer;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The response cache's changelog, {@link Topics#responseCache()} (key: cache key, value: {@link CachedAnswer}),
 * written through on every store and read back whole at start, so a restart or another instance starts with
 * the cache warm. Entries past their TTL, and entries under an older key scheme, are skipped on load. The topic is created with the others (compacted,
 * deleted by time after {@code cache.ttl-ms}), not here.
 */
public final class ResponseCacheTopic {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseCacheTopic.class);

    private final String name;
    private final Serde<CachedAnswer> serde;

    /** The topic with its schema-checked serde ({@link Topics#responseCache()}). */
    public ResponseCacheTopic(Topic<String, CachedAnswer> topic) {
        this.name = topic.name();
        this.serde = topic.valueSerde();
    }

    public String name() {
        return name;
    }

    /**
     * Reads the topic from the beginning to the end offsets it had when this started, restoring every live
     * entry into the cache (later records of a key win). Entries whose key is not of the cache's current
     * scheme ({@link ResponseCache#KEY_VERSION}, e.g. the tail keys written before it) are skipped.
     *
     * @return entries loaded
     */
    public int load(Consumer<String, byte[]> consumer, ResponseCache cache, Duration timeout) {
        List<TopicPartition> partitions = new ArrayList<>();
        consumer.partitionsFor(name, timeout).forEach(p -> partitions.add(new TopicPartition(name, p.partition())));
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
        long deadline = System.nanoTime() + timeout.toNanos();
        int read = 0;
        int otherScheme = 0;
        while (!reachedEnd(consumer, end) && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                if (r.key() == null || r.value() == null) {
                    continue;
                }
                if (!ResponseCache.currentScheme(r.key())) {
                    // Written under an older, looser key: never loaded, so it can never be served.
                    otherScheme++;
                    continue;
                }
                try {
                    CachedAnswer entry = serde.deserializer().deserialize(name, r.value());
                    if (cache.restore(r.key(), entry.answer(), entry.expiresAtMs())) {
                        read++;
                    }
                } catch (SerializationException e) {
                    LOG.warn("response cache skips an unreadable record at {}-{}@{}: {}", r.topic(), r.partition(),
                            r.offset(), e.getMessage());
                }
            }
        }
        consumer.unsubscribe();
        if (otherScheme > 0) {
            LOG.info("response cache skipped {} entries keyed by an older scheme (they expire with the topic's "
                    + "retention)", otherScheme);
        }
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
        byte[] value = serde.serializer().serialize(name, CachedAnswer.of(answer, expiresAtMs));
        producer.send(new ProducerRecord<>(name, key, value), (meta, error) -> {
            if (error != null) {
                LOG.debug("response cache write failed (costs a miss later): {}", error.toString());
            }
        });
    }
}
