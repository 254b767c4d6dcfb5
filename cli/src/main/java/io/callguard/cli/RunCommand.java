package io.callguard.cli;

import io.callguard.app.Gateway;
import io.callguard.app.config.AppConfig;
import io.callguard.app.config.ConfigDocs;
import io.callguard.app.config.ConfigSources;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.baseline.DirectBaseline;
import io.callguard.common.CommonConfig;
import io.callguard.ingress.IngressConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code callguard run}: starts the gateway and keeps it running until SIGTERM or Ctrl-C. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Start the gateway: with no bootstrap servers, on an embedded Kafka broker under the data dir.",
            "Configuration, in rising precedence: defaults, --config FILE, CALLGUARD_* environment variables "
                    + "(and RETELL_API_KEY), --set key=value, the named flags."})
public final class RunCommand implements Callable<Integer> {

    /** The exit code of a start refused with a message ({@code IllegalStateException} from the gateway). */
    static final int EXIT_CANNOT_START = 1;

    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "A Java properties file of configuration keys.")
    Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set any configuration key (repeatable).")
    Map<String, String> sets = new LinkedHashMap<>();

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...",
            description = "An existing Kafka cluster; no embedded broker is started (key bootstrap.servers).")
    String bootstrapServers;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory (key data.dir, default ./data).")
    String dataDir;

    @Option(names = "--roles", paramLabel = "ROLE,...", description = "Roles to run: ingress, processor, egress "
            + "(key roles, default all).")
    String roles;

    @Option(names = "--http-port", paramLabel = "PORT", description = "Public HTTP port, the one Retell reaches "
            + "(key http.port, default 8080).")
    Integer httpPort;

    @Option(names = "--admin-port", paramLabel = "PORT", description = "Admin HTTP port: metrics, dashboard, call "
            + "state (key admin.port, default 8081).")
    Integer adminPort;

    @Option(names = "--http-host", paramLabel = "HOST", description = "HTTP bind address (key http.host, "
            + "default 127.0.0.1).")
    String httpHost;

    @Option(names = "--retell-api-key", paramLabel = "KEY", description = "Retell API key that signs webhooks "
            + "(key retell.api-key; or RETELL_API_KEY).")
    String retellApiKey;

    @Option(names = "--insecure-skip-signature", description = "Accept unsigned webhooks. For local trials only.")
    boolean insecureSkipSignature;

    @Option(names = "--bench-baseline", description = "Benchmark baseline only: answer turns at the edge socket "
            + "straight from the script backend, with no Kafka, responder or watchdog, to measure what the pipeline "
            + "costs. Never in production.")
    boolean benchBaseline;

    private static final java.time.Duration READY_TIMEOUT = java.time.Duration.ofSeconds(120);

    private final CountDownLatch stopped = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        GatewayConfig config = GatewayConfig.load(new ConfigSources(configFile, System.getenv(), sets, namedFlags()));
        LoggingSetup.apply(config.app().logFormat());
        Gateway gateway = new Gateway(config, Clock.systemUTC());
        DirectBaseline baseline = benchBaseline
                ? new DirectBaseline(config.ingress().socketGreeting(), config.responder()) : null;
        if (baseline != null) {
            gateway.withSocketFrames(baseline);
        }
        long shutdownTimeoutMs = config.app().shutdownTimeoutMs();
        Thread hook = new Thread(() -> {
            LOG.info("stopping callguard: draining for at most {} ms, stopping within {} ms",
                    config.app().shutdownDrainTimeoutMs(), shutdownTimeoutMs);
            // The gateway's close is the drain and the stop; the JVM exits when this hook returns, so it bounds them.
            Thread stop = new Thread(() -> {
                gateway.close();
                if (baseline != null) {
                    baseline.close();
                }
            }, "callguard-stop");
            stop.setDaemon(true);
            stop.start();
            try {
                stop.join(shutdownTimeoutMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (stop.isAlive()) {
                LOG.warn("not stopped within {} ({} ms): exiting anyway", AppConfig.SHUTDOWN_TIMEOUT_MS_CONFIG,
                        shutdownTimeoutMs);
            }
            stopped.countDown();
        }, "callguard-shutdown");
        try {
            gateway.start();
        } catch (RuntimeException | Error e) {
            if (baseline != null) {
                baseline.close();
            }
            if (e instanceof IllegalStateException) {
                // A start refused for a reason the message names (a topic's record limit, the token file, a broker
                // that does not answer): the message, not a stack trace; the trace at debug.
                LOG.debug("start failed", e);
                spec.commandLine().getErr().println("callguard: cannot start: " + e.getMessage());
                return EXIT_CANNOT_START;
            }
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(hook);
        awaitReady(gateway);
        spec.commandLine().getOut().println(gateway.readyLine());
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }

    /** Waits, bounded, until {@code /readyz} would say ready, so the ready line means what it says. */
    private static void awaitReady(Gateway gateway) throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Map<String, Object> readiness = gateway.readiness();
        while (!Boolean.TRUE.equals(readiness.get("ready")) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            readiness = gateway.readiness();
        }
        if (!Boolean.TRUE.equals(readiness.get("ready"))) {
            LOG.warn("not ready after {} s: {}", READY_TIMEOUT.toSeconds(), readiness.get("checks"));
        }
    }

    private Map<String, String> namedFlags() {
        Map<String, String> flags = new LinkedHashMap<>();
        if (bootstrapServers != null) {
            flags.put(CommonConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
        if (dataDir != null) {
            flags.put(AppConfig.DATA_DIR_CONFIG, dataDir);
        }
        if (roles != null) {
            flags.put(AppConfig.ROLES_CONFIG, roles);
        }
        if (httpPort != null) {
            flags.put(IngressConfig.HTTP_PORT_CONFIG, String.valueOf(httpPort));
        }
        if (adminPort != null) {
            flags.put(IngressConfig.ADMIN_PORT_CONFIG, String.valueOf(adminPort));
        }
        if (httpHost != null) {
            flags.put(IngressConfig.HTTP_HOST_CONFIG, httpHost);
        }
        if (retellApiKey != null) {
            flags.put(IngressConfig.RETELL_API_KEY_CONFIG, retellApiKey);
        }
        if (insecureSkipSignature) {
            flags.put(IngressConfig.WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG, "true");
        }
        return flags;
    }

    /** The usage footer: every configuration key with its default, generated from the declarations. */
    static String keysFooter() {
        return "%nConfiguration keys:%n" + ConfigDocs.helpText(GatewayConfig.definition()).replace("%", "%%");
    }
}
