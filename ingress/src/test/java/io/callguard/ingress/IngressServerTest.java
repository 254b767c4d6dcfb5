package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class IngressServerTest {

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());

    private IngressServer server(Map<String, Object> values) {
        return new IngressServer(new IngressConfig(values), Topics.defaults(), producer, new SimpleMeterRegistry(),
                Clock.systemUTC(), "node-test");
    }

    @Test
    void shouldBindAnyFreePortAndLeaveNoThreadBehind() throws Exception {
        // Given a started server on port 0 that served a request
        IngressServer server = server(Map.of("http.port", 0, "retell.api-key", "k"))
                .route("GET", "/healthz", q -> HttpReply.text(200, "ok"));
        server.start();
        assertThat(server.port()).isPositive();
        assertThat(server.uri().toString()).isEqualTo("http://127.0.0.1:" + server.port() + "/");
        HttpClient client = new HttpClient();
        client.start();
        try {
            ContentResponse response = client.GET(server.uri().resolve("/healthz"));
            assertThat(response.getContentAsString()).isEqualTo("ok");
        } finally {
            client.stop();
        }

        // When
        server.stop();

        // Then every thread it started is gone, and stop is idempotent
        await().atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("callguard-ingress")));
        server.close();
    }

    @Test
    void shouldRefuseRoutesAfterStartAndSecondStart() {
        try (IngressServer server = server(Map.of("http.port", 0))) {
            server.start();

            assertThatThrownBy(() -> server.route("GET", "/late", q -> HttpReply.text(200, "")))
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void shouldRefuseDuplicateAndInvalidRoutes() {
        IngressServer server = server(Map.of("http.port", 0)).route("GET", "/healthz", q -> HttpReply.text(200, ""));

        assertThatThrownBy(() -> server.route("get", "/healthz", q -> HttpReply.text(200, "")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> server.route("POST", IngressServer.WEBHOOK_PATH, q -> HttpReply.text(200, "")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> server.route("GET", "healthz", q -> HttpReply.text(200, "")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldFailToStartOnAPortInUseAndLeaveNoThreadBehind() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            IngressServer server = server(Map.of("http.port", taken.getLocalPort()));

            assertThatThrownBy(server::start).isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining(String.valueOf(taken.getLocalPort()));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("callguard-ingress")));
    }

    @Test
    void shouldLogStartWithoutTheApiKey() {
        // Given a recorder of every log line
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> recorded = new ListAppender<>();
        recorded.start();
        root.addAppender(recorded);
        try (IngressServer server = server(Map.of("http.port", 0, "retell.api-key", "super-secret-key"))) {
            // When
            server.start();
            server.stop();

            // Then one start line names port and mode, and no line shows the key
            assertThat(recorded.list).filteredOn(e -> e.getFormattedMessage().startsWith("ingress listening on"))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getFormattedMessage()).contains("VERIFY"));
            assertThat(recorded.list).noneMatch(e -> e.getFormattedMessage().contains("super-secret-key")
                    || String.valueOf(e.getThrowableProxy()).contains("super-secret-key"));
        } finally {
            root.detachAppender(recorded);
        }
    }

    @Test
    void shouldServeOnlyAppRoutesWithoutAProducer() throws Exception {
        // Given a server of an instance without the ingress role, asked for sockets too
        IngressServer server = new IngressServer(new IngressConfig(Map.of("http.port", 0, "socket.token", "t")),
                Topics.defaults(), null, new SimpleMeterRegistry(), Clock.systemUTC(), "node-test")
                .withSockets(EdgeListener.NONE, null)
                .route("GET", "/healthz", q -> HttpReply.text(200, "ok"));
        assertThat(server.socketProtocol()).isEmpty();
        server.start();
        assertThat(server.isRunning()).isTrue();
        HttpClient client = new HttpClient();
        client.start();
        try {
            // Then health answers, the webhook and the socket route do not exist
            assertThat(client.GET(server.uri().resolve("/healthz")).getStatus()).isEqualTo(200);
            assertThat(client.POST(server.uri().resolve(IngressServer.WEBHOOK_PATH)).send().getStatus())
                    .isEqualTo(404);
            assertThat(client.GET(server.uri().resolve("/llm-websocket/call_1?token=t")).getStatus()).isEqualTo(404);
        } finally {
            // The client first: a graceful stop waits for its keep-alive connection otherwise.
            client.stop();
            server.stop();
        }
        assertThat(server.isRunning()).isFalse();
    }

    @Test
    void shouldMountTheSocketRouteOnlyWhenAsked() throws Exception {
        IngressServer server = server(Map.of("http.port", 0, "socket.token", "t"));
        assertThat(server.socketProtocol()).isEmpty();
        server.start();
        HttpClient client = new HttpClient();
        client.start();
        try {
            assertThat(client.GET(server.uri().resolve("/llm-websocket/call_1?token=t")).getStatus()).isEqualTo(404);
        } finally {
            client.stop();
            server.stop();
        }
    }

    @Test
    void shouldHandOutTheSocketProtocolAndRefuseLateOrRepeatedSetup() {
        try (IngressServer server = server(Map.of("http.port", 0))) {
            server.withSockets(EdgeListener.NONE, null);
            assertThat(server.socketProtocol()).isPresent();
            assertThatThrownBy(() -> server.withSockets(EdgeListener.NONE, null))
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> server.route("GET", IngressServer.LLM_WEBSOCKET_PATH, q -> HttpReply.text(200, "")))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        try (IngressServer started = server(Map.of("http.port", 0))) {
            started.start();
            assertThatThrownBy(() -> started.withSockets(EdgeListener.NONE, null))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("before start()");
        }
    }

    @Test
    void shouldReportSignatureMode() {
        assertThat(server(Map.of()).signatureMode()).isEqualTo(SignatureMode.NO_API_KEY);
        assertThat(server(Map.of("retell.api-key", "k")).signatureMode()).isEqualTo(SignatureMode.VERIFY);
        assertThat(server(Map.of("webhook.insecure-skip-signature", true)).signatureMode())
                .isEqualTo(SignatureMode.INSECURE_SKIP);
    }

    @Test
    void shouldBuildJsonAndTextReplies() {
        HttpReply json = HttpReply.json(200, Map.of("call_id", "c-1"));
        assertThat(json.contentType()).isEqualTo("application/json");
        assertThat(new String(json.body(), StandardCharsets.UTF_8)).isEqualTo("{\"call_id\":\"c-1\"}");
        assertThat(HttpReply.text(503, "busy")).isEqualTo(HttpReply.text(503, "busy"));
        assertThatThrownBy(() -> new HttpReply(42, null, null)).isInstanceOf(IllegalArgumentException.class);
    }
}
