package io.callguard.app;

import io.callguard.app.config.AppConfig;
import io.callguard.app.config.GatewayConfig;
import io.callguard.app.warmup.LoopbackLlm;
import io.callguard.app.warmup.WarmupCalls;
import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.egress.EgressConfig;
import io.callguard.ingress.IngressConfig;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.responder.ResponderConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warms a fresh gateway's JVM up before it reports ready, so its first minute of traffic does not meet an
 * interpreter and a JIT compiling under load (BENCHMARKS.md, "Cold start": a cold gateway's first turns were
 * bridged, closed or silent while C2 compiled for a minute).
 *
 * <p>How: a second, private pipeline in the same JVM (a {@link Gateway} of every role on the same broker, under
 * topics {@code __callguard-warmup.<node.id>.*}, its own application id, consumer groups, state directory, HTTP
 * port, API key and socket token) is played by {@link WarmupCalls} over loopback until {@code warmup.turns} turns
 * completed. The code is the same code the real roles run: Jetty's webhook and socket paths, the JSON codecs of
 * frames and records at realistic sizes (transcripts growing to two dozen turns), Kafka produce and consume, the
 * broker's, Kafka Streams' (exactly once) and RocksDB's paths, the responder and its backend, the egress ledger.
 * So the JIT compiles what the first real turns need, and nothing fake reaches a public topic: taps, replay,
 * capacity, dashboards and archives never see a warm-up call, and no warm-up request reaches the real agent
 * backend ({@code openai} talks to a {@link LoopbackLlm}; {@code retell-socket}, whose upstream is someone's
 * server, is replaced by the script backend; operator tools are not offered). Afterwards its topics, groups and
 * directory are deleted.
 *
 * <p>Decisions: a failure of the warm-up never stops the gateway (it is logged at WARN, counted, shown under
 * {@code warmup} in {@code /readyz}, and the gateway starts cold); {@code warmup.timeout-ms} bounds its wait for its
 * pipeline and its traffic (checked between steps; the cleanup after it is not counted). The warm-up runs all roles
 * whatever {@code roles} says: an edge-only node warms the processor's
 * code for nothing, at the price of a few seconds of start.
 */
public final class Warmup {

    private static final Logger LOG = LoggerFactory.getLogger(Warmup.class);
    /** Prefix of the warm-up's topics, application id and groups; never the public prefix. */
    public static final String NAME_PREFIX = "__callguard-warmup";
    /** Gauges: 1 while it runs; turns completed; seconds it took; 1 when it failed. */
    public static final String RUNNING_METRIC = "callguard.warmup.running";
    public static final String TURNS_METRIC = "callguard.warmup.turns";
    public static final String SECONDS_METRIC = "callguard.warmup.seconds";
    public static final String FAILED_METRIC = "callguard.warmup.failed";
    private static final int MAX_PARTITIONS = 2;
    private static final long READY_POLL_MS = 100;

    /** Where the warm-up is. */
    public enum State {
        /** {@code warmup.enabled=false}. */
        OFF,
        /** Not started yet. */
        PENDING,
        RUNNING,
        DONE,
        /** It failed or ran out of time; the gateway started cold. */
        FAILED
    }

    private final GatewayConfig config;
    private final Clock clock;
    private volatile State state;
    private volatile String detail;
    private volatile int turns;
    private volatile double seconds;

    Warmup(GatewayConfig config, Clock clock, MeterRegistry meters) {
        this.config = config;
        this.clock = clock;
        boolean enabled = config.app().warmupEnabled();
        this.state = enabled ? State.PENDING : State.OFF;
        this.detail = enabled ? "not started" : "off (warmup.enabled=false)";
        Gauge.builder(RUNNING_METRIC, this, w -> w.state == State.RUNNING ? 1 : 0)
                .description("1 while the JIT warm-up runs, before the gateway reports ready").register(meters);
        Gauge.builder(TURNS_METRIC, this, w -> w.turns).description("Turns the warm-up played").register(meters);
        Gauge.builder(SECONDS_METRIC, this, w -> w.seconds).description("How long the warm-up took")
                .baseUnit("seconds").register(meters);
        Gauge.builder(FAILED_METRIC, this, w -> w.state == State.FAILED ? 1 : 0)
                .description("1 when the warm-up failed and the gateway started cold").register(meters);
    }

    public State state() {
        return state;
    }

    /** A sentence for {@code /readyz}: what it did or is doing. */
    public String detail() {
        return detail;
    }

    /** Turns the warm-up completed. */
    public int turns() {
        return turns;
    }

    /** True once the warm-up no longer holds readiness back: off, done, or failed (then the gateway starts cold). */
    public boolean finished() {
        return state != State.PENDING && state != State.RUNNING;
    }

    /**
     * Runs the warm-up against the broker at {@code bootstrapServers}, blocking until it is over. Never throws:
     * a failure is logged, counted and reported, and the gateway goes on cold.
     */
    void run(String bootstrapServers) {
        if (state != State.PENDING) {
            return;
        }
        long started = System.nanoTime();
        long deadline = started + TimeUnit.MILLISECONDS.toNanos(config.app().warmupTimeoutMs());
        state = State.RUNNING;
        detail = "running";
        Path dir = config.app().dataDir().resolve("warmup");
        GatewayConfig warm = null;
        WarmupCalls calls = null;
        LoopbackLlm llm = null;
        Gateway pipeline = null;
        try {
            deleteTree(dir);
            llm = needsLoopbackLlm(config) ? LoopbackLlm.start() : null;
            warm = warmupConfig(config, bootstrapServers, dir, llm == null ? null : llm.url().toString());
            LOG.info("warm-up: {} turns on {} calls at once, on private topics {}* (at most {} ms)",
                    config.app().warmupTurns(), config.app().warmupCalls(), warm.common().topics().prefix(),
                    config.app().warmupTimeoutMs());
            pipeline = new Gateway(warm, clock).start();
            awaitReady(pipeline, deadline);
            calls = new WarmupCalls(pipeline.httpUri(), warm.ingress().getPassword(IngressConfig.RETELL_API_KEY_CONFIG)
                    .value(), warm.socketToken(), config.app().warmupCalls(), config.app().warmupTurns(), deadline);
            calls.run();
            turns = calls.completed();
            seconds = (System.nanoTime() - started) / 1e9;
            detail = String.format(java.util.Locale.ROOT, "%d turns in %.1f s%s", turns, seconds,
                    turns < config.app().warmupTurns() ? " (stopped at warmup.timeout-ms)" : "");
            state = State.DONE;
            LOG.info("warm-up done: {}", detail);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed(started, calls, "interrupted");
        } catch (Exception | Error e) {
            failed(started, calls, e.toString());
        } finally {
            if (pipeline != null) {
                pipeline.close();
            }
            if (llm != null) {
                llm.close();
            }
            if (warm != null) {
                deletePipeline(bootstrapServers, warm);
            }
            try {
                deleteTree(dir);
            } catch (IOException e) {
                LOG.warn("warm-up: could not delete {}: {}", dir, e.toString());
            }
        }
    }

    private void failed(long started, WarmupCalls calls, String why) {
        turns = calls == null ? 0 : calls.completed();
        seconds = (System.nanoTime() - started) / 1e9;
        detail = "failed after " + turns + " turns, starting cold: " + why;
        state = State.FAILED;
        LOG.warn("warm-up {}", detail);
    }

    private static void awaitReady(Gateway pipeline, long deadline) throws InterruptedException {
        while (!Boolean.TRUE.equals(pipeline.readiness().get("ready"))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the warm-up pipeline was not ready within warmup.timeout-ms: "
                        + pipeline.readiness().get("checks"));
            }
            Thread.sleep(READY_POLL_MS);
        }
    }

    private static boolean needsLoopbackLlm(GatewayConfig config) {
        return ResponderConfig.BACKEND_OPENAI.equals(config.raw().get(ResponderConfig.AGENT_BACKEND_CONFIG))
                || ResponderConfig.BACKEND_OPENAI.equals(config.raw().get(ResponderConfig.FALLBACK_BACKEND_CONFIG));
    }

    /**
     * The private pipeline's configuration: the real one with every name, port, secret and directory its own, the
     * broker the real one's, and every backend that would leave the machine replaced by a loopback one.
     *
     * @param llmUrl the {@link LoopbackLlm}'s URL, when an openai backend is configured
     */
    static GatewayConfig warmupConfig(GatewayConfig real, String bootstrapServers, Path dir, String llmUrl) {
        String node = real.nodeId().replaceAll("[^a-zA-Z0-9._-]", "_");
        String name = NAME_PREFIX + "-" + node;
        Set<String> known = GatewayConfig.definition().names();
        Map<String, String> o = new LinkedHashMap<>();
        o.put(CommonConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        o.put(CommonConfig.NODE_ID_CONFIG, real.nodeId() + "-warmup");
        o.put(CommonConfig.TOPICS_PREFIX_CONFIG, NAME_PREFIX + "." + node + ".");
        o.put(CommonConfig.TOPICS_PARTITIONS_CONFIG,
                String.valueOf(Math.min(MAX_PARTITIONS, real.common().partitions())));
        o.put(AppConfig.DATA_DIR_CONFIG, dir.toString());
        o.put(AppConfig.ROLES_CONFIG, String.join(",", AppConfig.ALL_ROLES));
        o.put(AppConfig.ADVERTISED_HOST_CONFIG, "127.0.0.1");
        o.put(AppConfig.WARMUP_ENABLED_CONFIG, "false");
        o.put(IngressConfig.HTTP_HOST_CONFIG, "127.0.0.1");
        o.put(IngressConfig.HTTP_PORT_CONFIG, "0");
        // Its own admin listener too: the real one holds admin.port (8081 by default) while this runs.
        o.put(IngressConfig.ADMIN_HOST_CONFIG, "127.0.0.1");
        o.put(IngressConfig.ADMIN_PORT_CONFIG, "0");
        o.put(IngressConfig.ADMIN_TOKEN_CONFIG, UUID.randomUUID().toString());
        o.put(IngressConfig.RETELL_API_KEY_CONFIG, UUID.randomUUID().toString());
        o.put(IngressConfig.WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG, "false");
        o.put(IngressConfig.SOCKET_TOKEN_CONFIG, UUID.randomUUID().toString());
        o.put(ProcessorConfig.APPLICATION_ID_CONFIG, name);
        o.put(ProcessorConfig.STATE_DIR_CONFIG, dir.resolve("streams").toString());
        o.put(ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_CONFIG, "100000");
        o.put(ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, "0");
        o.put(ResponderConfig.GROUP_ID_CONFIG, name + "-responder");
        o.put(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "");
        o.put(EgressConfig.DIALOUT_ENABLED_CONFIG, "false");
        for (String prefix : List.of("agent.", ResponderConfig.FALLBACK_PREFIX)) {
            String backend = real.raw().getOrDefault(prefix + "backend",
                    prefix.equals("agent.") ? ResponderConfig.BACKEND_SCRIPT : ResponderConfig.BACKEND_NONE);
            if (ResponderConfig.BACKEND_OPENAI.equals(backend)) {
                o.put(prefix + "openai.url", llmUrl);
                o.put(prefix + "openai.api-key", "");
            } else if (ResponderConfig.BACKEND_RETELL_SOCKET.equals(backend)) {
                o.put(prefix + "backend", ResponderConfig.BACKEND_SCRIPT);
            }
            // The script backend's injected faults and delays would only slow the warm-up down.
            for (String fault : List.of("delay-ms", "failure-rate", "hang-rate", "stall-rate",
                    "first-chunk-median-ms", "first-chunk-p99-ms", "chunk-gap-ms")) {
                if (known.contains(prefix + "script." + fault)) {
                    o.put(prefix + "script." + fault, "0");
                }
            }
        }
        return real.with(o);
    }

    /** Deletes the warm-up's topics (its own and its Kafka Streams internals) and consumer groups. */
    private static void deletePipeline(String bootstrapServers, GatewayConfig warm) {
        String appId = warm.processor().applicationId();
        String prefix = warm.common().topics().prefix();
        try (Admin admin = Admin.create(new KafkaClients(bootstrapServers, warm.nodeId()).admin("callguard-warmup"))) {
            List<String> topics = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> t.startsWith(prefix) || t.startsWith(appId + "-")).sorted().toList();
            admin.deleteTopics(topics).all().get(30, TimeUnit.SECONDS);
            List<String> groups = List.of(appId, warm.responder().groupId());
            Set<String> present = admin.listGroups().all().get(30, TimeUnit.SECONDS).stream()
                    .map(g -> g.groupId()).collect(java.util.stream.Collectors.toSet());
            List<String> ours = groups.stream().filter(present::contains).toList();
            if (!ours.isEmpty()) {
                admin.deleteConsumerGroups(ours).all().get(30, TimeUnit.SECONDS);
            }
            LOG.info("warm-up: deleted its {} topics and {} groups", topics.size(), ours.size());
        } catch (Exception e) {
            LOG.warn("warm-up: could not delete its topics or groups (prefixes {} and {}-): {}", prefix, appId,
                    e.toString());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
