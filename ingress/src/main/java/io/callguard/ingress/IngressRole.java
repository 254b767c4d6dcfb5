package io.callguard.ingress;

import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.retell.socket.SocketFrames;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The ingress role: the {@link IngressServer} (webhook, LLM WebSocket, the app's routes) and the producer of call
 * events it writes with. Without traffic (an instance that does not run the ingress role) it serves only the app's
 * routes and opens no producer. Routes and sockets are set up between construction and {@link #start()}; the
 * server and the producer are built in {@code start()}.
 */
public final class IngressRole implements Role {

    /** Bounded: close() alone would wait forever for records a stopped broker never acknowledges. */
    static final Duration PRODUCER_CLOSE_TIMEOUT = Duration.ofSeconds(3);

    private final RoleLifecycle lifecycle = new RoleLifecycle("ingress");
    private final IngressConfig config;
    private final Topics topics;
    private final MeterRegistry meters;
    private final Clock clock;
    private final String nodeId;
    private final Supplier<Producer<String, byte[]>> producers;
    private final List<Route> pendingRoutes = new ArrayList<>();
    private final List<Route> pendingAdminRoutes = new ArrayList<>();
    private final SocketFrames dialOutFrames = new StartedProtocolFrames();
    private InboundCapacity inboundCapacity = InboundCapacity.UNKNOWN;
    private EdgeListener listener;
    private Function<String, GreetingPolicy.Begin> begins;
    private SocketFrameHandler customFrames;
    private boolean sockets;
    private Producer<String, byte[]> producer;
    private KafkaClientMetrics producerMetrics;
    /** Volatile: health() reads it without the lock, which close() holds while the server drains requests. */
    private volatile IngressServer server;
    private volatile LlmSocketProtocol protocol;

    private record Route(String method, String path, HttpRoute route) {
    }

    /**
     * @param clients      the Kafka client factory (the producer is built from it at start)
     * @param takesTraffic whether this instance runs the ingress role (webhook and sockets, with a producer)
     * @param nodeId       this instance's node id, written as {@code edge_node} on every event
     */
    public IngressRole(IngressConfig config, KafkaClients clients, Topics topics, MeterRegistry meters, Clock clock,
                       String nodeId, boolean takesTraffic) {
        this(config, topics, meters, clock, nodeId, takesTraffic ? () -> new KafkaProducer<>(producerConfig(clients),
                new StringSerializer(), new ByteArraySerializer()) : null);
    }

    /** An ingress with a given producer factory (null: no ingress traffic), for tests. */
    IngressRole(IngressConfig config, Topics topics, MeterRegistry meters, Clock clock, String nodeId,
                Supplier<Producer<String, byte[]>> producers) {
        this.config = Objects.requireNonNull(config, "config");
        this.topics = Objects.requireNonNull(topics, "topics");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.nodeId = nodeId;
        this.producers = producers;
    }

    /** Settings of the ingress producer: servers and client id from {@code clients}, durability from here. */
    static Map<String, Object> producerConfig(KafkaClients clients) {
        Map<String, Object> p = clients.producer("callguard-ingress");
        // Acknowledge only what is durable: all in-sync replicas, no duplicates from producer retries.
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // turn.kafka-linger-ms: a Kafka request costs about the same whatever it carries (KafkaClients#turnLingerMs).
        p.put(ProducerConfig.LINGER_MS_CONFIG, clients.turnLingerMs());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 2_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        // max.request.size comes with the base: a webhook body at its size limit (or base64 in a dead letter) fits.
        return p;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /** True when this instance takes ingress traffic (webhook and sockets). */
    public boolean takesTraffic() {
        return producers != null;
    }

    /**
     * Adds a route of the app to the public listener (health, readiness); call before {@link #start()}. See
     * {@link IngressServer#route} for matching.
     */
    public synchronized IngressRole route(String method, String path, HttpRoute route) {
        requireCreated("routes");
        pendingRoutes.add(new Route(method, path, route));
        return this;
    }

    /**
     * Adds a route of the app to the admin listener (metrics, dashboard, queries); call before {@link #start()}.
     * See {@link IngressServer#adminRoute}.
     */
    public synchronized IngressRole adminRoute(String method, String path, HttpRoute route) {
        requireCreated("routes");
        pendingAdminRoutes.add(new Route(method, path, route));
        return this;
    }

    /**
     * What Retell's inbound-call webhook is answered from (see {@link IngressServer#withInboundCapacity}); call
     * before {@link #start()}.
     */
    public synchronized IngressRole withInboundCapacity(InboundCapacity view) {
        requireCreated("the inbound capacity view");
        this.inboundCapacity = Objects.requireNonNull(view, "view");
        return this;
    }

    /**
     * Serves the LLM WebSocket with the Kafka-backed protocol; call before {@link #start()}. Ignored without traffic.
     *
     * @param listener told about sockets and turns (the egress), and the writer of the begin message
     * @param begins   the begin message per call id (see {@link GreetingPolicy}); null: every socket a first open
     */
    public synchronized IngressRole withSockets(EdgeListener listener, Function<String, GreetingPolicy.Begin> begins) {
        requireCreated("sockets");
        requireNoSockets();
        this.listener = Objects.requireNonNull(listener, "listener");
        this.begins = begins;
        this.sockets = true;
        return this;
    }

    /**
     * Serves the LLM WebSocket with a handler of one's own instead of the protocol (see
     * {@link IngressServer#withSocketFrames}); call before {@link #start()}.
     */
    public synchronized IngressRole withSocketFrames(SocketFrameHandler handler) {
        requireCreated("sockets");
        requireNoSockets();
        this.customFrames = Objects.requireNonNull(handler, "handler");
        this.sockets = true;
        return this;
    }

    /** True when the LLM WebSocket is served (after {@link #withSockets} with traffic, or a handler of its own). */
    public synchronized boolean servesSockets() {
        return customFrames != null || (sockets && takesTraffic());
    }

    /**
     * The socket protocol, for sockets opened elsewhere (the egress's dial-out client): their frames take the same
     * path as dial-in ones. Usable once this role started; a frame before that is refused with
     * {@link IllegalStateException}.
     */
    public SocketFrames socketFrames() {
        return dialOutFrames;
    }

    @Override
    public synchronized void start() {
        lifecycle.starting();
        try {
            if (producers != null) {
                producer = producers.get();
                producerMetrics = new KafkaClientMetrics(producer);
                producerMetrics.bindTo(meters);
            }
            server = new IngressServer(config, topics, producer, meters, clock, nodeId);
            server.withInboundCapacity(inboundCapacity);
            if (customFrames != null) {
                server.withSocketFrames(customFrames);
            } else if (sockets) {
                server.withSockets(listener, begins);
            }
            for (Route r : pendingRoutes) {
                server.route(r.method(), r.path(), r.route());
            }
            for (Route r : pendingAdminRoutes) {
                server.adminRoute(r.method(), r.path(), r.route());
            }
            server.start();
            protocol = server.socketProtocol().orElse(null);
            lifecycle.transitionTo(RoleState.RUNNING);
        } catch (RuntimeException | Error e) {
            lifecycle.failed();
            throw e;
        }
    }

    /** Refuses every new LLM WebSocket from now on (see {@link IngressServer#stopAcceptingSockets()}); idempotent. */
    public void stopAcceptingSockets() {
        IngressServer current = server;
        if (current != null) {
            current.stopAcceptingSockets();
        }
    }

    /**
     * The HTTP server's health: {@code listening on URI} when it serves, else why not. The public URI only: this
     * is shown on the public listener's {@code /readyz}, which has no business telling where the admin listener is.
     */
    @Override
    public RoleHealth health() {
        RoleState state = lifecycle.state();
        IngressServer current = server;
        boolean up = state == RoleState.RUNNING && current != null && current.isRunning();
        return new RoleHealth(name(), state, up, up ? "listening on " + current.uri() : "not started or stopped");
    }

    /** The base URI of the HTTP server. @throws IllegalStateException before start */
    public synchronized URI uri() {
        requireServer();
        return server.uri();
    }

    /** The bound HTTP port. @throws IllegalStateException before start */
    public synchronized int port() {
        requireServer();
        return server.port();
    }

    /** The admin listener's base URI. @throws IllegalStateException before start, or without an admin route */
    public synchronized URI adminUri() {
        requireServer();
        return server.adminUri();
    }

    /** The admin listener's bound port. @throws IllegalStateException before start, or without an admin route */
    public synchronized int adminPort() {
        requireServer();
        return server.adminPort();
    }

    /**
     * Stops accepting connections on the public listener while the admin listener keeps serving (see
     * {@link IngressServer#shutdownPublicListener()}). @throws IllegalStateException before start
     */
    public synchronized CompletableFuture<Void> shutdownPublicListener() {
        requireServer();
        return server.shutdownPublicListener();
    }

    /** Stops the server (requests waiting for Kafka are answered first), then the producer; idempotent. */
    @Override
    public synchronized void close() {
        if (!lifecycle.stopping()) {
            return;
        }
        protocol = null;
        if (server != null) {
            server.stop();
        }
        if (producerMetrics != null) {
            producerMetrics.close();
        }
        if (producer != null) {
            producer.close(PRODUCER_CLOSE_TIMEOUT);
        }
        lifecycle.transitionTo(RoleState.STOPPED);
    }

    private void requireCreated(String what) {
        if (lifecycle.state() != RoleState.CREATED) {
            throw new IllegalStateException(what + " must be set up before start()");
        }
    }

    private void requireNoSockets() {
        if (sockets) {
            throw new IllegalStateException("sockets are already set up");
        }
    }

    private void requireServer() {
        if (server == null) {
            throw new IllegalStateException("the ingress is not started");
        }
    }

    /** The started protocol's frames; sockets of a role that is not started (or serves none) are refused. */
    private final class StartedProtocolFrames implements SocketFrames {

        @Override
        public void opened(CallSocket socket) {
            current().opened(socket);
        }

        @Override
        public void text(CallSocket socket, String frame) {
            current().text(socket, frame);
        }

        @Override
        public void closed(CallSocket socket, int code, String reason) {
            current().closed(socket, code, reason);
        }

        private LlmSocketProtocol current() {
            LlmSocketProtocol p = protocol;
            if (p == null) {
                throw new IllegalStateException("the ingress socket protocol is not running");
            }
            return p;
        }
    }
}
