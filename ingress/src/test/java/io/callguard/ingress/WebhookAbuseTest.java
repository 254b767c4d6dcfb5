package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.retell.RetellSignature;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The webhook endpoint against clients that hold it open: a real Jetty server on the wall clock (the body rate is
 * judged on it), raw sockets for what a well-behaved client never does, and a producer that acknowledges at once.
 */
class WebhookAbuseTest {

    private static final String KEY = "key_abuse_0123456789";
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RetellSignature signer = new RetellSignature(KEY, Clock.systemUTC(), 0);
    private final HttpClient client = new HttpClient();
    private IngressServer server;

    @BeforeEach
    void startClient() throws Exception {
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (server != null) {
            server.stop();
        }
    }

    @Test
    void shouldHoldOneByteForABodyThatDeclaresAMebibyteAndSendsOne() throws Exception {
        // Given the default limits
        start(Map.of());

        // When a client declares a 1 MiB body and sends one byte of it
        try (Socket socket = rawWebhook(1_048_576)) {
            socket.getOutputStream().write('{');
            socket.getOutputStream().flush();

            // Then the request holds that byte, not the declared mebibyte
            await().atMost(WAIT).until(() -> inFlight() == 1.0);
        }

        // And gives it back when the client goes away
        await().atMost(WAIT).until(() -> inFlight() == 0.0);
    }

    @Test
    void shouldAnswer408AndCloseABodyThatFallsBehindTheMinimumRate() throws Exception {
        // Given bodies held to 1,000 bytes a second after 300 ms
        start(Map.of(IngressConfig.WEBHOOK_MIN_BODY_RATE_CONFIG, 1_000, IngressConfig.WEBHOOK_BODY_RATE_GRACE_MS_CONFIG,
                300));

        // When a client declares 5,000 bytes, sends 10 and then nothing
        try (Socket socket = rawWebhook(5_000)) {
            socket.getOutputStream().write(new byte[10]);
            socket.getOutputStream().flush();

            // Then it is answered 408 with the connection closed, well before any idle timeout
            String head = RawHttp.readHead(socket.getInputStream());
            assertThat(head).startsWith("HTTP/1.1 408").containsIgnoringCase("connection: close");
            assertThat(RawHttp.closedWithin(socket, WAIT.toMillis())).as("closed by the server").isTrue();
        }
        assertThat(rejected("body_too_slow")).isEqualTo(1);
        await().atMost(WAIT).until(() -> inFlight() == 0.0);
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldRefuseWith503WhenTheBodiesInFlightFillTheBudgetAndTakeTheNextOnceTheyLeave() throws Exception {
        // Given a budget of 4 KiB for all bodies together
        start(Map.of(IngressConfig.WEBHOOK_MAX_BODY_BYTES_CONFIG, 4_096,
                IngressConfig.WEBHOOK_BODY_BUDGET_BYTES_CONFIG, 4_096));
        byte[] webhook = paddedCallStarted(2_000);

        try (Socket holder = rawWebhook(4_000)) {
            // And a client that holds 3,000 bytes of a body
            holder.getOutputStream().write(new byte[3_000]);
            holder.getOutputStream().flush();
            await().atMost(WAIT).until(() -> inFlight() == 3_000.0);

            // When a signed webhook of 2,000 bytes comes
            ContentResponse refused = post(webhook);

            // Then it is refused, to be retried, and counted
            assertThat(refused.getStatus()).isEqualTo(503);
            assertThat(refused.getHeaders().get(HttpHeader.RETRY_AFTER)).isEqualTo("1");
            assertThat(rejected("body_budget_exhausted")).isEqualTo(1);
            assertThat(inFlight()).isEqualTo(3_000.0);
        }

        // When the holder is gone, the same webhook is taken
        await().atMost(WAIT).until(() -> inFlight() == 0.0);
        assertThat(post(webhook).getStatus()).isEqualTo(200);
        assertThat(producer.history()).hasSize(1);
        assertThat(inFlight()).isZero();
    }

    @Test
    void shouldKeepTheNumberOfSeriesFixedWhateverEventTypesComeIn() throws Exception {
        // Given one known webhook and 100 of 100 event types nobody knows, answered
        start(Map.of());
        assertThat(post(utf8("{\"event\":\"call_started\",\"call\":{\"call_id\":\"c0\"}}")).getStatus())
                .isEqualTo(200);
        postUnknownTypes(0, 100);
        int series = meters.getMeters().size();

        // When 100 more come, each of a type not seen before
        postUnknownTypes(100, 200);

        // Then no series was added: they all count under "other"
        assertThat(meters.getMeters()).hasSize(series);
        assertThat(meters.find(IngressMetrics.WEBHOOK_LATENCY).timers()).extracting(t -> t.getId().getTag("event"))
                .containsExactlyInAnyOrder("call_started", IngressMetrics.EVENT_OTHER);
        assertThat(meters.find(IngressMetrics.WEBHOOK_LATENCY).tag(IngressMetrics.TAG_EVENT, IngressMetrics.EVENT_OTHER)
                .timer().count()).isEqualTo(200);
    }

    private void postUnknownTypes(int from, int to) throws Exception {
        for (int i = from; i < to; i++) {
            String body = "{\"event\":\"made_up_" + i + "\",\"call\":{\"call_id\":\"c" + i + "\"}}";
            assertThat(post(utf8(body)).getStatus()).isEqualTo(200);
        }
    }

    private void start(Map<String, Object> overrides) {
        Map<String, Object> values = new HashMap<>(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.RETELL_API_KEY_CONFIG, KEY));
        values.putAll(overrides);
        server = new IngressServer(new IngressConfig(values), Topics.defaults(), producer, meters, Clock.systemUTC(),
                "node-test");
        server.start();
    }

    /** A raw connection that has sent a webhook's headers, declaring {@code length} bytes of body. */
    private Socket rawWebhook(int length) throws IOException {
        Socket socket = new Socket(server.uri().getHost(), server.port());
        socket.setSoTimeout((int) WAIT.toMillis());
        OutputStream out = socket.getOutputStream();
        out.write(("POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return socket;
    }

    private ContentResponse post(byte[] body) throws Exception {
        return client.newRequest(server.uri().resolve(IngressServer.WEBHOOK_PATH)).method(HttpMethod.POST)
                .headers(h -> h.put(RetellSignature.HEADER, signer.sign(body, System.currentTimeMillis())))
                .body(new BytesRequestContent("application/json", body)).timeout(5, TimeUnit.SECONDS).send();
    }

    private static byte[] utf8(String body) {
        return body.getBytes(StandardCharsets.UTF_8);
    }

    /** A call_started padded with spaces to {@code size} bytes. */
    private static byte[] paddedCallStarted(int size) {
        String json = "{\"event\":\"call_started\",\"call\":{\"call_id\":\"c_budget\"}}";
        return (json + " ".repeat(size - json.length())).getBytes(StandardCharsets.UTF_8);
    }

    private double inFlight() {
        Gauge gauge = meters.find(IngressMetrics.WEBHOOK_BODY_IN_FLIGHT).gauge();
        return gauge == null ? -1 : gauge.value();
    }

    private double rejected(String reason) {
        Counter counter = meters.find(IngressMetrics.WEBHOOKS_REJECTED).tag(IngressMetrics.TAG_REASON, reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
