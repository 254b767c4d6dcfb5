package io.callguard.common;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * The one factory of Kafka client properties: bootstrap servers, a client id named after the role and the node,
 * and the largest record callguard writes ({@link #maxRecordBytes()}, see {@link RecordLimits}), which every
 * producer may send. Each caller adds its client's own settings (acks, fetch waits, group) to the mutable map it
 * gets.
 */
public final class KafkaClients {

    /** The producers' default {@code buffer.memory}, kept when it holds a few of the largest records. */
    private static final long DEFAULT_BUFFER_MEMORY = 32L * 1024 * 1024;
    /** How many of the largest records a producer's buffer holds at least. */
    private static final int RECORDS_BUFFERED = 3;

    private final String bootstrapServers;
    private final String nodeId;
    private final int maxRecordBytes;
    private final TopicReplication replication;
    private final int turnLingerMs;

    /**
     * Clients for records of bodies up to {@link RecordLimits#DEFAULT_MAX_BODY_BYTES}, whose topics (Streams'
     * internal ones included) take the broker's default replication.
     *
     * @param bootstrapServers the cluster actually in use (the embedded broker's when there is one)
     * @param nodeId           this instance's node id; empty or null: client ids carry no node
     */
    public KafkaClients(String bootstrapServers, String nodeId) {
        this(bootstrapServers, nodeId, RecordLimits.maxRecordBytes(RecordLimits.DEFAULT_MAX_BODY_BYTES));
    }

    /**
     * @param maxRecordBytes the largest record written ({@link RecordLimits#maxRecordBytes}); every producer's
     *                       {@code max.request.size}
     */
    public KafkaClients(String bootstrapServers, String nodeId, int maxRecordBytes) {
        this(bootstrapServers, nodeId, maxRecordBytes, TopicReplication.BROKER_DEFAULT);
    }

    /**
     * @param maxRecordBytes the largest record written ({@link RecordLimits#maxRecordBytes}); every producer's
     *                       {@code max.request.size}
     * @param replication    how the topics these clients create are replicated (Streams' changelogs and
     *                       repartition topics included)
     */
    public KafkaClients(String bootstrapServers, String nodeId, int maxRecordBytes, TopicReplication replication) {
        this(bootstrapServers, nodeId, maxRecordBytes, replication, 0);
    }

    private KafkaClients(String bootstrapServers, String nodeId, int maxRecordBytes, TopicReplication replication,
            int turnLingerMs) {
        if (turnLingerMs < 0) {
            throw new IllegalArgumentException("turnLingerMs must not be negative, was " + turnLingerMs);
        }
        this.turnLingerMs = turnLingerMs;
        this.bootstrapServers = Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        this.nodeId = nodeId == null ? "" : nodeId.trim();
        if (maxRecordBytes <= 0) {
            throw new IllegalArgumentException("maxRecordBytes must be positive, was " + maxRecordBytes);
        }
        this.maxRecordBytes = maxRecordBytes;
        this.replication = Objects.requireNonNull(replication, "replication");
    }

    /**
     * These clients with the turn path's producers lingering {@code lingerMs} ({@code turn.kafka-linger-ms}); the
     * constructors' clients send every record at once.
     */
    public KafkaClients withTurnLingerMs(int lingerMs) {
        return new KafkaClients(bootstrapServers, nodeId, maxRecordBytes, replication, lingerMs);
    }

    /** {@code linger.ms} of the producers on a turn's path (the ingress's and the responder's answers). */
    public int turnLingerMs() {
        return turnLingerMs;
    }

    /** How callguard's topics are replicated. */
    public TopicReplication replication() {
        return replication;
    }

    /** The largest record a callguard producer sends; the topics' {@code max.message.bytes} must allow it. */
    public int maxRecordBytes() {
        return maxRecordBytes;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The client id of {@code base} on this node: {@code base-nodeId}, or {@code base} when there is no node id. */
    public String clientId(String base) {
        return nodeId.isEmpty() ? base : base + "-" + nodeId;
    }

    /**
     * Producer base properties: servers, client id, and {@code max.request.size} (with a {@code buffer.memory} that
     * holds a few such records), so the largest body accepted reaches Kafka whole.
     */
    public Map<String, Object> producer(String clientIdBase) {
        Map<String, Object> p = base(clientIdBase);
        p.putAll(producerRecordSize());
        return p;
    }

    /** The producer settings that let the largest record through: {@code max.request.size}, {@code buffer.memory}. */
    public Map<String, Object> producerRecordSize() {
        return Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecordBytes,
                ProducerConfig.BUFFER_MEMORY_CONFIG, Math.max(DEFAULT_BUFFER_MEMORY, (long) RECORDS_BUFFERED * maxRecordBytes));
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
        if (replication.factor() > 0) {
            p.put("replication.factor", (int) replication.factor());
        }
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
