package io.callguard.app;

import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.app.config.AppConfig;
import io.callguard.app.config.GatewayConfig;
import io.callguard.app.dashboard.Dashboard;
import io.callguard.retell.socket.SocketFrames;
import io.callguard.egress.EgressRole;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.ingress.HttpReply;
import io.callguard.ingress.IngressServer;
import io.callguard.ingress.LlmSocketProtocol;
import io.callguard.processor.ProcessorRole;
import io.callguard.processor.responder.ResponderRole;
import io.callguard.processor.responder.ScriptBackend;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.RecordSchemas;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One callguard instance: the embedded broker when no cluster is configured, the topics, and the roles
 * asked for, started in dependency order and stopped in reverse.
 *
 * <p>Order: broker, topics, egress (delivery and the edge watchdog), the HTTP server with the webhook and
 * socket endpoints, then the processor (Kafka Streams) and the responder, which need the HTTP address to
 * advertise for interactive queries.
 */
public final class Gateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
    private static final long ADMIN_TIMEOUT_MS = 30_000;
    private static final long READY_CHECK_TIMEOUT_MS = 2_000;

    private final GatewayConfig config;
    private final Clock clock;
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Deque<AutoCloseable> started = new ArrayDeque<>();
    private final SeenCalls seenCalls = new SeenCalls(100_000);
    private EmbeddedKafka broker;
    private String bootstrapServers;
    private Admin admin;
    private KafkaProducer<String, byte[]> producer;
    private EgressRole egress;
    private ProcessorRole processor;
    private ResponderRole responder;
    private IngressServer http;
    private Dashboard dashboard;
    private QueryRoutes queries;
    private volatile boolean httpStarted;

    public Gateway(GatewayConfig config, Clock clock) {
        this.config = config;
        this.clock = clock;
    }

    /**
     * Starts everything; on failure stops what was started and rethrows.
     *
     * @return this gateway, started
     */
    public synchronized Gateway start() {
        try {
            doStart();
            return this;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private void doStart() {
        AppConfig app = config.app();
        Path dataDir = app.dataDir();
        Topics topics = config.common().topics();
        try {
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the data dir " + dataDir + ": " + e.getMessage(), e);
        }
        bindJvmMetrics();
        RecordSchemas.warmUp();

        bootstrapServers = config.common().bootstrapServers();
        if (bootstrapServers.isEmpty()) {
            broker = new EmbeddedKafka(dataDir, app.brokerPort());
            broker.start();
            started.push(broker);
            bootstrapServers = broker.bootstrapServers();
        }

        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.CLIENT_ID_CONFIG, "callguard-admin-" + config.nodeId()));
        started.push(() -> admin.close(Duration.ofSeconds(2)));
        TopicBootstrap.ensure(admin, topics, config.common().partitions(), config.common().replicationFactor(),
                config.responder().cacheTtlMs(), ADMIN_TIMEOUT_MS);

        boolean runsIngress = app.runs(AppConfig.ROLE_INGRESS);
        if (runsIngress && !app.runs(AppConfig.ROLE_EGRESS)) {
            LOG.warn("roles has ingress without egress: sockets opened here get no answers and no watchdog fallback; "
                    + "run ingress and egress together on edge nodes");
        }

        // Dial-out sockets feed the same frame path as dial-in ones; the path exists once the server is built.
        AtomicReference<LlmSocketProtocol> framePath = new AtomicReference<>();
        if (app.runs(AppConfig.ROLE_EGRESS)) {
            egress = new EgressRole(config.egress(), config.common(), bootstrapServers, topics, meters, clock,
                    config.egress().dialOutEnabled() ? forwardingFrames(framePath) : null);
            egress.start();
            started.push(egress);
        }

        if (runsIngress) {
            producer = new KafkaProducer<>(producerConfig(), new StringSerializer(), new ByteArraySerializer());
            KafkaClientMetrics producerMetrics = new KafkaClientMetrics(producer);
            producerMetrics.bindTo(meters);
            // Bounded: close() alone would wait forever for records a stopped broker never acknowledges.
            started.push(() -> producer.close(Duration.ofSeconds(3)));
            started.push(producerMetrics);
        }
        http = new IngressServer(config.ingress(), topics, producer, meters, clock, config.nodeId());
        if (runsIngress) {
            http.withSockets(egress != null ? egress.edgeListener() : EdgeListener.NONE, this::beginText);
            http.socketProtocol().ifPresent(framePath::set);
            if (app.benchDirectAtEdge()) {
                ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "callguard-bench-direct");
                    t.setDaemon(true);
                    return t;
                });
                started.push(timers::shutdownNow);
                DirectBaseline baseline = new DirectBaseline(
                        new ScriptBackend(config.responder(), timers, new SplittableRandom(1)));
                http.socketProtocol().ifPresent(p -> p.answerDirectly(baseline));
            }
        }
        queries = new QueryRoutes(this::processorOrNull, config.processor(), config.common().partitions());
        dashboard = new Dashboard(meters, clock, bootstrapServers, topics, queries::capacityTotal);
        http.route("GET", "/healthz", q -> {
            Map<String, Object> liveness = liveness();
            return HttpReply.json("up".equals(liveness.get("status")) ? 200 : 503, liveness);
        });
        http.route("GET", "/readyz", q -> {
            Map<String, Object> readiness = readiness();
            return HttpReply.json(Boolean.TRUE.equals(readiness.get("ready")) ? 200 : 503, readiness);
        });
        http.route("GET", "/metrics", q -> new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8",
                meters.scrape().getBytes(StandardCharsets.UTF_8)));
        http.route("GET", "/calls/", queries::call);
        http.route("GET", "/capacity", queries::capacity);
        http.route("GET", "/dashboard", q -> HttpReply.json(200, dashboard.snapshot()));
        byte[] page = resource("/io/callguard/app/dashboard/index.html");
        http.route("GET", "/", q -> new HttpReply(200, "text/html; charset=utf-8", page));
        http.start();
        started.push(http);
        httpStarted = true;

        if (app.runs(AppConfig.ROLE_PROCESSOR)) {
            Path stateDir = config.processor().stateDir().isEmpty() ? dataDir.resolve("streams")
                    : Path.of(config.processor().stateDir());
            processor = new ProcessorRole(config.processor(), bootstrapServers, topics, stateDir, meters,
                    advertisedHost() + ":" + http.port());
            processor.start();
            started.push(processor);
            responder = new ResponderRole(config.responder(), config.common(), bootstrapServers, topics, meters, clock);
            responder.start();
            started.push(responder);
        }
        dashboard.start();
        started.push(dashboard);
        if (egress != null) {
            egress.dialOut().ifPresent(client -> {
                DialOutTrigger trigger = new DialOutTrigger(client, bootstrapServers, topics,
                        config.processor().applicationId() + "-dialout");
                trigger.start();
                started.push(trigger);
            });
        }
    }

    /**
     * The begin message of a socket: the busy line for a call refused for capacity, nothing for a call
     * that already had turns (a reconnect must not greet the caller again), else the greeting.
     */
    private String beginText(String callId) {
        Optional<CallState> state = processor == null ? Optional.empty() : processor.callState(callId);
        if (state.isPresent() && state.get().status() == CallStatus.REJECTED) {
            return config.processor().busyMessage();
        }
        boolean hadTurns = state.map(s -> s.latestResponseId() != null && s.latestResponseId() > 0).orElse(false);
        return seenCalls.firstTime(callId) && !hadTurns ? null : "";
    }

    private static SocketFrames forwardingFrames(AtomicReference<LlmSocketProtocol> target) {
        return new SocketFrames() {
            @Override
            public void opened(CallSocket socket) {
                target.get().opened(socket);
            }

            @Override
            public void text(CallSocket socket, String frame) {
                target.get().text(socket, frame);
            }

            @Override
            public void closed(CallSocket socket, int code, String reason) {
                target.get().closed(socket, code, reason);
            }
        };
    }

    private void bindJvmMetrics() {
        // Prometheus refuses a second meter of a name with other tag keys; Micrometer then drops it silently.
        meters.config().onMeterRegistrationFailed((id, reason) ->
                LOG.warn("metric {} {} is not exported: {}", id.getName(), id.getTags(), reason));
        new JvmMemoryMetrics().bindTo(meters);
        new JvmThreadMetrics().bindTo(meters);
        new ProcessorMetrics().bindTo(meters);
        new UptimeMetrics().bindTo(meters);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(meters);
        started.push(gc);
    }

    private String advertisedHost() {
        String configured = config.app().advertisedHost();
        if (!configured.isBlank()) {
            return configured;
        }
        String host = config.ingress().httpHost();
        if (!host.equals("0.0.0.0") && !host.equals("::") && !host.isBlank()) {
            return host;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    private ProcessorRole processorOrNull() {
        return processor;
    }

    private static byte[] resource(String name) {
        try (InputStream in = Gateway.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + name, e);
        }
    }

    private Map<String, Object> producerConfig() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "callguard-ingress-" + config.nodeId());
        // Acknowledge only what is durable: all in-sync replicas, no duplicates from producer retries.
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 2_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        // A webhook body at its size limit, wrapped in its envelope (or base64 in a dead letter), must fit.
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TopicBootstrap.MAX_MESSAGE_BYTES);
        return p;
    }

    /**
     * Readiness ({@code GET /readyz}, Kubernetes meaning: may this instance take traffic now?). Ready only when
     * the broker answers, Kafka Streams is exactly RUNNING (not REBALANCING: in Kafka 4 a client restoring its
     * stores from their changelogs reports REBALANCING until every active task is restored, so a restoring
     * instance is not ready), the responder has its partitions, the egress follows every responses partition, and the HTTP
     * and socket endpoints are up. Each check says what is wrong.
     */
    public Map<String, Object> readiness() {
        Map<String, Object> checks = new LinkedHashMap<>();
        boolean ready = true;
        try {
            int nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) READY_CHECK_TIMEOUT_MS))
                    .nodes().get(READY_CHECK_TIMEOUT_MS, TimeUnit.MILLISECONDS).size();
            ready &= check(checks, "broker", nodes > 0, nodes + " broker(s) reachable at " + bootstrapServers);
        } catch (Exception e) {
            ready &= check(checks, "broker", false, "unreachable at " + bootstrapServers + ": " + e);
        }
        if (processor != null) {
            String state = String.valueOf(processor.state());
            boolean running = "RUNNING".equals(state);
            ready &= check(checks, "streams", running, "state " + state + (running ? ""
                    : "REBALANCING".equals(state) ? " (rebalancing or restoring state stores)" : " (not RUNNING)"));
        }
        if (responder != null) {
            boolean joined = responder.hasJoinedGroup();
            ready &= check(checks, "responder", joined, joined ? "polling, partitions assigned"
                    : responder.isRunning() ? "polling, not yet assigned its partitions" : "not running");
        }
        if (egress != null) {
            boolean following = egressReady();
            ready &= check(checks, "egress", following, following ? "following every responses partition"
                    : "not yet positioned on every responses partition (answers could be missed)");
        }
        boolean httpUp = httpStarted && http.isRunning();
        ready &= check(checks, "http", httpUp, httpUp ? "listening on " + http.uri() : "not started or stopped");
        if (http.socketProtocol().isPresent()) {
            ready &= check(checks, "socket", httpUp, "llm-websocket " + (httpUp ? "accepting" : "down"));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("ready", ready);
        out.put("node", config.nodeId());
        out.put("checks", checks);
        return out;
    }

    private boolean egressReady() {
        try {
            return egress.awaitReady(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Liveness ({@code GET /healthz}, Kubernetes meaning: would a restart help?). Only what a restart cures
     * fails it: Kafka Streams in ERROR or PENDING_ERROR (every stream thread died), or the responder's poll
     * thread gone while the gateway runs. A broker outage does not: restarting would not bring the broker back.
     */
    public Map<String, Object> liveness() {
        Map<String, Object> checks = new LinkedHashMap<>();
        boolean live = true;
        boolean running = httpStarted;
        if (processor != null && running) {
            String state = String.valueOf(processor.state());
            boolean failed = processor.hasFailed();
            live &= check(checks, "streams", !failed, "state " + state + (failed ? " (every stream thread died)" : ""));
        }
        if (responder != null && running) {
            live &= check(checks, "responder", responder.isRunning(),
                    responder.isRunning() ? "polling" : "poll thread stopped");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("status", live ? "up" : "down");
        out.put("node", config.nodeId());
        out.put("checks", checks);
        return out;
    }

    private static boolean check(Map<String, Object> checks, String name, boolean ok, String detail) {
        checks.put(name, Map.of("ok", ok, "detail", detail));
        return ok;
    }

    /**
     * The single line printed on stdout once the gateway is ready. It carries the socket token only when
     * it was generated for this run, since nobody else knows it.
     */
    public String readyLine() {
        String line = "callguard ready: " + httpUri() + " broker=" + bootstrapServers
                + (broker != null ? " (embedded)" : "") + " data=" + config.app().dataDir()
                + " roles=" + String.join(",", config.app().roles().stream().sorted().toList())
                + " node=" + config.nodeId();
        if (http.socketProtocol().isPresent()) {
            String ws = httpUri().toString().replaceFirst("^http", "ws") + "llm-websocket/{call_id}";
            line += " socket=" + ws + (config.socketTokenGenerated() ? "?token=" + config.socketToken()
                    : "?token=<socket.token>");
        }
        return line;
    }

    public URI httpUri() {
        return http.uri();
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public PrometheusMeterRegistry meters() {
        return meters;
    }

    /** The embedded broker, when this gateway started one. */
    public Optional<EmbeddedKafka> embeddedBroker() {
        return Optional.ofNullable(broker);
    }

    public ProcessorRole processor() {
        return processor;
    }

    public ResponderRole responder() {
        return responder;
    }

    public GatewayConfig config() {
        return config;
    }

    /** Stops every started component in reverse order. Safe to call twice. */
    @Override
    public synchronized void close() {
        httpStarted = false;
        while (!started.isEmpty()) {
            AutoCloseable component = started.pop();
            try {
                component.close();
            } catch (Exception e) {
                LOG.warn("error while stopping {}: {}", component.getClass().getSimpleName(), e.toString());
            }
        }
        meters.close();
    }
}
