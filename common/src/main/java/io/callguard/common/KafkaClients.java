package io.callguard.common;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.CommonClientConfigs;

/**
 * The one factory of Kafka client properties: bootstrap servers and a client id named after the role and the
 * node. Each caller adds its client's own settings (acks, fetch waits, group) to the mutable map it gets.
 */
public final class KafkaClients {

    /**
     * The largest record callguard writes, and the {@code max.message.bytes} of its topics: a webhook body at its
     * size limit, wrapped in its envelope (or base64 in a dead letter), must fit.
     */
    public static final int MAX_RECORD_BYTES = 4 * 1024 * 1024;

    private final String bootstrapServers;
    private final String nodeId;
    private final TopicReplication replication;

    /**
     * Clients whose topics (Streams' internal ones included) take the broker's default replication.
     *
     * @param bootstrapServers the cluster actually in use (the embedded broker's when there is one)
     * @param nodeId           this instance's node id; empty or null: client ids carry no node
     */
    public KafkaClients(String bootstrapServers, String nodeId) {
        this(bootstrapServers, nodeId, TopicReplication.BROKER_DEFAULT);
    }

    /**
     * @param replication how the topics these clients create are replicated (Streams' changelogs and repartition
     *                    topics included)
     */
    public KafkaClients(String bootstrapServers, String nodeId, TopicReplication replication) {
        this.bootstrapServers = Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        this.nodeId = nodeId == null ? "" : nodeId.trim();
        this.replication = Objects.requireNonNull(replication, "replication");
    }

    /** How callguard's topics are replicated. */
    public TopicReplication replication() {
        return replication;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The client id of {@code base} on this node: {@code base-nodeId}, or {@code base} when there is no node id. */
    public String clientId(String base) {
        return nodeId.isEmpty() ? base : base + "-" + nodeId;
    }

    /** Producer base properties: servers and client id. */
    public Map<String, Object> producer(String clientIdBase) {
        return base(clientIdBase);
    }

    /** Consumer base properties: servers and client id; no group unless the caller adds one. */
    public Map<String, Object> consumer(String clientIdBase) {
        return base(clientIdBase);
    }

    /** Admin client base properties: servers and client id. */
    public Map<String, Object> admin(String clientIdBase) {
        return base(clientIdBase);
    }

    /**
     * Kafka Streams base properties: servers, and the replication of the internal topics (changelogs, repartition
     * topics) Streams creates, the same as callguard's own topics. No client id: Streams names its clients after
     * the application id and thread, and {@code client.id} would name every one of them alike.
     */
    public Properties streams() {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        // StreamsConfig's keys, spelled out: common does not depend on kafka-streams.
        p.put("replication.factor", (int) replication.factor());
        if (replication.minInsyncReplicas() > 0) {
            p.put("topic.min.insync.replicas", String.valueOf(replication.minInsyncReplicas()));
        }
        return p;
    }

    /** A client id that is unique even without a node id (a random suffix stands in for it). */
    public String uniqueClientId(String base) {
        return nodeId.isEmpty() ? base + "-" + UUID.randomUUID().toString().substring(0, 8) : base + "-" + nodeId;
    }

    private Map<String, Object> base(String clientIdBase) {
        Map<String, Object> p = new HashMap<>();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        if (clientIdBase != null) {
            p.put(CommonClientConfigs.CLIENT_ID_CONFIG, clientId(clientIdBase));
        }
        return p;
    }
}
