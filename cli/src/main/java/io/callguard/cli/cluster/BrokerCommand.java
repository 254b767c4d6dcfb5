package io.callguard.cli.cluster;

import io.callguard.app.broker.ClusterLayout;
import io.callguard.app.broker.EmbeddedKafka;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code callguard broker}: one node of a cluster laid out by {@code callguard cluster}, in this process, until
 * SIGTERM. {@code cluster} starts one of these per node; a drill that killed one starts it again the same way.
 */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = {"Run one KRaft node (broker and controller) of a rehearsal cluster laid out by `cluster` under "
                + "--data-dir, in the foreground, until SIGTERM. Prints `broker ready: node=I bootstrap=HOST:PORT "
                + "pid=PID` once it serves."})
public final class BrokerCommand implements Callable<Integer> {

    /** The start of the line printed once the node serves. */
    public static final String READY_PREFIX = "broker ready: ";

    @Spec
    CommandSpec spec;

    @Option(names = "--data-dir", required = true, paramLabel = "DIR", description = "The cluster's data directory "
            + "(holding " + ClusterLayout.FILE + ").")
    Path dataDir;

    @Option(names = "--node-id", required = true, paramLabel = "I", description = "Which node, 1..N.")
    int nodeId;

    @Override
    public Integer call() throws Exception {
        ClusterLayout layout = ClusterLayout.load(dataDir);
        EmbeddedKafka node = new EmbeddedKafka(layout, nodeId);
        CountDownLatch stopped = new CountDownLatch(1);
        node.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "callguard-broker-shutdown"));
        spec.commandLine().getOut().println(READY_PREFIX + "node=" + nodeId + " bootstrap=" + node.bootstrapServers()
                + " pid=" + ProcessHandle.current().pid());
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }
}
