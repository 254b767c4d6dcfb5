package io.callguard.app;

import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics of DESIGN.md when they are missing; leaves existing ones as they are, but warns about one whose
 * {@code max.message.bytes} is below the largest record callguard writes (a large webhook would then be refused by
 * Kafka and answered 503 until its retries run out).
 */
public final class TopicBootstrap {

    private static final Logger LOG = LoggerFactory.getLogger(TopicBootstrap.class);

    private TopicBootstrap() {
    }

    /**
     * Ensures every topic exists.
     *
     * @param partitions               partitions of a topic created here
     * @param replicationFactor        replicas of a topic created here; -1 for the broker's default
     * @param responseCacheRetentionMs how long the response cache's topic keeps a record ({@code cache.ttl-ms})
     * @param maxMessageBytes          the {@code max.message.bytes} of a topic created here: the largest record
     *                                 callguard writes ({@code KafkaClients.maxRecordBytes()})
     * @return the names of the topics created
     * @throws IllegalStateException when the cluster cannot be reached or refuses, within the timeout
     */
    public static List<String> ensure(Admin admin, Topics topics, int partitions, short replicationFactor,
                                      long responseCacheRetentionMs, int maxMessageBytes, long timeoutMs) {
        try {
            Set<String> existing = admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS);
            List<NewTopic> missing = new ArrayList<>();
            for (Topic<String, ?> topic : topics.all()) {
                if (!existing.contains(topic.name())) {
                    NewTopic newTopic = new NewTopic(topic.name(), Optional.of(partitions),
                            replicationFactor < 0 ? Optional.empty() : Optional.of(replicationFactor));
                    newTopic.configs(configs(topics, topic, responseCacheRetentionMs, maxMessageBytes));
                    missing.add(newTopic);
                }
            }
            List<String> created = new ArrayList<>();
            if (!missing.isEmpty()) {
                var results = admin.createTopics(missing).values();
                for (NewTopic t : missing) {
                    try {
                        results.get(t.name()).get(timeoutMs, TimeUnit.MILLISECONDS);
                        created.add(t.name());
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof TopicExistsException)) {
                            throw e;
                        }
                    }
                }
                LOG.info("created topics {} with {} partitions", created, partitions);
            }
            warnOnPartitionMismatch(admin, topics, partitions, timeoutMs);
            warnOnSmallRecordLimit(admin, topics, existing, maxMessageBytes, timeoutMs);
            return created;
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot create callguard topics: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + timeoutMs + " ms while creating topics", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }

    /**
     * The configs of a topic created here: compacted ones keep the latest value per key; the response cache is
     * also deleted by time, since an entry past its TTL is never served.
     */
    static Map<String, String> configs(Topics topics, Topic<String, ?> topic, long responseCacheRetentionMs,
                                       int maxMessageBytes) {
        Map<String, String> configs = new HashMap<>();
        configs.put(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, String.valueOf(maxMessageBytes));
        if (topic.name().equals(topics.responseCache().name())) {
            configs.put(TopicConfig.CLEANUP_POLICY_CONFIG,
                    TopicConfig.CLEANUP_POLICY_COMPACT + "," + TopicConfig.CLEANUP_POLICY_DELETE);
            configs.put(TopicConfig.RETENTION_MS_CONFIG, String.valueOf(responseCacheRetentionMs));
        } else if (topic.compacted()) {
            configs.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
        }
        return Map.copyOf(configs);
    }

    /** Existing topics keep their settings; one that would refuse callguard's largest records is named. */
    private static void warnOnSmallRecordLimit(Admin admin, Topics topics, Set<String> existing, int maxMessageBytes,
                                               long timeoutMs)
            throws ExecutionException, TimeoutException, InterruptedException {
        List<ConfigResource> resources = topics.all().stream().map(Topic::name).filter(existing::contains)
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
        if (resources.isEmpty()) {
            return;
        }
        Map<ConfigResource, Config> described = admin.describeConfigs(resources).all()
                .get(timeoutMs, TimeUnit.MILLISECONDS);
        described.forEach((resource, config) -> {
            ConfigEntry entry = config.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
            if (entry != null && entry.value() != null && Long.parseLong(entry.value()) < maxMessageBytes) {
                LOG.warn("topic {} has {}={}, below the {} bytes of callguard's largest record (a webhook body at "
                        + "webhook.max-body-bytes, base64 in a dead letter): such a record is refused. Raise it, e.g. "
                        + "kafka-configs --alter --entity-type topics --entity-name {} --add-config {}={}",
                        resource.name(), TopicConfig.MAX_MESSAGE_BYTES_CONFIG, entry.value(), maxMessageBytes,
                        resource.name(), TopicConfig.MAX_MESSAGE_BYTES_CONFIG, maxMessageBytes);
            }
        });
    }

    private static void warnOnPartitionMismatch(Admin admin, Topics topics, int partitions, long timeoutMs)
            throws ExecutionException, TimeoutException, InterruptedException {
        List<String> names = topics.all().stream().map(Topic::name).toList();
        Map<String, TopicDescription> described = null;
        // Topics just created may not be in every broker's metadata yet: ask again for a little while.
        for (int attempt = 1; described == null; attempt++) {
            try {
                described = admin.describeTopics(names).allTopicNames().get(timeoutMs, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
                        || attempt >= 50) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
        int events = described.get(topics.callEvents().name()).partitions().size();
        for (TopicDescription d : described.values()) {
            if (d.partitions().size() != events) {
                // Streams co-partitions call-events with its outputs only by key; a mismatch moves calls.
                LOG.warn("topic {} has {} partitions but {} has {}: keep them equal", d.name(),
                        d.partitions().size(), topics.callEvents().name(), events);
            }
        }
        if (events != partitions) {
            LOG.warn("topic {} exists with {} partitions; topics.partitions={} applies only to topics created now",
                    topics.callEvents().name(), events, partitions);
        }
    }
}
