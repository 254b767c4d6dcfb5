package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The admin listener beside the public one, on one real Jetty server: which routes each serves, and its token. */
class AdminListenerTest {

    private static final String ADMIN_TOKEN = "adm-T0ken-never-logged";
    /** The admin routes the app adds (Gateway), here each answering its own path. */
    private static final List<String> ADMIN_PATHS = List.of("/metrics", "/dashboard", "/capacity", "/calls/", "/");

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final HttpClient client = new HttpClient();
    private IngressServer server;

    @BeforeEach
    void startClient() throws Exception {
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        // The client first: a graceful stop waits for its keep-alive connections otherwise.
        client.stop();
        if (server != null) {
            server.stop();
        }
    }

    /** A started server with the app's public and admin routes, on any free ports, and these settings. */
    private IngressServer start(Map<String, Object> settings) {
        Map<String, Object> values = new HashMap<>(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.ADMIN_PORT_CONFIG, 0, IngressConfig.RETELL_API_KEY_CONFIG, "k"));
        values.putAll(settings);
        server = new IngressServer(new IngressConfig(values), Topics.defaults(), producer, meters, Clock.systemUTC(),
                "node-test")
                .route("GET", "/healthz", q -> HttpReply.text(200, "live"))
                .route("GET", "/readyz", q -> HttpReply.text(200, "ready"));
        for (String path : ADMIN_PATHS) {
            server.adminRoute("GET", path, q -> HttpReply.text(200, "served " + q.path()));
        }
        server.start();
        return server;
    }

    private ContentResponse get(URI base, String path, String authorization) throws Exception {
        var request = client.newRequest(base.resolve(path)).method(HttpMethod.GET).timeout(5, TimeUnit.SECONDS);
        if (authorization != null) {
            request.headers(h -> h.put(HttpHeader.AUTHORIZATION, authorization));
        }
        return request.send();
    }

    private static JsonNode json(ContentResponse response) throws IOException {
        return Json.mapper().readTree(response.getContent());
    }

    @Test
    void shouldServeTheAdminRoutesOnlyOnTheAdminListener() throws Exception {
        // Given a server with the public routes and the admin routes
        start(Map.of());
        assertThat(server.adminPort()).isPositive().isNotEqualTo(server.port());

        // Then the public listener knows none of the admin routes: 404 with the JSON error body
        for (String path : List.of("/metrics", "/dashboard", "/capacity", "/calls/x", "/")) {
            ContentResponse onPublic = get(server.uri(), path, null);
            assertThat(onPublic.getStatus()).as("public " + path).isEqualTo(404);
            assertThat(json(onPublic).path("reason").asText()).isEqualTo("not_found");
        }
        // And the admin listener serves each of them
        for (String path : List.of("/metrics", "/dashboard", "/capacity", "/calls/x", "/")) {
            ContentResponse onAdmin = get(server.adminUri(), path, null);
            assertThat(onAdmin.getStatus()).as("admin " + path).isEqualTo(200);
            assertThat(onAdmin.getContentAsString()).isEqualTo("served " + path);
        }
        // And the public routes stay public: health answers there, the webhook too, neither on the admin listener
        assertThat(get(server.uri(), "/healthz", null).getContentAsString()).isEqualTo("live");
        assertThat(get(server.uri(), "/readyz", null).getContentAsString()).isEqualTo("ready");
        assertThat(client.POST(server.uri().resolve(IngressServer.WEBHOOK_PATH)).send().getStatus()).isEqualTo(401);
        assertThat(get(server.adminUri(), "/healthz", null).getStatus()).isEqualTo(404);
        assertThat(client.POST(server.adminUri().resolve(IngressServer.WEBHOOK_PATH)).send().getStatus())
                .isEqualTo(404);
    }

    @Test
    void shouldAskForTheTokenOnTheAdminListenerOnly() throws Exception {
        // Given a server with an admin token
        start(Map.of(IngressConfig.ADMIN_TOKEN_CONFIG, ADMIN_TOKEN));

        // When admin requests come without a token, with another, and with another scheme
        ContentResponse missing = get(server.adminUri(), "/calls/x", null);
        ContentResponse wrong = get(server.adminUri(), "/metrics", "Bearer " + ADMIN_TOKEN + "x");
        ContentResponse prefix = get(server.adminUri(), "/metrics", "Bearer " + ADMIN_TOKEN.substring(1));
        ContentResponse otherScheme = get(server.adminUri(), "/metrics", "Token " + ADMIN_TOKEN);

        // Then each is refused with 401, a JSON error and the challenges, and counted by reason
        assertThat(List.of(missing, wrong, prefix, otherScheme)).allSatisfy(r -> {
            assertThat(r.getStatus()).isEqualTo(401);
            assertThat(r.getContentAsString()).doesNotContain("served ").doesNotContain(ADMIN_TOKEN);
            assertThat(r.getHeaders().getValuesList(HttpHeader.WWW_AUTHENTICATE))
                    .anySatisfy(v -> assertThat(v).startsWith("Bearer "))
                    .anySatisfy(v -> assertThat(v).startsWith("Basic "));
        });
        assertThat(json(missing).path("reason").asText()).isEqualTo("missing_token");
        assertThat(json(wrong).path("reason").asText()).isEqualTo("wrong_token");
        assertThat(json(prefix).path("reason").asText()).isEqualTo("wrong_token");
        assertThat(json(otherScheme).path("reason").asText()).isEqualTo("missing_token");
        assertThat(meters.counter(IngressMetrics.ADMIN_AUTH_FAILURES, IngressMetrics.TAG_REASON, "missing_token")
                .count()).isEqualTo(2.0);
        assertThat(meters.counter(IngressMetrics.ADMIN_AUTH_FAILURES, IngressMetrics.TAG_REASON, "wrong_token")
                .count()).isEqualTo(2.0);

        // And the right token passes, as a bearer token or as a browser's Basic password
        ContentResponse bearer = get(server.adminUri(), "/calls/x", "Bearer " + ADMIN_TOKEN);
        assertThat(bearer.getStatus()).isEqualTo(200);
        assertThat(bearer.getContentAsString()).isEqualTo("served /calls/x");
        String basic = Base64.getEncoder().encodeToString(("ops:" + ADMIN_TOKEN).getBytes(StandardCharsets.UTF_8));
        assertThat(get(server.adminUri(), "/", "Basic " + basic).getStatus()).isEqualTo(200);
        String wrongBasic = Base64.getEncoder().encodeToString(("ops:nope").getBytes(StandardCharsets.UTF_8));
        assertThat(get(server.adminUri(), "/", "Basic " + wrongBasic).getStatus()).isEqualTo(401);
        assertThat(get(server.adminUri(), "/", "Basic not-base64!").getStatus()).isEqualTo(401);

        // And the public listener asks for no admin token
        assertThat(get(server.uri(), "/healthz", null).getStatus()).isEqualTo(200);
        assertThat(get(server.uri(), "/metrics", "Bearer " + ADMIN_TOKEN).getStatus()).isEqualTo(404);
    }

    @Test
    void shouldNeverLogTheAdminToken() throws Exception {
        // Given a recorder of every log line, the admin gate's debug lines included
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger gate = (Logger) LoggerFactory.getLogger("io.callguard.ingress.internal.AdminAuth");
        Level before = gate.getLevel();
        gate.setLevel(Level.DEBUG);
        ListAppender<ILoggingEvent> recorded = new ListAppender<>();
        recorded.start();
        root.addAppender(recorded);
        try {
            // When a server with the token starts, is asked with the right, a wrong and no token, and stops
            start(Map.of(IngressConfig.ADMIN_TOKEN_CONFIG, ADMIN_TOKEN));
            get(server.adminUri(), "/metrics", "Bearer " + ADMIN_TOKEN);
            get(server.adminUri(), "/metrics", "Bearer " + ADMIN_TOKEN + "-wrong");
            get(server.adminUri(), "/metrics", null);
            client.stop();
            server.stop();

            // Then the start says the admin listener needs a token, a refusal is logged, and no line shows it
            assertThat(recorded.list).filteredOn(e -> e.getFormattedMessage().startsWith("admin listening on"))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getFormattedMessage()).contains("bearer token required"));
            assertThat(recorded.list).anyMatch(e -> e.getFormattedMessage().contains("refused with 401"));
            assertThat(recorded.list).noneMatch(e -> e.getFormattedMessage().contains(ADMIN_TOKEN)
                    || String.valueOf(e.getThrowableProxy()).contains(ADMIN_TOKEN));
        } finally {
            root.detachAppender(recorded);
            gate.setLevel(before);
        }
    }

    @Test
    void shouldWarnOfAnAdminListenerOffLoopbackWithoutAToken() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> recorded = new ListAppender<>();
        recorded.start();
        root.addAppender(recorded);
        try {
            start(Map.of(IngressConfig.ADMIN_HOST_CONFIG, "0.0.0.0"));

            assertThat(recorded.list).filteredOn(e -> e.getFormattedMessage().startsWith("admin listening on"))
                    .singleElement()
                    .satisfies(e -> {
                        assertThat(e.getLevel()).isEqualTo(Level.WARN);
                        assertThat(e.getFormattedMessage()).contains("without admin.token");
                    });
        } finally {
            root.detachAppender(recorded);
        }
    }

    @Test
    void shouldBindTheAdminListenerToLoopbackByDefault() throws Exception {
        // Given an address of this machine other than loopback, and the public listener on every address
        Optional<InetAddress> external = nonLoopbackAddress();
        assumeThat(external).as("a non-loopback IPv4 address on this machine").isPresent();
        start(Map.of(IngressConfig.HTTP_HOST_CONFIG, "0.0.0.0"));
        assertThat(server.adminUri().getHost()).isEqualTo("127.0.0.1");

        // Then that address reaches the public listener, not the admin one; loopback reaches both
        assertThat(connects(external.get(), server.port())).as("public listener on " + external.get()).isTrue();
        assertThat(connects(external.get(), server.adminPort())).as("admin listener on " + external.get()).isFalse();
        assertThat(connects(InetAddress.getLoopbackAddress(), server.adminPort())).isTrue();
    }

    @Test
    void shouldStopAcceptingOnThePublicListenerWhileTheAdminOneServes() throws Exception {
        // Given a started server that served a public request
        start(Map.of());
        int publicPort = server.port();
        assertThat(get(server.uri(), "/healthz", null).getStatus()).isEqualTo(200);

        // When the public listener alone is shut down, and the client's keep-alive connection goes away
        var drained = server.shutdownPublicListener();
        client.stop();
        client.start();

        // Then new public connections are refused, the admin listener still serves, and the drain completes
        assertThat(connects(InetAddress.getLoopbackAddress(), publicPort)).isFalse();
        assertThat(get(server.adminUri(), "/metrics", null).getStatus()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(drained::isDone);
        assertThat(server.isRunning()).isTrue();
    }

    @Test
    void shouldNameTheAdminListenerWhenItsPortIsTakenAndLeaveNoThreadBehind() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThatThrownBy(() -> start(Map.of(IngressConfig.ADMIN_PORT_CONFIG, taken.getLocalPort())))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining(String.valueOf(taken.getLocalPort()))
                    .hasMessageContaining("admin listener");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("callguard-ingress")));
    }

    @Test
    void shouldBindNoAdminListenerWithoutAdminRoutes() {
        server = new IngressServer(new IngressConfig(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0)), Topics.defaults(),
                producer, meters, Clock.systemUTC(), "node-test");
        server.start();

        assertThat(server.hasAdminListener()).isFalse();
        assertThatThrownBy(server::adminUri).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no admin route");
    }

    private static boolean isUp(NetworkInterface nic) {
        try {
            return nic.isUp();
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean connects(InetAddress address, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 2_000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws IOException {
        return NetworkInterface.networkInterfaces().filter(AdminListenerTest::isUp)
                .flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
                .findFirst();
    }
}
