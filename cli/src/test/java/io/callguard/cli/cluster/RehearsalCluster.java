package io.callguard.cli.cluster;

import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code callguard cluster --brokers 3} started by the packaged jar for a test, as an operator starts it: its process,
 * what it printed, and the bootstrap servers and node pids of its ready line. Closing it kills the command and its
 * nodes with SIGKILL (a test that wants SIGTERM sends it to {@link #process()}).
 */
public final class RehearsalCluster implements AutoCloseable {

    private static final Path JAR = Path.of("target", "callguard.jar").toAbsolutePath();
    private static final Pattern READY = Pattern.compile("cluster ready: bootstrap=(\\S+) pids=(\\S+)");

    private final Process process;
    private final List<String> lines;
    private final String bootstrap;
    private final List<Long> pids;

    private RehearsalCluster(Process process, List<String> lines, String bootstrap, List<Long> pids) {
        this.process = process;
        this.lines = lines;
        this.bootstrap = bootstrap;
        this.pids = pids;
    }

    /**
     * Starts three nodes under {@code dataDir} (the same dir: the same cluster again), each restarted
     * {@code restartAfter} after it exits, and waits for the ready line; stderr is appended to {@code stderrLog}.
     */
    public static RehearsalCluster start(Path dataDir, Path stderrLog, String restartAfter) {
        Process p;
        try {
            p = new ProcessBuilder(java(), "-jar", JAR.toString(), "cluster", "--brokers", "3", "--data-dir",
                    dataDir.toString(), "--restart-after", restartAfter, "--broker-java-opts", "-Xmx384m")
                    .redirectError(ProcessBuilder.Redirect.appendTo(stderrLog.toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the cluster command", e);
        }
        List<String> lines = follow(p, "cluster-stdout");
        await().atMost(Duration.ofSeconds(180)).until(() -> !p.isAlive()
                || lines.stream().anyMatch(l -> READY.matcher(l).matches()));
        Matcher m = lines.stream().map(READY::matcher).filter(Matcher::matches).findFirst()
                .orElseThrow(() -> {
                    p.destroyForcibly();
                    return new AssertionError("no ready line; printed " + lines + "; stderr in " + stderrLog);
                });
        return new RehearsalCluster(p, lines, m.group(1),
                Arrays.stream(m.group(2).split(",")).map(Long::parseLong).toList());
    }

    /** Collects what a process prints on stdout, line by line, on a daemon thread, into the list returned. */
    public static List<String> follow(Process p, String name) {
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // The process ended.
            }
        }, name);
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    /** Kills a process and every process it started, with SIGKILL, and waits for it. */
    public static void killTree(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
    }

    public Process process() {
        return process;
    }

    /** Everything the command printed so far (exits and restarts of nodes included). */
    public List<String> lines() {
        return lines;
    }

    public String bootstrap() {
        return bootstrap;
    }

    /** The nodes' own process ids, in node order. */
    public List<Long> pids() {
        return pids;
    }

    @Override
    public void close() throws InterruptedException {
        killTree(process);
    }

    /** The java binary this JVM runs on, for the processes a test starts. */
    public static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}
