package io.callguard.app.broker;

import io.callguard.common.RecordLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Kafka broker (KRaft, broker and controller in one) inside this JVM, keeping its log under a data
 * directory so a restart finds its data again: the single node of the embedded broker, or one node of a
 * {@link ClusterLayout} (each node in its own process, see {@code callguard cluster}).
 *
 * <p>The log directory is formatted once, when it has no {@code meta.properties}. The controllers use a static
 * voter set: a single node picks its controller port at each start, so a restart does not depend on a port
 * staying free; a cluster node's ports are the layout's, fixed when the cluster was first laid out, since the
 * other nodes name them.
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    /** File under the data directory naming the running broker's address, for the CLI tools. */
    public static final String ADDRESS_FILE = "broker.address";

    private final Path dataDir;
    private final int requestedPort;
    private final int maxMessageBytes;
    /** The cluster this broker is a node of, or null for the single embedded node. */
    private final ClusterLayout layout;
    private final int nodeId;
    private KafkaRaftServer server;
    private int port;

    /**
     * A broker that takes records up to the size the default webhook body limit makes.
     *
     * @param dataDir       directory holding the broker's log under {@code kafka/}; created if missing
     * @param requestedPort the client port on 127.0.0.1; 0 picks a free one
     */
    public EmbeddedKafka(Path dataDir, int requestedPort) {
        this(dataDir, requestedPort, RecordLimits.maxRecordBytes(RecordLimits.DEFAULT_MAX_BODY_BYTES));
    }

    /**
     * @param maxMessageBytes the broker's {@code message.max.bytes}: the record size of topics created without an
     *                        override of their own (Kafka Streams' changelogs); callguard's topics set theirs
     */
    public EmbeddedKafka(Path dataDir, int requestedPort, int maxMessageBytes) {
        if (requestedPort < 0 || requestedPort > 65_535) {
            throw new IllegalArgumentException("broker port must be 0..65535, was " + requestedPort);
        }
        if (maxMessageBytes <= 0) {
            throw new IllegalArgumentException("maxMessageBytes must be positive, was " + maxMessageBytes);
        }
        this.dataDir = dataDir.toAbsolutePath();
        this.requestedPort = requestedPort;
        this.maxMessageBytes = maxMessageBytes;
        this.layout = null;
        this.nodeId = 1;
    }

    /**
     * One node of a cluster, on the layout's ports, with its log under the layout's directory for it; it takes
     * records up to the size the default webhook body limit makes.
     *
     * @throws IllegalArgumentException when the layout has no such node
     */
    public EmbeddedKafka(ClusterLayout layout, int nodeId) {
        this.layout = java.util.Objects.requireNonNull(layout, "layout");
        this.nodeId = nodeId;
        this.dataDir = layout.nodeDir(nodeId);
        this.requestedPort = layout.clientPort(nodeId);
        this.maxMessageBytes = RecordLimits.maxRecordBytes(RecordLimits.DEFAULT_MAX_BODY_BYTES);
    }

    /**
     * Formats the log directory if needed and starts the broker.
     *
     * @throws IllegalStateException when formatting or start-up fails; nothing is left running then
     */
    public synchronized void start() {
        if (server != null) {
            throw new IllegalStateException("already started");
        }
        Path logDir = dataDir.resolve("kafka");
        try {
            Files.createDirectories(logDir);
            Properties props;
            String clusterId;
            if (layout == null) {
                port = requestedPort == 0 ? freePort() : requestedPort;
                int controllerPort = freePort();
                props = brokerProperties(logDir, 1, port, controllerPort, "1@127.0.0.1:" + controllerPort, 1,
                        maxMessageBytes);
                clusterId = Uuid.randomUuid().toString();
            } else {
                port = requestedPort;
                props = brokerProperties(logDir, nodeId, port, layout.controllerPort(nodeId), layout.voters(),
                        layout.replicas(), maxMessageBytes);
                clusterId = layout.clusterId();
            }
            formatIfNeeded(logDir, props, clusterId);
            KafkaRaftServer candidate = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
            try {
                candidate.startup();
            } catch (RuntimeException e) {
                // Controller threads linger unless a failed start is shut down too.
                candidate.shutdown();
                candidate.awaitShutdown();
                throw e;
            }
            server = candidate;
            Files.writeString(dataDir.resolve(ADDRESS_FILE), bootstrapServers() + "\n");
            LOG.info("embedded Kafka broker {} started at {} with its log in {}", nodeId, bootstrapServers(), logDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the embedded broker under " + logDir, e);
        }
    }

    /** The address clients connect to, {@code 127.0.0.1:port}. */
    public String bootstrapServers() {
        if (port == 0) {
            throw new IllegalStateException("not started");
        }
        return "127.0.0.1:" + port;
    }

    /** Stops the broker and waits for its threads to end. Safe to call twice. */
    @Override
    public synchronized void close() {
        if (server == null) {
            return;
        }
        try {
            server.shutdown();
            server.awaitShutdown();
        } finally {
            server = null;
            try {
                Files.deleteIfExists(dataDir.resolve(ADDRESS_FILE));
            } catch (IOException e) {
                LOG.warn("cannot remove {}: {}", dataDir.resolve(ADDRESS_FILE), e.toString());
            }
            LOG.info("embedded Kafka broker stopped");
        }
    }

    /** The broker's address as written by a running embedded broker under {@code dataDir}, if any. */
    public static java.util.Optional<String> runningAddress(Path dataDir) {
        Path file = dataDir.resolve(ADDRESS_FILE);
        try {
            return Files.exists(file) ? java.util.Optional.of(Files.readString(file).trim()) : java.util.Optional.empty();
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
    }

    /** The node id of this broker: 1 for the single embedded node. */
    public int nodeId() {
        return nodeId;
    }

    /**
     * The settings of one node (broker and controller in one process), the embedded broker's and each node's of
     * {@code callguard cluster}; docker-compose.yml's cluster profile is checked against them.
     *
     * @param voters   the controller quorum, {@code id@host:port,...}
     * @param replicas replicas of the broker's own internal topics and of topics created without a factor; the
     *                 minimum in-sync replicas is one less (at least 1), so one node of three may be down
     */
    public static Properties brokerProperties(Path logDir, int nodeId, int port, int controllerPort, String voters,
                                       int replicas, int maxMessageBytes) {
        String rf = String.valueOf(replicas);
        String minIsr = String.valueOf(Math.max(1, replicas - 1));
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", String.valueOf(nodeId));
        p.put("controller.quorum.voters", voters);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // Internal topics (group offsets, transactions: exactly-once Streams depends on both) as replicated as
        // the cluster allows; one node: one replica each.
        p.put("offsets.topic.replication.factor", rf);
        p.put("offsets.topic.num.partitions", "10");
        p.put("transaction.state.log.replication.factor", rf);
        p.put("transaction.state.log.min.isr", minIsr);
        p.put("transaction.state.log.num.partitions", "10");
        p.put("share.coordinator.state.topic.replication.factor", rf);
        p.put("share.coordinator.state.topic.min.isr", minIsr);
        p.put("min.insync.replicas", minIsr);
        p.put("default.replication.factor", rf);
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", "false");
        p.put("group.initial.rebalance.delay.ms", "0");
        // A node that died (kill -9) is fenced, and its partitions get new leaders, when the controller has missed
        // its heartbeats this long. Kafka's 9 s default held every partition it led, and the turns on them, for
        // 8 s in the cluster chaos drill (ClusterChaosIT); on loopback 3 s of 500 ms heartbeats is safe. A team's
        // own cluster has its own value: the same bound applies to it (README, "Running on a Kafka cluster").
        if (replicas > 1) {
            p.put("broker.session.timeout.ms", "3000");
            p.put("broker.heartbeat.interval.ms", "500");
        }
        // The cleaner's 128 MiB default buffer would sit on our heap.
        p.put("log.cleaner.dedupe.buffer.size", String.valueOf(4 * 1024 * 1024));
        p.put("log.cleaner.io.buffer.size", String.valueOf(512 * 1024));
        p.put("log.segment.bytes", String.valueOf(64 * 1024 * 1024));
        p.put("message.max.bytes", String.valueOf(maxMessageBytes));
        p.put("replica.fetch.max.bytes", String.valueOf(maxMessageBytes));
        return p;
    }

    private static void formatIfNeeded(Path logDir, Properties props, String clusterId) throws IOException {
        if (Files.exists(logDir.resolve("meta.properties"))) {
            return;
        }
        Path propsFile = logDir.resolve("format.properties");
        try (Writer w = Files.newBufferedWriter(propsFile)) {
            props.store(w, "written by callguard to format the embedded broker's log directory");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code;
        try (PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            code = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c",
                    propsFile.toString()}, print);
        }
        if (code != 0) {
            throw new IllegalStateException("formatting the embedded broker's log directory " + logDir
                    + " failed (exit " + code + "): " + out.toString(StandardCharsets.UTF_8).trim());
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }
}
