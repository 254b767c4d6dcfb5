package io.callguard.app;

import io.callguard.common.CommonConfig;
import io.callguard.common.RecordLimits;
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
import org.apache.kafka.clients.admin.AlterConfigOp;
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
 * {@code min.insync.replicas}, Kafka Streams' internal topics included.
 *
 * <p>An existing topic whose {@code max.message.bytes} is below the largest record callguard writes would refuse a
 * large webhook (an hour-long call's {@code call_ended}) with 503 until Retell's retries run out, and the call would
 * keep its capacity slot: found hours after a deploy, on the longest calls. So it is settled at start: on a cluster
 * callguard runs itself (the embedded broker) the topic's limit is raised; on any other the start is refused, with an
 * error naming each such topic, its limit, the one needed, the {@code kafka-configs} command that raises it, and the
 * {@code webhook.max-body-bytes} that would fit the limit instead (an explicit choice of smaller webhooks).
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
        return ensure(admin, topics, partitions, replication, responseCacheRetentionMs, maxMessageBytes,
                internalPrefixes, timeoutMs, false);
    }

    /**
     * Ensures every topic exists, as {@link #ensure(Admin, Topics, int, TopicReplication, long, int, List, long)}.
     *
     * @param raiseRecordLimits whether an existing topic whose {@code max.message.bytes} is too small is raised
     *                          (a cluster callguard runs itself) rather than refused
     * @throws IllegalStateException when an existing topic's {@code max.message.bytes} is below
     *                               {@code maxMessageBytes} and {@code raiseRecordLimits} is false, naming it
     */
    public static List<String> ensure(Admin admin, Topics topics, int partitions, TopicReplication replication,
                                      long responseCacheRetentionMs, int maxMessageBytes, List<String> internalPrefixes,
                                      long timeoutMs, boolean raiseRecordLimits) {
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
            settleSmallRecordLimits(admin, topics, existing, maxMessageBytes, raiseRecordLimits, timeoutMs);
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

    /**
     * Existing topics whose {@code max.message.bytes} would refuse callguard's largest records: raised when
     * {@code raise}, else the start is refused naming them.
     */
    private static void settleSmallRecordLimits(Admin admin, Topics topics, Set<String> existing, int maxMessageBytes,
                                                boolean raise, long timeoutMs)
            throws ExecutionException, TimeoutException, InterruptedException {
        List<ConfigResource> resources = topics.all().stream().map(Topic::name).filter(existing::contains)
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
        if (resources.isEmpty()) {
            return;
        }
        Map<ConfigResource, Config> described = admin.describeConfigs(resources).all()
                .get(timeoutMs, TimeUnit.MILLISECONDS);
        Map<ConfigResource, Long> small = new java.util.LinkedHashMap<>();
        for (ConfigResource resource : resources) {
            ConfigEntry entry = described.get(resource).get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
            if (entry != null && entry.value() != null && Long.parseLong(entry.value()) < maxMessageBytes) {
                small.put(resource, Long.parseLong(entry.value()));
            }
        }
        if (small.isEmpty()) {
            return;
        }
        if (raise) {
            Map<ConfigResource, java.util.Collection<AlterConfigOp>> raised = new java.util.LinkedHashMap<>();
            small.keySet().forEach(r -> raised.put(r, List.of(new AlterConfigOp(new ConfigEntry(
                    TopicConfig.MAX_MESSAGE_BYTES_CONFIG, String.valueOf(maxMessageBytes)), AlterConfigOp.OpType.SET))));
            admin.incrementalAlterConfigs(raised).all().get(timeoutMs, TimeUnit.MILLISECONDS);
            small.forEach((r, limit) -> LOG.info("topic {}: {} raised from {} to {}, the largest record callguard "
                    + "writes (webhook.max-body-bytes)", r.name(), TopicConfig.MAX_MESSAGE_BYTES_CONFIG, limit,
                    maxMessageBytes));
            return;
        }
        StringBuilder message = new StringBuilder("refusing to start: ");
        long smallest = Long.MAX_VALUE;
        for (Map.Entry<ConfigResource, Long> e : small.entrySet()) {
            smallest = Math.min(smallest, e.getValue());
            message.append("topic ").append(e.getKey().name()).append(" has ")
                    .append(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).append('=').append(e.getValue()).append("; ");
        }
        message.append("callguard's largest record (a webhook body at webhook.max-body-bytes, base64 in a dead letter) "
                + "is ").append(maxMessageBytes).append(" bytes, and Kafka would refuse it (a long call's call_ended "
                + "answered 503 until Retell gives up, its capacity slot held). Raise it: ");
        for (ConfigResource r : small.keySet()) {
            message.append("kafka-configs --bootstrap-server <broker> --alter --entity-type topics --entity-name ")
                    .append(r.name()).append(" --add-config ").append(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).append('=')
                    .append(maxMessageBytes).append("; ");
        }
        message.append("or accept smaller webhooks with webhook.max-body-bytes=")
                .append(RecordLimits.maxBodyBytesFor(smallest)).append(" (a larger body is then refused with 413)");
        throw new IllegalStateException(message.toString());
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
