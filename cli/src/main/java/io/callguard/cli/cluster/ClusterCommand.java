package io.callguard.cli.cluster;

import io.callguard.app.broker.ClusterLayout;
import io.callguard.cli.drill.DrillCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code callguard cluster}: a real N-node KRaft cluster on loopback, each node (broker and controller) in its own
 * process, for rehearsals and chaos drills; production clusters are the users' own.
 *
 * <p>The layout (cluster id, ports) is fixed under the data directory at the first start, so a second start, or a
 * node started again after a kill, finds its formatted log and its peers. One line is printed once every node
 * serves: {@code cluster ready: bootstrap=127.0.0.1:P1,... pids=PID1,...}, the nodes' own process ids, so a drill
 * can {@code kill -9} one. A node that exits is reported ({@code broker I exited (code C)}) and, with
 * {@code --restart-after}, started again after that long ({@code broker I restarted: pid=P}). SIGTERM stops every
 * node (SIGTERM to each, then SIGKILL after 30 s).
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Start a rehearsal Kafka cluster of N KRaft nodes on loopback, each in its own process, under "
                + "--data-dir; stays in the foreground until SIGTERM. Prints `cluster ready: bootstrap=... pids=...`."})
public final class ClusterCommand implements Callable<Integer> {

    /** The start of the line printed once every node serves. */
    public static final String READY_PREFIX = "cluster ready: ";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    @Spec
    CommandSpec spec;

    @Option(names = "--brokers", defaultValue = "3", paramLabel = "N",
            description = "Nodes (default ${DEFAULT-VALUE}); fixed at the first start under a data dir.")
    int brokers;

    @Option(names = "--data-dir", defaultValue = "cluster", paramLabel = "DIR",
            description = "Where the layout and every node's log live (default ./${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--restart-after", paramLabel = "D", description = {"Start a node that exited (killed, crashed) "
            + "again after this long, e.g. 5s (default: not restarted; the cluster goes on without it)."})
    String restartAfter;

    @Option(names = "--broker-java-opts", defaultValue = "-Xmx768m -XX:+UseG1GC", paramLabel = "OPTS",
            description = "JVM options of each node's process (default: ${DEFAULT-VALUE}).")
    String brokerJavaOpts;

    private final List<Node> nodes = new ArrayList<>();
    private final CountDownLatch stopping = new CountDownLatch(1);

    /** One node's process, replaced when it is restarted. */
    private static final class Node {
        final int id;
        volatile Process process;
        volatile long exitedAtNanos;

        Node(int id) {
            this.id = id;
        }
    }

    @Override
    public Integer call() throws Exception {
        ClusterLayout layout = ClusterLayout.loadOrCreate(dataDir, brokers);
        Duration restart = restartAfter == null ? null : DrillCommand.parse(restartAfter);
        PrintWriter out = spec.commandLine().getOut();
        Runtime.getRuntime().addShutdownHook(new Thread(this::stopAll, "callguard-cluster-shutdown"));
        for (int id = 1; id <= layout.size(); id++) {
            Node node = new Node(id);
            nodes.add(node);
            node.process = launch(layout, id);
        }
        awaitServing(layout);
        List<String> pids = nodes.stream().map(n -> String.valueOf(n.process.pid())).toList();
        out.println(READY_PREFIX + "bootstrap=" + layout.bootstrapServers() + " pids=" + String.join(",", pids));
        out.flush();
        supervise(layout, restart, out);
        return 0;
    }

    private Process launch(ClusterLayout layout, int id) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        for (String opt : brokerJavaOpts.trim().split("\\s+")) {
            if (!opt.isEmpty()) {
                command.add(opt);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.callguard.cli.Main", "broker",
                "--data-dir", layout.dir().toString(), "--node-id", String.valueOf(id)));
        Path dir = layout.nodeDir(id);
        Files.createDirectories(dir);
        Path log = dir.resolve("broker.log");
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /** Waits until every node is registered with the quorum and serves clients; fails on a node that died. */
    private void awaitServing(ClusterLayout layout) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, layout.bootstrapServers());
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "callguard-cluster");
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        try (Admin admin = Admin.create(props)) {
            while (true) {
                for (Node node : nodes) {
                    if (!node.process.isAlive()) {
                        throw new IllegalStateException("broker " + node.id + " exited with code "
                                + node.process.exitValue() + " while starting; see " + layout.nodeDir(node.id)
                                .resolve("broker.log"));
                    }
                }
                try {
                    int serving = admin.describeCluster(new DescribeClusterOptions().timeoutMs(2_000)).nodes()
                            .get(3, TimeUnit.SECONDS).size();
                    if (serving == layout.size()) {
                        return;
                    }
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    // Not serving yet: ask again.
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the cluster did not serve within " + READY_TIMEOUT.toSeconds()
                            + " s; see the broker.log files under " + layout.dir());
                }
                stopping.await(200, TimeUnit.MILLISECONDS);
            }
        }
    }

    private void supervise(ClusterLayout layout, Duration restart, PrintWriter out) throws Exception {
        while (!stopping.await(200, TimeUnit.MILLISECONDS)) {
            for (Node node : nodes) {
                Process p = node.process;
                if (p.isAlive()) {
                    continue;
                }
                long now = System.nanoTime();
                if (node.exitedAtNanos == 0) {
                    node.exitedAtNanos = now;
                    out.println("broker " + node.id + " exited (code " + p.exitValue() + ")");
                    out.flush();
                }
                if (restart != null && now - node.exitedAtNanos >= restart.toNanos()) {
                    synchronized (this) {
                        if (stopping.getCount() == 0) {
                            return;
                        }
                        node.process = launch(layout, node.id);
                    }
                    node.exitedAtNanos = 0;
                    out.println("broker " + node.id + " restarted: pid=" + node.process.pid());
                    out.flush();
                }
            }
        }
    }

    private void stopAll() {
        synchronized (this) {
            stopping.countDown();
        }
        for (Node node : nodes) {
            node.process.destroy();
        }
        long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
        for (Node node : nodes) {
            try {
                long left = Math.max(0, deadline - System.nanoTime());
                if (!node.process.waitFor(left, TimeUnit.NANOSECONDS)) {
                    node.process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                node.process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
