package io.callguard.app;

import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.app.config.AppConfig;
import io.callguard.app.config.GatewayConfig;
import io.callguard.app.dashboard.Dashboard;
import io.callguard.common.KafkaClients;
import io.callguard.common.RecordLimits;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.egress.DialOutRole;
import io.callguard.egress.EgressRole;
import io.callguard.ingress.CallStateView;
import io.callguard.ingress.GreetingPolicy;
import io.callguard.ingress.HttpQuery;
import io.callguard.ingress.HttpReply;
import io.callguard.ingress.IngressConfig;
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
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * <p>Order: broker, topics, on an edge-only node the view of call-state its begin messages are decided from, egress
 * (delivery and the edge watchdog), ingress (the HTTP server with the webhook and socket endpoints, and its
 * producer), the dashboard, then the roles that join consumer groups, the processor (Kafka Streams, which advertises
 * the admin listener's address for interactive queries) and the responder, then dial-out (which dials only calls the
 * processor admitted), and the JIT {@link Warmup}, which holds readiness back until it is over. When other members
 * already serve the groups, the group roles start after the warm-up instead, so a restarted or added gateway takes
 * partitions, and turns, only once it is warm.
 *
 * <p>Routes: the public listener, which Retell reaches, has the webhook, the LLM WebSocket, {@code /healthz} and
 * {@code /readyz}; everything that shows call data or numbers ({@code /metrics}, {@code /dashboard}, the page at
 * {@code /}, {@code /calls/}, {@code /capacity}) is on the admin listener ({@link #adminUri()}).
 */
public final class Gateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
    private static final long ADMIN_TIMEOUT_MS = 30_000;
    /** How long the start waits to learn whether other members serve the groups (see joinsAfterWarmup). */
    private static final long GROUPS_TIMEOUT_MS = 2_000;
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
    /** The edge's view of call-state, on a node serving sockets without the processor; null otherwise. */
    private CallStateView callStateView;
    /** The most calls {@code GET /calls} lists. */
    static final int CALL_LIST_LIMIT = 1_000;
    private Dashboard dashboard;
    /** The socket token in force: configured, or kept in the data dir; null before start or when none is used. */
    private volatile String socketToken;
    private Warmup warmup;
    private volatile boolean running;
    /** When {@link #drain()} began (epoch ms); -1 before. */
    private volatile long drainingSinceMs = -1;
    private final AtomicBoolean drainStarted = new AtomicBoolean();

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
        // One record size for producers, topics and the embedded broker, from the largest webhook body accepted.
        int maxRecordBytes = RecordLimits.maxRecordBytes(config.ingress().maxBodyBytes());
        if (bootstrapServers.isEmpty()) {
            broker = new EmbeddedKafka(dataDir, app.brokerPort(), maxRecordBytes);
            broker.start();
            started.push(broker);
            bootstrapServers = broker.bootstrapServers();
        }
        KafkaClients clients = new KafkaClients(bootstrapServers, config.nodeId(), maxRecordBytes,
                config.common().topicReplication()).withTurnLingerMs(config.common().turnKafkaLingerMs());

        admin = Admin.create(clients.admin("callguard-admin"));
        started.push(() -> admin.close(Duration.ofSeconds(2)));
        TopicBootstrap.ensure(admin, topics, config.common().partitions(), clients.replication(),
                config.responder().cacheTtlMs(), clients.maxRecordBytes(),
                List.of(config.processor().applicationId() + "-"), ADMIN_TIMEOUT_MS, broker != null);

        boolean runsIngress = app.runs(AppConfig.ROLE_INGRESS);
        if (runsIngress && !app.runs(AppConfig.ROLE_EGRESS)) {
            LOG.warn("roles has ingress without egress: sockets opened here get no answers and no watchdog fallback; "
                    + "run ingress and egress together on edge nodes");
        }

        // Construct: no thread, no client yet.
        if (app.runs(AppConfig.ROLE_EGRESS)) {
            egress = new EgressRole(config.egress(), config.common(), clients, topics, meters, clock);
        }
        ingress = new IngressRole(ingressConfig(dataDir, runsIngress || customSocketFrames != null), clients, topics,
                meters, clock, config.nodeId(), runsIngress);
        if (app.runs(AppConfig.ROLE_PROCESSOR)) {
            Path stateDir = config.processor().stateDir().isEmpty() ? dataDir.resolve("streams")
                    : Path.of(config.processor().stateDir());
            processor = new ProcessorRole(config.processor(), clients, topics, stateDir, meters,
                    () -> advertisedHost() + ":" + ingress.adminPort());
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
        CallQueries queries = new CallQueries(processor, config.processor(), config.common().partitions(),
                config.ingress().adminToken());
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
            // A socket's begin is decided from the shared call state: a compact view of call-state on every node that
            // takes sockets, behind the local processor's store where one runs (fresher, for the partitions it owns),
            // so a call reconnecting from another node is not greeted again whichever node owns its partition.
            ProcessorRole states = processor;
            callStateView = new CallStateView(clients, topics);
            Function<String, Optional<CallState>> callStates = states == null ? callStateView
                    : callId -> states.callState(callId).or(() -> callStateView.apply(callId));
            GreetingPolicy begins = new GreetingPolicy(callStates, config.processor().busyMessage());
            ingress.withSockets(egress != null ? egress.edgeListener() : EdgeListener.NONE, begins);
            if (egress != null) {
                // An owed begin the pipeline has not answered by the budget is bridged with the greeting, unless the
                // call state shows by then that the socket is a reconnect: then it is completed empty.
                egress.withKnownReconnects(begins::knownReconnect);
                // A late begin is bridged with the greeting only for a call known admitted: a queued or refused caller
                // must not hear the agent greet them before the hold or busy line.
                egress.admissionFrom(callId -> callStates.apply(callId)
                        .map(s -> s.status() == io.callguard.schemas.CallStatus.ACTIVE).orElse(false));
            }
        }
        routes(queries);

        // Start in order: the edge first (its listener up, not ready), then the JIT warm-up (never throws; a failure
        // starts cold), the roles that join consumer groups before or after it (joinsAfterWarmup).
        startRoles(callStateView, egress, ingress);
        dashboard = new Dashboard(meters, clock, clients, topics, queries::capacityTotal);
        started.push(dashboard);
        dashboard.start();
        boolean joinLater = joinsAfterWarmup();
        if (!joinLater) {
            startRoles(processor, responder, dialOut);
        }
        warmup.run(bootstrapServers);
        if (joinLater) {
            startRoles(processor, responder, dialOut);
        }
    }

    /**
     * Whether the processor and responder join their consumer groups only after the JIT warm-up: when the warm-up
     * runs and other members serve the groups' partitions meanwhile. A member takes its share of the partitions when
     * it joins, readiness or not; a restarted or added gateway that joined before its warm-up served its share of
     * the turns with a cold JIT while the warm-up took the host's CPU (ClusterChaosIT: 20-78 turns not answered
     * whole after the killed gateway's restart, against 16 and 1 with the join after it). With no other member,
     * nobody else would serve those partitions: the roles start alongside the warm-up, so Kafka Streams' start
     * overlaps it (a lone gateway is ready sooner; about 7 s on this box). A group that cannot be described in time
     * counts as having no members.
     */
    private boolean joinsAfterWarmup() {
        if (processor == null || !config.app().warmupEnabled()) {
            return false;
        }
        List<String> groups = List.of(config.processor().applicationId(), config.responder().groupId());
        Map<String, Integer> members = new java.util.LinkedHashMap<>();
        admin.describeConsumerGroups(groups).describedGroups().forEach((group, future) -> {
            try {
                members.put(group, future.get(GROUPS_TIMEOUT_MS, TimeUnit.MILLISECONDS).members().size());
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                members.put(group, 0);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                members.put(group, 0);
            }
        });
        boolean others = members.values().stream().anyMatch(n -> n > 0);
        LOG.info(others ? "other members serve the partitions ({}): the processor and responder join after the "
                + "warm-up" : "no other member ({}): the processor and responder start alongside the warm-up",
                members);
        return others;
    }

    /** Starts these roles in order, each pushed to be stopped in reverse; absent roles (null) are skipped. */
    private void startRoles(Role... roles) {
        for (Role role : roles) {
            if (role != null) {
                started.push(role);
                role.start();
            }
        }
    }

    /**
     * The ingress's configuration, with the token kept in the data dir when the LLM WebSocket is served and no
     * {@code socket.token} is configured ({@link SocketTokenFile}: a restart keeps the URL set in Retell's agent).
     */
    private IngressConfig ingressConfig(Path dataDir, boolean servesSockets) {
        if (!servesSockets || !config.socketTokenGenerated()) {
            socketToken = config.socketToken();
            return config.ingress();
        }
        SocketTokenFile.Token kept = SocketTokenFile.loadOrCreate(dataDir);
        socketToken = kept.value();
        LOG.info("socket token {} {} (no socket.token configured; it is printed on the ready line only)",
                kept.created() ? "made and kept in" : "read from", kept.file());
        if (!config.common().bootstrapServers().isEmpty()) {
            // A shared cluster suggests several nodes: behind one URL a reconnect to a node with another token is
            // refused (401), and Retell ends the call.
            LOG.warn("the socket token is this node's own ({}); if other nodes serve the same URL, set socket.token "
                    + "to one token on each of them", kept.file());
        }
        return config.ingress().withSocketToken(socketToken);
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
        // Caller data and numbers: on the admin listener only, never where Retell (and anyone) reaches.
        ingress.adminRoute("GET", "/metrics", q -> new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8",
                meters.scrape().getBytes(StandardCharsets.UTF_8)));
        ingress.adminRoute("GET", "/calls/", q -> reply(queries.call(
                URLDecoder.decode(q.path().substring("/calls/".length()), StandardCharsets.UTF_8), local(q))));
        ingress.adminRoute("GET", "/calls", q -> callList());
        ingress.adminRoute("GET", "/capacity", q -> reply(queries.capacity(local(q))));
        ingress.adminRoute("GET", "/dashboard", q -> HttpReply.json(200, dashboard.snapshot()));
        byte[] page = resource("/io/callguard/app/dashboard/index.html");
        ingress.adminRoute("GET", "/", q -> new HttpReply(200, "text/html; charset=utf-8", page));
    }

    /**
     * {@code GET /calls}: the live calls this node knows from its view of call-state (every partition's, so the whole
     * cluster's, about 100 ms behind), at most {@link #CALL_LIST_LIMIT}, with what the begin needs of each; a node
     * that follows no view (it takes no sockets) says so, 404. A call's whole state is {@code GET /calls/{call_id}}.
     */
    private HttpReply callList() {
        CallStateView view = callStateView;
        if (view == null) {
            return HttpReply.json(404, Map.of("error", "no call list on this node",
                    "detail", "this node takes no sockets, so it follows no view of " + config.common().topics()
                            .callState().name() + "; GET /calls/{call_id} answers one call's state"));
        }
        List<Map<String, Object>> calls = new ArrayList<>();
        for (CallState state : view.live(CALL_LIST_LIMIT)) {
            Map<String, Object> call = new LinkedHashMap<>();
            call.put("call_id", state.callId());
            call.put("status", state.status());
            call.put("connection_id", state.connectionId());
            call.put("latest_response_id", state.latestResponseId());
            call.put("reconnects", state.reconnects());
            calls.add(call);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("known", view.size());
        body.put("limit", CALL_LIST_LIMIT);
        body.put("truncated", view.size() > calls.size());
        body.put("source", "this node's view of " + config.common().topics().callState().name()
                + ": live calls of every partition, about 100 ms behind; GET /calls/{call_id} for a call's whole state");
        body.put("calls", calls);
        return HttpReply.json(200, body);
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
        String host = config.ingress().adminHost();
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
     * Readiness ({@code GET /readyz}, Kubernetes meaning: may this instance take traffic now?). Never while draining
     * (check {@code draining}, from the moment {@link #drain()} begins); otherwise ready only when the broker answers and every role says it is ready ({@link RoleHealth#ready()}: Kafka Streams exactly RUNNING,
     * the responder assigned its partitions, the egress following every responses partition, the HTTP server
     * listening); the socket check follows the HTTP server. Each check says what is wrong.
     */
    public Map<String, Object> readiness() {
        Map<String, Object> checks = new LinkedHashMap<>();
        long drainingSince = drainingSinceMs;
        boolean ready = check(checks, "draining", drainingSince < 0, drainingSince < 0 ? "not draining"
                : "draining since " + Instant.ofEpochMilli(drainingSince) + ": new sockets refused, calls handed over "
                + "between turns");
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
     * The single line printed on stdout once the gateway is ready. It carries the socket token only when it is the
     * one kept in the data dir (no {@code socket.token} configured), since nobody else knows it; it is the only place
     * the token is printed, never a log line. Never the admin token.
     */
    public String readyLine() {
        String line = "callguard ready: " + httpUri() + " broker=" + bootstrapServers
                + (broker != null ? " (embedded)" : "") + " data=" + config.app().dataDir()
                + " roles=" + String.join(",", config.app().roles().stream().sorted().toList())
                + " node=" + config.nodeId() + " admin=" + adminUri();
        if (ingress.servesSockets()) {
            String ws = httpUri().toString().replaceFirst("^http", "ws") + "llm-websocket/{call_id}";
            line += " socket=" + ws + (config.socketTokenGenerated() ? "?token=" + socketToken
                    : "?token=<socket.token>");
        }
        return line;
    }

    /** The LLM WebSocket token in force once started (configured or kept in the data dir); null when none. A secret. */
    public String socketToken() {
        return socketToken;
    }

    /** The public listener's base URI: the webhook, the LLM WebSocket, health and readiness. */
    public URI httpUri() {
        return ingress.uri();
    }

    /** The admin listener's base URI: metrics, the dashboard and its page, call state, capacity. */
    public URI adminUri() {
        return ingress.adminUri();
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

    /** This node's view of call-state behind its sockets' begin messages; null when it takes no sockets. */
    public CallStateView callStateView() {
        return callStateView;
    }

    /** The JIT warm-up run before this gateway reports ready ({@link Warmup}). */
    public Warmup warmup() {
        return warmup;
    }

    public GatewayConfig config() {
        return config;
    }

    /**
     * Hands this instance's calls over to the others without dead air, as SIGTERM asks; {@link #close()} begins with
     * it, so the shutdown hook and every other stop take this one path. In order:
     * <ol>
     *   <li>at once: not ready ({@code /readyz} 503, check {@code draining}) and no new LLM WebSocket (an upgrade is
     *       refused with 503, so the load balancer or Retell's next attempt reaches another instance). Webhooks are
     *       still taken: each is acknowledged only once Kafka has it, so one taken now is as safe as ever;</li>
     *   <li>the egress drops each socket without a close frame as soon as its open turn is answered (Retell sees
     *       1006 and reconnects, between two turns, to another instance), delivering and bridging meanwhile, while
     *       the responder keeps answering every turn of its partitions, for sockets here and elsewhere;</li>
     *   <li>then the responder, last, hands its partitions over and finishes the turns it is generating.</li>
     * </ol>
     * All within {@code shutdown.drain-timeout-ms}; what is still open then is cut by the close (the watchdogs of the
     * nodes holding those sockets answer). Does nothing unless the gateway runs; runs once.
     */
    public void drain() {
        if (!running || !drainStarted.compareAndSet(false, true)) {
            return;
        }
        drainingSinceMs = clock.millis();
        long timeoutMs = config.app().shutdownDrainTimeoutMs();
        long started = System.nanoTime();
        long deadline = started + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        LOG.info("draining: not ready, new sockets refused; handing calls over for at most {} ms", timeoutMs);
        ingress.stopAcceptingSockets();
        try {
            if (egress != null) {
                egress.drainSockets(until(deadline));
            }
            if (responder != null) {
                responder.drain(until(deadline));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("drain interrupted; stopping now");
        }
        LOG.info("drained in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    private static Duration until(long deadlineNanos) {
        return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
    }

    /** Drains ({@link #drain()}), then stops every started component in reverse order. Safe to call twice. */
    @Override
    public synchronized void close() {
        drain();
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
