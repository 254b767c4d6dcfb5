package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The public listener's bounds: the header deadline, the idle timeout that spares WebSockets, and Jetty's connection
 * limit. A real Jetty server, raw sockets and a real WebSocket client.
 */
class PublicListenerLimitsTest {

    private static final String TOKEN = "tok_limits_0123456789";
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private IngressServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
    }

    @Test
    void shouldCloseAConnectionWhoseHeadersTrickleOrNeverCome() throws Exception {
        // Given headers due within 400 ms, and an idle timeout far away
        start(Map.of(IngressConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG, 400, IngressConfig.HTTP_IDLE_TIMEOUT_MS_CONFIG,
                60_000));

        try (Socket trickling = connect(); Socket silent = connect()) {
            // When one connection sends a request line and a header byte every 100 ms, and one sends nothing
            OutputStream out = trickling.getOutputStream();
            out.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            long start = System.nanoTime();
            boolean closed = false;
            while (!closed && System.nanoTime() - start < WAIT.toNanos()) {
                try {
                    out.write('a');
                    out.flush();
                    closed = RawHttp.closedWithin(trickling, 100);
                } catch (IOException e) {
                    closed = true;
                }
            }

            // Then both are closed by the server, and counted
            assertThat(closed).as("the trickling connection is closed").isTrue();
            assertThat(RawHttp.closedWithin(silent, WAIT.toMillis())).as("the silent connection is closed").isTrue();
        }
        assertThat(headerTimeouts()).isEqualTo(2.0);
    }

    @Test
    void shouldLeaveAKeptAliveConnectionThatIsMerelyIdleToTheIdleTimeout() throws Exception {
        // Given headers due within 300 ms
        start(Map.of(IngressConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG, 300, IngressConfig.HTTP_IDLE_TIMEOUT_MS_CONFIG,
                60_000));

        try (Socket socket = connect()) {
            // When a request is answered and the connection then stays quiet for several header timeouts
            assertThat(get(socket)).startsWith("HTTP/1.1 200");

            // Then it stays open, and serves the next request
            assertThat(RawHttp.closedWithin(socket, 1_200)).isFalse();
            assertThat(get(socket)).startsWith("HTTP/1.1 200");
        }
        assertThat(headerTimeouts()).isZero();
    }

    @Test
    void shouldNotCutAnIdleWebSocketByTheHttpDeadlines() throws Exception {
        // Given HTTP headers due within 300 ms and HTTP connections idle for at most 2 s, sockets idle for 30 s
        start(Map.of(IngressConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG, 300, IngressConfig.HTTP_IDLE_TIMEOUT_MS_CONFIG, 2_000,
                IngressConfig.SOCKET_IDLE_TIMEOUT_MS_CONFIG, 30_000));
        WebSocketClient client = new WebSocketClient();
        client.start();
        try {
            // When an LLM WebSocket opens and then sends nothing for 5 s
            RecordingClientEndpoint socket = new RecordingClientEndpoint();
            client.connect(socket, URI.create("ws://127.0.0.1:" + server.port() + "/llm-websocket/call_idle?token="
                    + TOKEN)).get(5, TimeUnit.SECONDS);

            // Then it is still open: a WebSocket keeps socket.idle-timeout-ms from its upgrade on
            await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(8)).until(() -> !socket.isClosed());
            socket.send("{\"interaction_type\":\"ping_pong\",\"timestamp\":1}");
            assertThat(socket.nextText()).contains("config");
        } finally {
            client.stop();
        }
        assertThat(headerTimeouts()).isZero();
    }

    @Test
    void shouldStopAcceptingAtTheConnectionLimitAndResumeWhenOneCloses() throws Exception {
        // Given a listener that holds at most two connections
        start(Map.of(IngressConfig.HTTP_MAX_CONNECTIONS_CONFIG, 2, IngressConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG, 60_000));

        try (Socket first = connect(); Socket second = connect()) {
            assertThat(get(first)).startsWith("HTTP/1.1 200");
            assertThat(get(second)).startsWith("HTTP/1.1 200");
            await().atMost(WAIT).until(() -> connections() == 2.0);

            // When a third connects (the kernel completes the handshake) and asks
            try (Socket third = connect()) {
                send(third);

                // Then it is not served while two are held
                assertThat(answerWithin(third, 700)).isNull();

                // When one closes, it is
                first.close();
                assertThat(answerWithin(third, WAIT.toMillis())).startsWith("HTTP/1.1 200");
            }
        }
    }

    private void start(Map<String, Object> overrides) {
        Map<String, Object> values = new HashMap<>(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.SOCKET_TOKEN_CONFIG, TOKEN));
        values.putAll(overrides);
        server = new IngressServer(new IngressConfig(values), Topics.defaults(), producer, meters, Clock.systemUTC(),
                "node-test")
                .withSockets(new RecordingEdgeListener(() -> producer.history().size()), null)
                .route("GET", "/healthz", q -> HttpReply.text(200, "ok"));
        server.start();
    }

    private Socket connect() throws IOException {
        return new Socket(server.uri().getHost(), server.port());
    }

    private static void send(Socket socket) throws IOException {
        socket.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
    }

    /** Sends a request on a kept-alive connection and reads its whole answer (2 bytes of body). */
    private static String get(Socket socket) throws IOException {
        send(socket);
        String answer = answerWithin(socket, WAIT.toMillis());
        assertThat(answer).as("an answer").isNotNull();
        return answer;
    }

    /** The answer's head and its two-byte body, or null when none started within the wait. */
    private static String answerWithin(Socket socket, long millis) throws IOException {
        socket.setSoTimeout((int) millis);
        InputStream in = socket.getInputStream();
        StringBuilder answer = new StringBuilder();
        try {
            int c;
            while ((c = in.read()) != -1) {
                answer.append((char) c);
                if (answer.toString().contains("\r\n\r\nok")) {
                    return answer.toString();
                }
            }
            return answer.length() == 0 ? null : answer.toString();
        } catch (SocketTimeoutException e) {
            return answer.length() == 0 ? null : answer.toString();
        }
    }

    private double headerTimeouts() {
        FunctionCounter counter = meters.find(IngressMetrics.HTTP_HEADER_TIMEOUTS).functionCounter();
        return counter == null ? -1 : counter.count();
    }

    private double connections() {
        return meters.find(IngressMetrics.HTTP_CONNECTIONS).gauge().value();
    }
}
