package io.callguard.app;

import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.app.config.AppConfig;
import io.callguard.app.config.GatewayConfig;
import io.callguard.app.dashboard.Dashboard;
import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.egress.DialOutRole;
import io.callguard.egress.EgressRole;
import io.callguard.ingress.GreetingPolicy;
import io.callguard.ingress.HttpQuery;
import io.callguard.ingress.HttpReply;
import io.callguard.ingress.IngressRole;
import io.callguard.ingress.SocketFrameHandler;
import io.callguard.processor.CallQueries;
import io.callguard.processor.ProcessorRole;
import io.callguard.processor.responder.ResponderRole;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.CallState;
import io.callguard.schemas.RecordSchemas;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One callguard instance: the embedded broker when no cluster is configured, the topics, and the roles asked for.
 * Wiring only: every role is constructed first (no thread, no client), wired to the others, then started in
 * dependency order and stopped in reverse; {@code /readyz} and {@code /healthz} are built from their
 * {@link RoleHealth}.
 *
 * <p>Order: broker, topics, egress (delivery and the edge watchdog), ingress (the HTTP server with the webhook and
 * socket endpoints, and its producer), the processor (Kafka Streams, which advertises the HTTP address for
 * interactive queries) and the responder, then dial-out (which dials only calls the processor admitted), then the
 * JIT {@link Warmup}, which holds readiness back until it is over.
 */
public final class Gateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
    private static final long ADMIN_TIMEOUT_MS = 30_000;
    private static final long READY_CHECK_TIMEOUT_MS = 2_000;

    private final GatewayConfig config;
    private final Clock clock;
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Deque<AutoCloseable> started = new ArrayDeque<>();
    private SocketFrameHandler customSocketFrames;
    private EmbeddedKafka broker;
    private String bootstrapServers;
    private Admin admin;
    private EgressRole egress;
    private IngressRole ingress;
    private ProcessorRole processor;
    private ResponderRole responder;
    private DialOutRole dialOut;
    private Dashboard dashboard;
    private Warmup warmup;
    private volatile boolean running;

    /** A health check of {@code /readyz} and {@code /healthz}: its name there and the role it reports. */
    private record Check(String name, Role role) {
    }

    public Gateway(GatewayConfig config, Clock clock) {
        this.config = config;
        this.clock = clock;
    }

    /**
     * Serves the LLM WebSocket with {@code handler} instead of the Kafka-backed protocol: an extension point for
     * load tools (a direct baseline), never for production. Call before {@link #start()}.
     *
     * @return this gateway
     */
    public synchronized Gateway withSocketFrames(SocketFrameHandler handler) {
        if (bootstrapServers != null) {
            throw new IllegalStateException("socket frames must be set before start()");
        }
        this.customSocketFrames = Objects.requireNonNull(handler, "handler");
        return this;
    }

    /**
     * Starts everything; on failure stops what was started and rethrows.
     *
     * @return this gateway, started
     */
    public synchronized Gateway start() {
        try {
            doStart();
            running = true;
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
        warmup = new Warmup(config, clock, meters);

        bootstrapServers = config.common().bootstrapServers();
        if (bootstrapServers.isEmpty()) {
            broker = new EmbeddedKafka(dataDir, app.brokerPort());
            broker.start();
            started.push(broker);
            bootstrapServers = broker.bootstrapServers();
        }
        KafkaClients clients = new KafkaClients(bootstrapServers, config.nodeId());

        admin = Admin.create(clients.admin("callguard-admin"));
        started.push(() -> admin.close(Duration.ofSeconds(2)));
        TopicBootstrap.ensure(admin, topics, config.common().partitions(), config.common().replicationFactor(),
                config.responder().cacheTtlMs(), ADMIN_TIMEOUT_MS);

        boolean runsIngress = app.runs(AppConfig.ROLE_INGRESS);
        if (runsIngress && !app.runs(AppConfig.ROLE_EGRESS)) {
            LOG.warn("roles has ingress without egress: sockets opened here get no answers and no watchdog fallback; "
                    + "run ingress and egress together on edge nodes");
        }

        // Construct: no thread, no client yet.
        if (app.runs(AppConfig.ROLE_EGRESS)) {
            egress = new EgressRole(config.egress(), config.common(), clients, topics, meters, clock);
        }
        ingress = new IngressRole(config.ingress(), clients, topics, meters, clock, config.nodeId(), runsIngress);
        if (app.runs(AppConfig.ROLE_PROCESSOR)) {
            Path stateDir = config.processor().stateDir().isEmpty() ? dataDir.resolve("streams")
                    : Path.of(config.processor().stateDir());
            processor = new ProcessorRole(config.processor(), clients, topics, stateDir, meters,
                    () -> advertisedHost() + ":" + ingress.port());
            responder = new ResponderRole(config.responder(), config.common(), clients, topics, meters, clock);
        }
        if (egress != null && config.egress().dialOutEnabled()) {
            if (!runsIngress || customSocketFrames != null) {
                throw new IllegalStateException("dialout.enabled needs the ingress role and its socket protocol on "
                        + "the same instance: dialled sockets' frames take the ingress path");
            }
            dialOut = new DialOutRole(config.egress(), clients, topics, config.processor().applicationId() + "-dialout",
                    egress.edgeListener(), ingress.socketFrames(), meters);
        }
        CallQueries queries = new CallQueries(processor, config.processor(), config.common().partitions());
        if (processor != null) {
            // call_inbound is answered from the capacity /capacity reports; an edge-only node cannot see it.
            InboundCapacityView inbound = new InboundCapacityView(queries);
            started.push(inbound);
            ingress.withInboundCapacity(inbound);
        }

        // Wire.
        if (customSocketFrames != null) {
            ingress.withSocketFrames(customSocketFrames);
        } else if (runsIngress) {
            ProcessorRole states = processor;
            ingress.withSockets(egress != null ? egress.edgeListener() : EdgeListener.NONE,
                    new GreetingPolicy(callId -> states == null ? Optional.<CallState>empty() : states.callState(callId),
                            config.processor().busyMessage()));
        }
        routes(queries);

        // Start in order.
        List<Role> order = new ArrayList<>();
        for (Role role : new Role[] {egress, ingress, processor, responder, dialOut}) {
            if (role != null) {
                order.add(role);
            }
        }
        for (Role role : order) {
            started.push(role);
            role.start();
        }
        dashboard = new Dashboard(meters, clock, clients, topics, queries::capacityTotal);
        started.push(dashboard);
        dashboard.start();
        // Last, with everything up but not yet ready: the JIT warm-up (never throws; a failure starts cold).
        warmup.run(bootstrapServers);
    }

    private void routes(CallQueries queries) {
        ingress.route("GET", "/healthz", q -> {
            Map<String, Object> liveness = liveness();
            return HttpReply.json("up".equals(liveness.get("status")) ? 200 : 503, liveness);
        });
        ingress.route("GET", "/readyz", q -> {
            Map<String, Object> readiness = readiness();
            return HttpReply.json(Boolean.TRUE.equals(readiness.get("ready")) ? 200 : 503, readiness);
        });
        ingress.route("GET", "/metrics", q -> new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8",
                meters.scrape().getBytes(StandardCharsets.UTF_8)));
        ingress.route("GET", "/calls/", q -> reply(queries.call(
                URLDecoder.decode(q.path().substring("/calls/".length()), StandardCharsets.UTF_8), local(q))));
        ingress.route("GET", "/capacity", q -> reply(queries.capacity(local(q))));
        ingress.route("GET", "/dashboard", q -> HttpReply.json(200, dashboard.snapshot()));
        byte[] page = resource("/io/callguard/app/dashboard/index.html");
        ingress.route("GET", "/", q -> new HttpReply(200, "text/html; charset=utf-8", page));
    }

    private static boolean local(HttpQuery query) {
        return query.query().containsKey(CallQueries.LOCAL_PARAM);
    }

    private static HttpReply reply(CallQueries.Result result) {
        return HttpReply.json(result.status(), result.body());
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

    /**
     * Readiness ({@code GET /readyz}, Kubernetes meaning: may this instance take traffic now?). Ready only when the
     * broker answers and every role says it is ready ({@link RoleHealth#ready()}: Kafka Streams exactly RUNNING,
     * the responder assigned its partitions, the egress following every responses partition, the HTTP server
     * listening); the socket check follows the HTTP server. Each check says what is wrong.
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
        for (Check c : checks()) {
            RoleHealth health = c.role().health();
            ready &= check(checks, c.name(), health.ready(), health.detail());
        }
        if (ingress.servesSockets()) {
            boolean httpUp = ingress.health().ready();
            ready &= check(checks, "socket", httpUp, "llm-websocket " + (httpUp ? "accepting" : "down"));
        }
        ready &= check(checks, "warmup", warmup.finished(), warmup.detail());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("ready", ready);
        out.put("node", config.nodeId());
        out.put("checks", checks);
        return out;
    }

    /**
     * Liveness ({@code GET /healthz}, Kubernetes meaning: would a restart help?). Only what a restart cures fails
     * it: a role FAILED ({@link RoleHealth#live()}: every stream thread died, the responder's poll thread gone)
     * while the gateway runs. A broker outage does not: restarting would not bring the broker back.
     */
    public Map<String, Object> liveness() {
        Map<String, Object> checks = new LinkedHashMap<>();
        boolean live = true;
        if (running) {
            // Only the roles whose threads a restart would bring back; the others have nothing that dies alone.
            for (Check c : checks()) {
                if (c.role() == processor || c.role() == responder) {
                    RoleHealth health = c.role().health();
                    live &= check(checks, c.name(), health.live(), health.detail());
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("status", live ? "up" : "down");
        out.put("node", config.nodeId());
        out.put("checks", checks);
        return out;
    }

    /** The roles behind {@code /readyz}, under their check names, in the order they are reported. */
    private List<Check> checks() {
        List<Check> out = new ArrayList<>();
        if (processor != null) {
            out.add(new Check("streams", processor));
        }
        if (responder != null) {
            out.add(new Check("responder", responder));
        }
        if (egress != null) {
            out.add(new Check("egress", egress));
        }
        out.add(new Check("http", ingress));
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
        if (ingress.servesSockets()) {
            String ws = httpUri().toString().replaceFirst("^http", "ws") + "llm-websocket/{call_id}";
            line += " socket=" + ws + (config.socketTokenGenerated() ? "?token=" + config.socketToken()
                    : "?token=<socket.token>");
        }
        return line;
    }

    public URI httpUri() {
        return ingress.uri();
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

    /** The JIT warm-up run before this gateway reports ready ({@link Warmup}). */
    public Warmup warmup() {
        return warmup;
    }

    public GatewayConfig config() {
        return config;
    }

    /** Stops every started component in reverse order. Safe to call twice. */
    @Override
    public synchronized void close() {
        running = false;
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
