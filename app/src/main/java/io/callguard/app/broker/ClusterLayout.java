package io.callguard.app.broker;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.Uuid;

/**
 * The fixed shape of a local rehearsal cluster of KRaft nodes on loopback (each node both broker and controller):
 * its cluster id, and each node's client and controller ports. Laid out once under a data directory
 * ({@value #FILE}); every later start of the cluster, or of one node of it, reads the same layout, because each
 * node's formatted log carries the cluster id and every node names the others' controller ports.
 *
 * <p>Node ids run from 1 to {@link #size()}; node {@code i} keeps its log under {@code broker-i/}.
 */
public final class ClusterLayout {

    /** The layout's file under the cluster's data directory. */
    public static final String FILE = "cluster.properties";
    /** Most nodes a rehearsal cluster may have (a controller quorum larger than this buys nothing here). */
    public static final int MAX_NODES = 9;

    private final Path dir;
    private final String clusterId;
    private final int[] clientPorts;
    private final int[] controllerPorts;

    private ClusterLayout(Path dir, String clusterId, int[] clientPorts, int[] controllerPorts) {
        this.dir = dir;
        this.clusterId = clusterId;
        this.clientPorts = clientPorts;
        this.controllerPorts = controllerPorts;
    }

    /**
     * The layout under {@code dir}: read when it exists (then {@code nodes} must match it), else laid out now on
     * free loopback ports and saved.
     *
     * @throws IllegalArgumentException when {@code nodes} is out of range or disagrees with the saved layout
     * @throws IllegalStateException    when the saved layout cannot be read
     */
    public static ClusterLayout loadOrCreate(Path dir, int nodes) {
        if (nodes < 1 || nodes > MAX_NODES) {
            throw new IllegalArgumentException("a cluster has 1.." + MAX_NODES + " brokers, not " + nodes);
        }
        Path abs = dir.toAbsolutePath();
        if (Files.exists(abs.resolve(FILE))) {
            ClusterLayout saved = load(abs);
            if (saved.size() != nodes) {
                throw new IllegalArgumentException("the cluster under " + abs + " was laid out with " + saved.size()
                        + " brokers, not " + nodes + ": use --brokers " + saved.size() + " or another --data-dir");
            }
            return saved;
        }
        try {
            Files.createDirectories(abs);
            Set<Integer> taken = new HashSet<>();
            int[] clients = new int[nodes];
            int[] controllers = new int[nodes];
            for (int i = 0; i < nodes; i++) {
                clients[i] = distinctFreePort(taken);
                controllers[i] = distinctFreePort(taken);
            }
            ClusterLayout layout = new ClusterLayout(abs, Uuid.randomUuid().toString(), clients, controllers);
            layout.save();
            return layout;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lay out a cluster under " + abs, e);
        }
    }

    /**
     * The layout saved under {@code dir}.
     *
     * @throws IllegalStateException when there is none, or it cannot be read
     */
    public static ClusterLayout load(Path dir) {
        Path abs = dir.toAbsolutePath();
        Path file = abs.resolve(FILE);
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (IOException e) {
            throw new IllegalStateException("no readable cluster layout at " + file + ": " + e.getMessage(), e);
        }
        try {
            int nodes = Integer.parseInt(p.getProperty("nodes", ""));
            if (nodes < 1 || nodes > MAX_NODES) {
                throw new IllegalStateException("nodes=" + nodes + " out of range");
            }
            int[] clients = new int[nodes];
            int[] controllers = new int[nodes];
            for (int i = 0; i < nodes; i++) {
                clients[i] = port(p, "node." + (i + 1) + ".client-port");
                controllers[i] = port(p, "node." + (i + 1) + ".controller-port");
            }
            String id = p.getProperty("cluster.id", "");
            Uuid.fromString(id);
            return new ClusterLayout(abs, id, clients, controllers);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new IllegalStateException("the cluster layout " + file + " is damaged: " + e.getMessage(), e);
        }
    }

    private static int port(Properties p, String key) {
        int port = Integer.parseInt(p.getProperty(key, ""));
        if (port < 1 || port > 65_535) {
            throw new IllegalStateException(key + "=" + port + " out of range");
        }
        return port;
    }

    private static int distinctFreePort(Set<Integer> taken) throws IOException {
        while (true) {
            int port = EmbeddedKafka.freePort();
            if (taken.add(port)) {
                return port;
            }
        }
    }

    private void save() throws IOException {
        Properties p = new Properties();
        p.setProperty("nodes", String.valueOf(size()));
        p.setProperty("cluster.id", clusterId);
        for (int id = 1; id <= size(); id++) {
            p.setProperty("node." + id + ".client-port", String.valueOf(clientPort(id)));
            p.setProperty("node." + id + ".controller-port", String.valueOf(controllerPort(id)));
        }
        Path tmp = dir.resolve(FILE + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp)) {
            p.store(w, "callguard cluster layout: written once, read by every start of the cluster and its nodes");
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** How many nodes. */
    public int size() {
        return clientPorts.length;
    }

    /** The cluster's data directory. */
    public Path dir() {
        return dir;
    }

    /** The id every node's log is formatted with. */
    public String clusterId() {
        return clusterId;
    }

    /** Where node {@code id} keeps its log. */
    public Path nodeDir(int id) {
        check(id);
        return dir.resolve("broker-" + id);
    }

    public int clientPort(int id) {
        check(id);
        return clientPorts[id - 1];
    }

    public int controllerPort(int id) {
        check(id);
        return controllerPorts[id - 1];
    }

    /** The controller quorum, {@code 1@127.0.0.1:p1,2@127.0.0.1:p2,...}. */
    public String voters() {
        List<String> out = new ArrayList<>();
        for (int id = 1; id <= size(); id++) {
            out.add(id + "@127.0.0.1:" + controllerPort(id));
        }
        return String.join(",", out);
    }

    /** Every node's client address, {@code 127.0.0.1:p1,127.0.0.1:p2,...}. */
    public String bootstrapServers() {
        List<String> out = new ArrayList<>();
        for (int id = 1; id <= size(); id++) {
            out.add("127.0.0.1:" + clientPort(id));
        }
        return String.join(",", out);
    }

    /** Replicas of the brokers' own internal topics: every node, up to three. */
    public int replicas() {
        return Math.min(3, size());
    }

    private void check(int id) {
        if (id < 1 || id > size()) {
            throw new IllegalArgumentException("no broker " + id + " in a cluster of " + size());
        }
    }
}
