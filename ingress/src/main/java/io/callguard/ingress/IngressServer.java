package io.callguard.ingress;

import io.callguard.ingress.internal.AdminAuth;
import io.callguard.ingress.internal.ByConnector;
import io.callguard.ingress.internal.HeaderDeadline;
import io.callguard.ingress.internal.LlmSocketHandler;
import io.callguard.ingress.internal.RouteHandler;
import io.callguard.ingress.internal.Router;
import io.callguard.ingress.internal.WebhookHandler;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Producer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingress HTTP server, with two listeners. The public one ({@code http.host}:{@code http.port}), which Retell
 * must reach, serves Retell's webhook at {@code POST /webhook}, Retell's custom-LLM WebSocket at
 * {@code GET /llm-websocket/{call_id}} (once {@link #withSockets}, or {@link #withSocketFrames}, was called), plus
 * the app's public routes ({@link #route}: health). The admin one ({@code admin.host}:{@code admin.port}) serves the
 * app's admin routes ({@link #adminRoute}: metrics, dashboard, call state), behind {@code admin.token} when set;
 * it is bound only when there is an admin route. A route of one listener is not found on the other (404).
 * Both listeners share one Jetty server: one thread pool, one lifecycle.
 * Without a producer (an instance without the ingress role) only the app's routes are served.
 * Lifecycle: construct, add routes, {@link #withSockets}, {@link #start()}, {@link #stop()} (or close); not
 * restartable.
 *
 * <p>Route matching (see {@link #route}): a path ending in {@code /} is a prefix and matches every longer path
 * under it ({@code /calls/} matches {@code /calls/abc}); any other path matches only itself. An exact path
 * wins over a prefix and a longer prefix over a shorter one. Unknown path: 404; known path, other method: 405.
 * Both answer a JSON error body.
 *
 * <p>On stop, requests already waiting for Kafka are answered first (for at most the ack timeout plus a second),
 * so stop this server before the producer it was given.
 */
public final class IngressServer implements AutoCloseable {

    /** Where Retell's webhooks are posted. */
    public static final String WEBHOOK_PATH = "/webhook";
    /** The prefix of Retell's custom-LLM WebSocket; the call id follows it. */
    public static final String LLM_WEBSOCKET_PATH = "/llm-websocket/";

    private static final Logger LOG = LoggerFactory.getLogger(IngressServer.class);
    private static final String THREAD_PREFIX = "callguard-ingress";
    private static final int ACCEPT_QUEUE_SIZE = 1_024;

    private final IngressConfig config;
    private final Topics topics;
    private final Producer<String, byte[]> producer;
    private final MeterRegistry meters;
    private final Clock clock;
    private final String nodeId;
    private final List<Router.Route> appRoutes = new ArrayList<>();
    private final List<Router.Route> adminRoutes = new ArrayList<>();
    private LlmSocketProtocol socketProtocol;
    /** What the LLM WebSocket feeds frames to: the protocol, or a handler given to {@link #withSocketFrames}. */
    private SocketFrameHandler socketFrames;
    private boolean socketsRequested;
    private InboundCapacity inboundCapacity = InboundCapacity.UNKNOWN;
    private Server server;
    private ServerConnector connector;
    /** The admin listener; null when there is no admin route. */
    private ServerConnector adminConnector;
    /** The LLM WebSocket's handler, once started with sockets; what {@link #stopAcceptingSockets()} tells. */
    private LlmSocketHandler sockets;
    private boolean stopped;

    /**
     * @param config   the ingress settings
     * @param topics   where webhooks and dead letters go
     * @param producer the producer of call events and dead letters (acks=all, idempotent; {@code max.block.ms}
     *                 should stay under {@code webhook.ack-timeout-ms}, since {@code send} may block on metadata);
     *                 not closed by this server; null on an instance without the ingress role, which then serves
     *                 neither the webhook nor the LLM WebSocket
     * @param meters   where metrics go (see {@link IngressMetrics})
     * @param clock    the clock of signatures and receipt times
     * @param nodeId   this instance's node id, written as {@code edge_node} on every event
     */
    public IngressServer(IngressConfig config, Topics topics, Producer<String, byte[]> producer, MeterRegistry meters,
                         Clock clock, String nodeId) {
        this.config = Objects.requireNonNull(config, "config");
        this.topics = Objects.requireNonNull(topics, "topics");
        this.producer = producer;
        this.meters = Objects.requireNonNull(meters, "meters");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.nodeId = nodeId;
    }

    /**
     * Serves Retell's custom-LLM WebSocket at {@code GET /llm-websocket/{call_id}}; call before {@link #start()}.
     * Does nothing but remember the listener when this server has no producer.
     *
     * @param listener told about sockets and turns (the egress), and the writer of the begin message
     * @param begins   the begin message per call id ({@link GreetingPolicy}); null, or a null answer, means a first
     *                 open (owed to the pipeline, or the greeting; see {@link IngressConfig#socketBeginOwed})
     * @return this server
     * @throws IllegalStateException when the server was already started, or sockets were already set up
     */
    public synchronized IngressServer withSockets(EdgeListener listener,
                                                  Function<String, GreetingPolicy.Begin> begins) {
        Objects.requireNonNull(listener, "listener");
        if (server != null || stopped) {
            throw new IllegalStateException("sockets must be set up before start()");
        }
        if (socketsRequested) {
            throw new IllegalStateException("sockets are already set up");
        }
        socketsRequested = true;
        if (producer != null) {
            socketProtocol = new LlmSocketProtocol(config, topics, producer, meters, clock, nodeId, listener, begins);
            socketFrames = socketProtocol;
        }
        return this;
    }

    /**
     * What Retell's inbound-call webhook ({@code call_inbound}) is answered from; call before {@link #start()}.
     * Without it every inbound call passes (a node that cannot see capacity).
     *
     * @return this server
     */
    public synchronized IngressServer withInboundCapacity(InboundCapacity view) {
        if (server != null || stopped) {
            throw new IllegalStateException("the inbound capacity view must be set before start()");
        }
        this.inboundCapacity = Objects.requireNonNull(view, "view");
        return this;
    }

    /**
     * Serves the custom-LLM WebSocket with {@code handler} in place of the Kafka-backed {@link LlmSocketProtocol}
     * (the token, call id and size checks stay); call before {@link #start()}, instead of {@link #withSockets}.
     * For load tools (a direct baseline), not for production: nothing of a socket reaches Kafka.
     *
     * @return this server
     * @throws IllegalStateException when the server was already started, or sockets were already set up
     */
    public synchronized IngressServer withSocketFrames(SocketFrameHandler handler) {
        Objects.requireNonNull(handler, "handler");
        if (server != null || stopped) {
            throw new IllegalStateException("sockets must be set up before start()");
        }
        if (socketsRequested) {
            throw new IllegalStateException("sockets are already set up");
        }
        socketsRequested = true;
        socketFrames = handler;
        return this;
    }

    /** True when this server serves the LLM WebSocket (with the protocol or a handler of one's own). */
    public synchronized boolean servesSockets() {
        return socketFrames != null;
    }

    /**
     * The LLM WebSocket protocol of this server, for sockets opened elsewhere (the egress's dial-out client);
     * empty until {@link #withSockets} was called, and on a server without a producer. Stopping this server closes it.
     */
    public synchronized Optional<LlmSocketProtocol> socketProtocol() {
        return Optional.ofNullable(socketProtocol);
    }

    /**
     * Adds a route to the public listener, the one Retell reaches (health and readiness); call before
     * {@link #start()}.
     *
     * @param method the HTTP method, e.g. {@code GET}
     * @param path   an exact path ({@code /healthz}) or a prefix ending in {@code /} ({@code /calls/})
     * @return this server
     * @throws IllegalStateException    when the server was already started
     * @throws IllegalArgumentException when the path does not start with {@code /}, or the method and path are
     *                                  taken (the webhook's and the LLM WebSocket's included)
     */
    public synchronized IngressServer route(String method, String path, HttpRoute route) {
        String m = Objects.requireNonNull(method, "method").toUpperCase(Locale.ROOT);
        if ("POST".equals(m) && WEBHOOK_PATH.equals(path)) {
            throw new IllegalArgumentException("POST " + WEBHOOK_PATH + " is the webhook's route");
        }
        if ("GET".equals(m) && LLM_WEBSOCKET_PATH.equals(path)) {
            throw new IllegalArgumentException("GET " + LLM_WEBSOCKET_PATH + " is the LLM WebSocket's route");
        }
        addRoute(appRoutes, m, path, route);
        return this;
    }

    /**
     * Adds a route to the admin listener (metrics, dashboard, call state: what Retell and callers must not reach),
     * behind {@code admin.token} when it is set; call before {@link #start()}. The first one makes the server bind
     * {@code admin.host}:{@code admin.port}. Matching as for {@link #route}.
     *
     * @return this server
     * @throws IllegalStateException    when the server was already started
     * @throws IllegalArgumentException when the path does not start with {@code /}, or the method and path are
     *                                  taken on the admin listener
     */
    public synchronized IngressServer adminRoute(String method, String path, HttpRoute route) {
        addRoute(adminRoutes, Objects.requireNonNull(method, "method").toUpperCase(Locale.ROOT), path, route);
        return this;
    }

    private void addRoute(List<Router.Route> routes, String method, String path, HttpRoute route) {
        if (server != null || stopped) {
            throw new IllegalStateException("routes must be added before start()");
        }
        for (Router.Route r : routes) {
            if (r.method().equals(method) && r.path().equals(path)) {
                throw new IllegalArgumentException("two routes for " + method + " " + path);
            }
        }
        routes.add(new Router.Route(method, path, new RouteHandler(route)));
    }

    /**
     * Binds {@code http.host}:{@code http.port} (and {@code admin.host}:{@code admin.port} when there is an admin
     * route) and starts serving.
     *
     * @throws UncheckedIOException  when an address cannot be bound (the message names the listener)
     * @throws IllegalStateException when already started or stopped, or Jetty fails to start
     */
    public synchronized void start() {
        if (server != null || stopped) {
            throw new IllegalStateException("an IngressServer starts once");
        }
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName(THREAD_PREFIX + "-http");
        server = new Server(threads, new ScheduledExecutorScheduler(THREAD_PREFIX + "-scheduler", false), null);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        // Heap input buffers: every socket frame is decoded byte by byte into a String (UTF-8 check) and
        // parsed as JSON; on direct buffers each byte read is a bounds-checked native access, which showed in
        // profiles of the turn path (Retell frames carry the whole transcript, so they grow with the call).
        http.setUseInputDirectByteBuffers(false);
        connector = listener("public", config.httpHost(), config.httpPort(), http, this::limitPublicConnector);
        if (!adminRoutes.isEmpty()) {
            adminConnector = listener("admin", config.adminHost(), config.adminPort(), http, c -> { });
        }
        server.setHandler(handlers());
        // Graceful: requests waiting for Kafka get their answer (the ack timeout bounds the wait).
        server.setStopTimeout(config.ackTimeoutMs() + 1_000);
        try {
            server.start();
        } catch (Exception e) {
            stopQuietly();
            throw new IllegalStateException("ingress server failed to start", e);
        }
        logStart();
    }

    /** A listener of the server, bound at once so that a taken address is reported with the listener's name. */
    /** @param limits what is set on the connector before it binds (the accept queue must be) */
    private ServerConnector listener(String name, String host, int port, HttpConfiguration http,
                                     java.util.function.Consumer<ServerConnector> limits) {
        ServerConnector listener = new ServerConnector(server, new HttpConnectionFactory(http));
        listener.setName(name);
        listener.setHost(host);
        listener.setPort(port);
        limits.accept(listener);
        server.addConnector(listener);
        try {
            listener.open();
        } catch (IOException e) {
            for (Connector opened : server.getConnectors()) {
                ((ServerConnector) opened).close();
            }
            stopQuietly();
            throw new UncheckedIOException("cannot listen on " + host + ":" + port + " (the " + name + " listener)", e);
        }
        return listener;
    }

    /**
     * Stops accepting connections on the public listener, for a drain: connections already open (live calls'
     * sockets, requests in flight) go on, and the admin listener keeps serving (metrics stay readable while calls
     * end). {@link #stop()} still stops everything. Idempotent.
     *
     * @return completes when the public listener's last connection has closed
     * @throws IllegalStateException when the server is not started
     */
    public synchronized CompletableFuture<Void> shutdownPublicListener() {
        if (connector == null || !server.isStarted()) {
            throw new IllegalStateException("the server is not started");
        }
        return connector.shutdown();
    }

    /** Stops serving and releases every thread; idempotent. */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        if (server != null) {
            stopQuietly();
            LOG.info("ingress stopped on {}", config.httpHost());
        }
        // After the server: its sockets' last events are queued by now.
        if (socketProtocol != null) {
            socketProtocol.close();
        }
    }

    /**
     * The first step of a drain: every new LLM WebSocket is refused with 503 from now on (see {@link LlmSocketHandler}),
     * so Retell's next attempt reaches another instance; sockets already open, webhooks (each acknowledged only
     * once Kafka has it) and the app's routes are served as before. Idempotent; nothing to do without sockets.
     */
    public synchronized void stopAcceptingSockets() {
        if (sockets != null) {
            sockets.refuseNewSockets();
        }
    }

    /** True between a successful {@link #start()} and {@link #stop()}. */
    public synchronized boolean isRunning() {
        return server != null && !stopped && server.isStarted();
    }

    @Override
    public void close() {
        stop();
    }

    /** The public listener's bound port (the actual one when {@code http.port} is 0). */
    public synchronized int port() {
        if (connector == null || !server.isStarted()) {
            throw new IllegalStateException("the server is not started");
        }
        return connector.getLocalPort();
    }

    /** The public listener's base URI, e.g. {@code http://127.0.0.1:8080/}. */
    public URI uri() {
        return baseUri(config.httpHost(), port());
    }

    /** True when this server has an admin listener (an admin route was added). */
    public synchronized boolean hasAdminListener() {
        return !adminRoutes.isEmpty();
    }

    /**
     * The admin listener's bound port (the actual one when {@code admin.port} is 0).
     *
     * @throws IllegalStateException when the server is not started or has no admin route
     */
    public synchronized int adminPort() {
        if (adminConnector == null || !server.isStarted()) {
            throw new IllegalStateException(adminRoutes.isEmpty() ? "this server has no admin route"
                    : "the server is not started");
        }
        return adminConnector.getLocalPort();
    }

    /**
     * The admin listener's base URI, e.g. {@code http://127.0.0.1:8081/}.
     *
     * @throws IllegalStateException as {@link #adminPort()}
     */
    public URI adminUri() {
        return baseUri(config.adminHost(), adminPort());
    }

    private static URI baseUri(String host, int port) {
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/");
    }

    /** How webhooks are authenticated, so startup (and {@code /readyz}) can tell why they would be refused. */
    public SignatureMode signatureMode() {
        return config.signatureMode();
    }

    /**
     * The public listener's bounds under abuse: Jetty's connection limit ({@code http.max-connections}; at the limit
     * it stops accepting, and the idle timeout of connections already open is left as it is, since lowering it would
     * apply to the WebSockets too), its idle timeout ({@code http.idle-timeout-ms}, HTTP only: a WebSocket takes
     * {@code socket.idle-timeout-ms} at its upgrade) and the header deadline ({@code http.header-timeout-ms},
     * {@link HeaderDeadline}). Webhook bodies have their own size, rate and budget limits (the webhook handler).
     */
    private void limitPublicConnector(ServerConnector connector) {
        connector.setIdleTimeout(config.httpIdleTimeoutMs());
        // A burst of connections (Retell reconnecting every call's socket after a restart) waits in the kernel's
        // queue for the acceptor instead of having its SYNs dropped and retried a second later (the JDK's default
        // backlog is 50); the kernel caps it at net.core.somaxconn.
        connector.setAcceptQueueSize(ACCEPT_QUEUE_SIZE);
        NetworkConnectionLimit limit = new NetworkConnectionLimit(config.httpMaxConnections(), connector);
        server.addBean(limit);
        HeaderDeadline headers = new HeaderDeadline(connector.getScheduler(), config.httpHeaderTimeoutMs());
        connector.getConnectionFactory(HttpConnectionFactory.class).addEventListener(headers);
        Gauge.builder(IngressMetrics.HTTP_CONNECTIONS, limit, NetworkConnectionLimit::getNetworkConnectionCount)
                .description("Network connections the public listener holds (http.max-connections)").register(meters);
        FunctionCounter.builder(IngressMetrics.HTTP_HEADER_TIMEOUTS, headers, HeaderDeadline::closedCount)
                .description("Connections closed because a request's headers did not complete in "
                        + IngressConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG).register(meters);
    }

    // The one place the handler tree is built.
    private Handler handlers() {
        List<Router.Route> routes = new ArrayList<>();
        if (producer != null) {
            routes.add(new Router.Route("POST", WEBHOOK_PATH,
                    new WebhookHandler(config, topics, producer, meters, clock, nodeId, inboundCapacity)));
        }
        if (socketFrames != null) {
            sockets = new LlmSocketHandler(server, LLM_WEBSOCKET_PATH, config, socketFrames, meters);
            routes.add(new Router.Route("GET", LLM_WEBSOCKET_PATH, sockets));
        }
        routes.addAll(appRoutes);
        Map<Connector, Handler> listeners = new LinkedHashMap<>();
        listeners.put(connector, new Router(routes));
        if (adminConnector != null) {
            Handler admin = new Router(adminRoutes);
            listeners.put(adminConnector, config.adminToken() == null ? admin
                    : new AdminAuth(config.adminToken(), meters, admin));
        }
        return new GracefulHandler(new ByConnector(listeners));
    }

    private void logStart() {
        logPublicStart();
        if (adminConnector == null) {
            return;
        }
        if (config.adminToken() != null) {
            LOG.info("admin listening on {} (metrics, dashboard, call state; bearer token required)", adminUri());
        } else if (isLoopback(config.adminHost())) {
            LOG.info("admin listening on {} (metrics, dashboard, call state; no {}: loopback only)", adminUri(),
                    IngressConfig.ADMIN_TOKEN_CONFIG);
        } else {
            LOG.warn("admin listening on {} without {}: anyone who reaches it reads call state (phone numbers, "
                    + "metadata) and metrics; set a token or bind {} to a private address",
                    adminUri(), IngressConfig.ADMIN_TOKEN_CONFIG, IngressConfig.ADMIN_HOST_CONFIG);
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }

    private void logPublicStart() {
        SignatureMode mode = signatureMode();
        if (producer == null) {
            LOG.info("ingress listening on {} without a producer: no webhook{}", uri(),
                    socketFrames != null ? "; the LLM WebSocket is served by a handler of its own" : ", no LLM WebSocket");
            return;
        }
        LOG.info("ingress listening on {} (webhook signature mode {}, max body {} bytes, ack timeout {} ms)",
                uri(), mode, config.maxBodyBytes(), config.ackTimeoutMs());
        if (socketFrames != null) {
            LOG.info("LLM WebSocket at {}{}{call_id}?token=... (idle timeout {} ms, max frame {} bytes)",
                    uri(), LLM_WEBSOCKET_PATH.substring(1), config.socketIdleTimeoutMs(), config.socketMaxFrameBytes());
            if (config.socketToken() == null) {
                LOG.warn("no {} configured: every LLM WebSocket is refused with 401 (no_token_configured)",
                        IngressConfig.SOCKET_TOKEN_CONFIG);
            }
        }
        if (mode == SignatureMode.INSECURE_SKIP) {
            LOG.warn("!!! {}=true: webhook signatures are NOT verified; anyone who can reach {} can inject call "
                    + "events. Never run this in production. !!!",
                    IngressConfig.WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG, uri());
        } else if (mode == SignatureMode.NO_API_KEY) {
            LOG.warn("no {} configured: every webhook is refused with 401 (no_api_key_configured)",
                    IngressConfig.RETELL_API_KEY_CONFIG);
        }
    }

    private void stopQuietly() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("ingress server did not stop cleanly", e);
        }
    }
}
