package io.callguard.app;

import io.callguard.common.CommonConfig;
import io.callguard.common.TopicReplication;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
 * Creates the topics of DESIGN.md when they are missing, replicated as configured; leaves existing ones as they
 * are, but says (a warning) where they disagree with the configuration: partitions, replication factor,
 * {@code min.insync.replicas}, Kafka Streams' internal topics included. A topic whose
 * {@code max.message.bytes} is below the largest record callguard writes is named too (a large webhook would then be
 * refused by Kafka and answered 503 until its retries run out).
 */
public final class TopicBootstrap {

    private static final Logger LOG = LoggerFactory.getLogger(TopicBootstrap.class);

    private TopicBootstrap() {
    }

    /**
     * Ensures every topic exists.
     *
     * @param partitions               partitions of a topic created here
     * @param replication              replicas and min in-sync replicas of a topic created here
     * @param responseCacheRetentionMs how long the response cache's topic keeps a record ({@code cache.ttl-ms})
     * @param maxMessageBytes          the {@code max.message.bytes} of a topic created here: the largest record
     *                                 callguard writes ({@code KafkaClients.maxRecordBytes()})
     * @param internalPrefixes         name prefixes of Kafka Streams' internal topics (application ids followed by
     *                                 {@code -}) whose replication is checked too
     * @return the names of the topics created
     * @throws IllegalStateException when the cluster cannot be reached or refuses, within the timeout
     */
    public static List<String> ensure(Admin admin, Topics topics, int partitions, TopicReplication replication,
                                      long responseCacheRetentionMs, int maxMessageBytes, List<String> internalPrefixes,
                                      long timeoutMs) {
        short replicationFactor = replication.factor();
        try {
            Set<String> existing = new HashSet<>(admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS));
            List<NewTopic> missing = new ArrayList<>();
            for (Topic<String, ?> topic : topics.all()) {
                if (!existing.contains(topic.name())) {
                    NewTopic newTopic = new NewTopic(topic.name(), Optional.of(partitions),
                            replicationFactor < 0 ? Optional.empty() : Optional.of(replicationFactor));
                    Map<String, String> configs = new HashMap<>(configs(topics, topic, responseCacheRetentionMs, maxMessageBytes));
                    if (replication.minInsyncReplicas() > 0) {
                        configs.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG,
                                String.valueOf(replication.minInsyncReplicas()));
                    }
                    newTopic.configs(configs);
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
                        // Made by someone else after our listing (or not yet in the broker's metadata when we
                        // listed): it is an existing topic, and its settings are checked like the others'.
                        existing.add(t.name());
                    }
                }
                LOG.info("created topics {} with {} partitions", created, partitions);
            }
            warnOnPartitionMismatch(admin, topics, partitions, timeoutMs);
            warnOnSmallRecordLimit(admin, topics, existing, maxMessageBytes, timeoutMs);
            List<String> checked = new ArrayList<>(topics.all().stream().map(Topic::name).toList());
            for (String name : existing) {
                if (internalPrefixes.stream().anyMatch(name::startsWith) && !checked.contains(name)) {
                    checked.add(name);
                }
            }
            for (String disagreement : replicationMismatches(admin, checked, replication, timeoutMs)) {
                LOG.warn("{}", disagreement);
            }
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

    /**
     * What of {@code names} disagrees with {@code replication}: one line per topic and setting, e.g. {@code topic
     * callguard.call-events has 1 replica(s) but topics.replication-factor=3}. Settings at -1 (the broker's
     * default) are not checked.
     */
    public static List<String> replicationMismatches(Admin admin, List<String> names, TopicReplication replication,
                                              long timeoutMs)
            throws ExecutionException, TimeoutException, InterruptedException {
        List<String> out = new ArrayList<>();
        if (names.isEmpty()) {
            return out;
        }
        if (replication.factor() > 0) {
            Map<String, TopicDescription> described = admin.describeTopics(names).allTopicNames()
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
            for (String name : names) {
                TopicDescription d = described.get(name);
                int replicas = d.partitions().stream().mapToInt(p -> p.replicas().size()).min().orElse(0);
                if (replicas != replication.factor()) {
                    out.add("topic " + name + " has " + replicas + " replica(s) but "
                            + CommonConfig.TOPICS_REPLICATION_FACTOR_CONFIG + "=" + replication.factor()
                            + ": it was created with other settings; change it with kafka-reassign-partitions");
                }
            }
        }
        if (replication.minInsyncReplicas() > 0) {
            List<ConfigResource> resources = names.stream()
                    .map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList();
            Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all()
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
            for (ConfigResource r : resources) {
                ConfigEntry entry = configs.get(r).get(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG);
                String value = entry == null ? null : entry.value();
                if (!String.valueOf(replication.minInsyncReplicas()).equals(value)) {
                    out.add("topic " + r.name() + " has " + TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG + "=" + value
                            + " but " + CommonConfig.TOPICS_MIN_INSYNC_REPLICAS_CONFIG + "="
                            + replication.minInsyncReplicas() + ": change it with kafka-configs --alter");
                }
            }
        }
        return out;
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
