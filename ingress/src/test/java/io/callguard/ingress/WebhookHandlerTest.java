package io.callguard.ingress;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.RetellSignature;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.NotEnoughReplicasException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.AsyncRequestContent;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.CompletableResponseListener;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A real Jetty server and a real Jetty client; Kafka's MockProducer acknowledges only when told to. */
class WebhookHandlerTest {

    private static final String KEY = "key_test_0123456789";
    private static final long NOW = 1_750_000_000_000L;
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Topics TOPICS = Topics.defaults();

    private HttpClient client;

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RetellSignature signer = new RetellSignature(KEY, fixedClock(NOW), 0);
    private IngressServer server;

    @BeforeEach
    void startClient() throws Exception {
        QueuedThreadPool threads = new QueuedThreadPool();
        threads.setName("test-http-client");
        client = new HttpClient();
        client.setExecutor(threads);
        client.start();
    }

    // The client goes first: the server's graceful stop waits about a second for open keep-alive connections.
    @AfterEach
    void stopClientThenServer() throws Exception {
        client.stop();
        if (server != null) {
            server.stop();
        }
    }

    // ---- accepted path

    @Test
    void shouldAnswerOnlyAfterKafkaAcknowledged() throws Exception {
        // Given a server and a signed call_started webhook
        start(Map.of());
        byte[] body = webhook("call_started", "call_1");

        // When it is posted
        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));

        // Then the record is produced, but nothing is answered before the ack
        await().atMost(WAIT).until(() -> producer.history().size() == 1);
        await().during(Duration.ofMillis(300)).atMost(WAIT).until(() -> !reply.isDone());

        // When Kafka acknowledges
        assertThat(producer.completeNext()).isTrue();

        // Then 200 with the event id of the produced record
        ContentResponse response = reply.get(5, TimeUnit.SECONDS);
        ProducerRecord<String, byte[]> record = producer.history().get(0);
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer().deserialize(record.topic(), record.value());
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree(
                "{\"status\":\"accepted\",\"event_id\":\"" + event.eventId() + "\"}"));
        assertThat(record.topic()).isEqualTo("callguard.call-events");
        assertThat(record.key()).isEqualTo("call_1");
        assertMatchesSchema(event);
        assertThat(event.schemaVersion()).isEqualTo(CallEvent.SCHEMA_VERSION);
        assertThat(event.callId()).isEqualTo("call_1");
        assertThat(event.source()).isEqualTo(EventSource.WEBHOOK);
        assertThat(event.type()).isEqualTo("call_started");
        assertThat(event.idempotencyKey()).isEqualTo("webhook|call_started|call_1");
        assertThat(event.receivedAtMs()).isEqualTo(NOW);
        assertThat(event.responseId()).isNull();
        assertThat(event.edgeNode()).isEqualTo("node-test");
        assertThat(event.payload()).isEqualTo(Json.mapper().readTree(body));
        Timer latency = timer("call_started", IngressMetrics.OUTCOME_ACCEPTED);
        assertThat(latency.count()).isEqualTo(1);
        assertThat(latency.takeSnapshot().percentileValues()).extracting(v -> v.percentile()).containsExactly(0.5, 0.99);
    }

    @Test
    void shouldAcceptUnknownEventTypeAndTagItOther() throws Exception {
        // Given
        start(Map.of());
        byte[] body = webhook("call_pondered", "call_2");

        // When
        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));
        await().atMost(WAIT).until(() -> producer.history().size() == 1);
        producer.completeNext();

        // Then
        assertThat(reply.get(5, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer()
                .deserialize(TOPICS.callEvents().name(), producer.history().get(0).value());
        assertThat(event.type()).isEqualTo("call_pondered");
        assertThat(event.idempotencyKey()).isEqualTo("webhook|call_pondered|call_2");
        assertThat(timer(IngressMetrics.EVENT_OTHER, IngressMetrics.OUTCOME_ACCEPTED).count()).isEqualTo(1);
    }

    @Test
    void shouldProduceTranscriptUpdatesWithoutIdempotencyKey() throws Exception {
        start(Map.of());
        byte[] body = webhook("transcript_updated", "call_3");

        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));
        await().atMost(WAIT).until(() -> producer.history().size() == 1);
        producer.completeNext();

        assertThat(reply.get(5, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer()
                .deserialize(TOPICS.callEvents().name(), producer.history().get(0).value());
        assertMatchesSchema(event);
        assertThat(event.idempotencyKey()).isNull();
    }

    @Test
    void shouldAnswerCallInboundWithoutProducing() throws Exception {
        // Given an inbound-call webhook: no call id yet
        start(Map.of());
        byte[] body = ("{\"event\":\"call_inbound\",\"event_timestamp\":1750000000000,\"call_inbound\":"
                + "{\"agent_id\":\"a\",\"from_number\":\"+15550001\",\"to_number\":\"+15550002\"}}")
                .getBytes(StandardCharsets.UTF_8);

        // When
        ContentResponse response = post(body, signer.sign(body, NOW));

        // Then "no override", and call-events untouched
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));
        assertThat(producer.history()).isEmpty();
        assertThat(timer("call_inbound", IngressMetrics.OUTCOME_ACCEPTED).count()).isEqualTo(1);
    }

    // ---- Kafka failing

    @Test
    void shouldAnswer503WhenKafkaRefusesTheRecord() throws Exception {
        // Given
        start(Map.of());
        byte[] body = webhook("call_ended", "call_4");
        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));
        await().atMost(WAIT).until(() -> producer.history().size() == 1);

        // When the send fails
        producer.errorNext(new NotEnoughReplicasException("not enough replicas"));

        // Then Retell is told to retry
        ContentResponse response = reply.get(5, TimeUnit.SECONDS);
        assertThat(response.getStatus()).isEqualTo(503);
        assertThat(response.getHeaders().get("Retry-After")).isEqualTo("1");
        assertThat(json(response).path("reason").asText()).isEqualTo("kafka_error");
        assertThat(rejected("kafka_error")).isEqualTo(1);
    }

    @Test
    void shouldAnswer503WithRetryAfterWhenNoAckInTime() throws Exception {
        // Given an ack timeout of 200 ms and a Kafka that never answers
        start(Map.of(IngressConfig.WEBHOOK_ACK_TIMEOUT_MS_CONFIG, 200L));
        byte[] body = webhook("call_ended", "call_5");

        // When
        ContentResponse response = postAsync(body, signer.sign(body, NOW)).get(5, TimeUnit.SECONDS);

        // Then
        assertThat(response.getStatus()).isEqualTo(503);
        assertThat(response.getHeaders().get("Retry-After")).isEqualTo("1");
        assertThat(json(response).path("reason").asText()).isEqualTo("ack_timeout");
        assertThat(producer.history()).hasSize(1);

        // When the ack arrives late, nothing more is answered or counted as accepted
        assertThat(producer.completeNext()).isTrue();
        assertThat(timer("call_ended", IngressMetrics.OUTCOME_REJECTED).count()).isEqualTo(1);
        assertThat(meters.find(IngressMetrics.WEBHOOK_LATENCY).tag(IngressMetrics.TAG_OUTCOME,
                IngressMetrics.OUTCOME_ACCEPTED).timer()).isNull();
        assertThat(rejected("ack_timeout")).isEqualTo(1);
    }

    @Test
    void shouldAnswerPendingWebhookBeforeStopping() throws Exception {
        // Given a webhook waiting for an ack that never comes
        start(Map.of(IngressConfig.WEBHOOK_ACK_TIMEOUT_MS_CONFIG, 300L));
        byte[] body = webhook("call_ended", "call_15");
        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));
        await().atMost(WAIT).until(() -> producer.history().size() == 1);

        // When the server stops meanwhile
        server.stop();

        // Then the caller still got its answer (503, so Retell retries elsewhere or later), not a dropped connection
        ContentResponse response = reply.get(5, TimeUnit.SECONDS);
        assertThat(response.getStatus()).isEqualTo(503);
        assertThat(json(response).path("reason").asText()).isEqualTo("ack_timeout");
    }

    @Test
    void shouldCountSlowWebhooks() throws Exception {
        // Given a slow threshold of 1 ms and an ack that comes later than that
        start(Map.of(IngressConfig.WEBHOOK_SLOW_THRESHOLD_MS_CONFIG, 1L));
        byte[] body = webhook("call_started", "call_6");
        CompletableFuture<ContentResponse> reply = postAsync(body, signer.sign(body, NOW));
        await().atMost(WAIT).until(() -> producer.history().size() == 1);
        await().during(Duration.ofMillis(50)).atMost(WAIT).until(() -> !reply.isDone());

        // When
        producer.completeNext();

        // Then
        assertThat(reply.get(5, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
        assertThat(meters.counter(IngressMetrics.WEBHOOK_SLOW, IngressMetrics.TAG_EVENT, "call_started",
                IngressMetrics.TAG_OUTCOME, IngressMetrics.OUTCOME_ACCEPTED).count())
                .isEqualTo(1.0);
    }

    // ---- signatures

    @Test
    void shouldRefuseBadSignature() throws Exception {
        start(Map.of());
        byte[] body = webhook("call_started", "call_7");
        String signedForAnotherBody = signer.sign(webhook("call_started", "call_8"), NOW);

        ContentResponse response = post(body, signedForAnotherBody);

        assertRefused(response, 401, "signature_mismatch");
        assertThat(response.getHeaders().get("WWW-Authenticate")).startsWith("Retell-Signature");
        assertThat(producer.history()).isEmpty();
        assertThat(rejected("signature_mismatch")).isEqualTo(1);
        assertThat(meters.find(IngressMetrics.DEAD_LETTERS).counters()).isEmpty();
    }

    @Test
    void shouldRefuseStaleSignature() throws Exception {
        // Given a server clock at NOW and a signature made 301 s before
        start(Map.of());
        byte[] body = webhook("call_started", "call_9");

        // When
        ContentResponse response = post(body, signer.sign(body, NOW - 301_000));

        // Then
        assertRefused(response, 401, "signature_stale");
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldRefuseMissingSignature() throws Exception {
        start(Map.of());

        ContentResponse response = post(webhook("call_started", "call_10"), null);

        assertRefused(response, 401, "signature_missing");
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldRefuseGarbageSignatureHeader() throws Exception {
        start(Map.of());

        ContentResponse response = post(webhook("call_started", "call_11"), "v=now,d=trust-me");

        assertRefused(response, 401, "signature_malformed");
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldRefuseEveryWebhookWhenNoApiKeyIsConfigured() throws Exception {
        // Given no retell.api-key
        Map<String, Object> noKey = new HashMap<>(baseConfig());
        noKey.remove(IngressConfig.RETELL_API_KEY_CONFIG);
        startWith(noKey);
        byte[] body = webhook("call_started", "call_12");

        // When even a correctly signed webhook arrives
        ContentResponse response = post(body, signer.sign(body, NOW));

        // Then
        assertThat(server.signatureMode()).isEqualTo(SignatureMode.NO_API_KEY);
        assertRefused(response, 401, "no_api_key_configured");
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldAcceptUnsignedWebhookInInsecureMode() throws Exception {
        // Given insecure mode and no key
        Map<String, Object> insecure = new HashMap<>(baseConfig());
        insecure.remove(IngressConfig.RETELL_API_KEY_CONFIG);
        insecure.put(IngressConfig.WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG, true);
        startWith(insecure);

        // When an unsigned webhook arrives
        CompletableFuture<ContentResponse> reply = postAsync(webhook("call_started", "call_13"), null);
        await().atMost(WAIT).until(() -> producer.history().size() == 1);
        producer.completeNext();

        // Then
        assertThat(server.signatureMode()).isEqualTo(SignatureMode.INSECURE_SKIP);
        assertThat(reply.get(5, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
    }

    // ---- size limit

    @Test
    void shouldRefuseOversizeBodyWithContentLength() throws Exception {
        // Given a limit of 1024 bytes
        start(Map.of(IngressConfig.WEBHOOK_MAX_BODY_BYTES_CONFIG, 1024));
        byte[] body = padded(2000);

        // When 2000 signed bytes are posted
        ContentResponse response = post(body, signer.sign(body, NOW));

        // Then
        assertRefused(response, 413, "body_too_large");
        assertThat(producer.history()).isEmpty();
        assertThat(rejected("body_too_large")).isEqualTo(1);
    }

    @Test
    void shouldRefuseOversizeChunkedBodyBeforeItEnds() throws Exception {
        // Given a limit of 1024 bytes and a client streaming without Content-Length
        start(Map.of(IngressConfig.WEBHOOK_MAX_BODY_BYTES_CONFIG, 1024));
        AsyncRequestContent content = new AsyncRequestContent("application/json");
        CompletableFuture<Integer> status = new CompletableFuture<>();
        client.newRequest(server.uri().resolve(IngressServer.WEBHOOK_PATH))
                .method(HttpMethod.POST).body(content).timeout(5, TimeUnit.SECONDS)
                .onResponseSuccess(r -> status.complete(r.getStatus()))
                .send(result -> status.complete(-1));

        // When 2000 bytes are sent and the body is never closed
        content.write(ByteBuffer.wrap(padded(1000)), Callback.NOOP);
        content.write(ByteBuffer.wrap(padded(1000)), Callback.NOOP);

        // Then 413 without waiting for the end of the body
        assertThat(status.get(5, TimeUnit.SECONDS)).isEqualTo(413);
        content.close();
        assertThat(rejected("body_too_large")).isEqualTo(1);
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldRefuseDeclaredOversizeBodyWithoutReadingIt() throws Exception {
        // Given a limit of 1024 bytes
        start(Map.of(IngressConfig.WEBHOOK_MAX_BODY_BYTES_CONFIG, 1024));

        // When a raw client declares a huge Content-Length and sends no body at all
        try (Socket socket = new Socket(server.uri().getHost(), server.port())) {
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();

            // Then the answer comes at once, from the header alone
            String head = RawHttp.readHead(socket.getInputStream());
            assertThat(head).startsWith("HTTP/1.1 413");
        }
        assertThat(producer.history()).isEmpty();
        assertThat(rejected("body_too_large")).isEqualTo(1);
    }

    // ---- dead letters

    @Test
    void shouldDeadLetterSignedBodyThatIsNotJson() throws Exception {
        // Given
        start(Map.of());
        byte[] body = "{\"event\":\"call_started\",\"call\":{\"call_id\":".getBytes(StandardCharsets.UTF_8);

        // When
        ContentResponse response = post(body, signer.sign(body, NOW));

        // Then 400, and exactly one dead letter holding the original bytes
        assertRefused(response, 400, "invalid_json");
        DeadLetter letter = onlyDeadLetter();
        assertThat(letter.reason()).isEqualTo("invalid_json");
        assertThat(letter.original()).isEqualTo(body);
        assertThat(letter.receivedAtMs()).isEqualTo(NOW);
        assertThat(deadLetters("invalid_json")).isEqualTo(1);
    }

    @Test
    void shouldDeadLetterWebhookWithoutCallId() throws Exception {
        // Given
        start(Map.of());
        byte[] body = "{\"event\":\"call_ended\",\"call\":{\"agent_id\":\"a\"}}".getBytes(StandardCharsets.UTF_8);

        // When
        ContentResponse response = post(body, signer.sign(body, NOW));

        // Then
        assertRefused(response, 400, "missing_call_id");
        DeadLetter letter = onlyDeadLetter();
        assertThat(letter.reason()).isEqualTo("missing_call_id");
        assertThat(letter.original()).isEqualTo(body);
        assertThat(deadLetters("missing_call_id")).isEqualTo(1);
        assertThat(rejected("missing_call_id")).isEqualTo(1);
    }

    @Test
    void shouldDeadLetterWebhookWithoutEventButKeepItsCallId() throws Exception {
        start(Map.of());
        byte[] body = "{\"call\":{\"call_id\":\"call_14\"}}".getBytes(StandardCharsets.UTF_8);

        ContentResponse response = post(body, signer.sign(body, NOW));

        assertRefused(response, 400, "missing_event");
        DeadLetter letter = onlyDeadLetter();
        assertThat(letter.callId()).isEqualTo("call_14");
    }

    @Test
    void shouldDeadLetterJsonThatIsNotAnObject() throws Exception {
        start(Map.of());
        byte[] body = "[1,2,3]".getBytes(StandardCharsets.UTF_8);

        ContentResponse response = post(body, signer.sign(body, NOW));

        assertRefused(response, 400, "not_an_object");
        assertThat(onlyDeadLetter().original()).isEqualTo(body);
    }

    // ---- routing

    @Test
    void shouldRefuseGetOnWebhook() throws Exception {
        start(Map.of());

        ContentResponse response = client.newRequest(server.uri().resolve(IngressServer.WEBHOOK_PATH))
                .method(HttpMethod.GET).timeout(5, TimeUnit.SECONDS).send();

        assertThat(response.getStatus()).isEqualTo(405);
        assertThat(response.getHeaders().get("Allow")).isEqualTo("POST");
        assertThat(json(response).path("reason").asText()).isEqualTo("method_not_allowed");
    }

    @Test
    void shouldServeCustomRoutes() throws Exception {
        // Given an exact route, a prefix route, and a failing route
        server = newServer(baseConfig())
                .route("GET", "/healthz", q -> HttpReply.text(200, "ok"))
                .route("GET", "/calls/", q -> HttpReply.json(200, Map.of("path", q.path(), "query", q.query())))
                .route("GET", "/boom", q -> {
                    throw new IllegalStateException("secret internals");
                });
        server.start();

        // When / Then
        ContentResponse health = get("/healthz");
        assertThat(health.getStatus()).isEqualTo(200);
        assertThat(health.getMediaType()).isEqualTo("text/plain");
        assertThat(health.getContentAsString()).isEqualTo("ok");

        ContentResponse call = get("/calls/abc?verbose=true&verbose=false");
        assertThat(call.getStatus()).isEqualTo(200);
        assertThat(json(call)).isEqualTo(Json.mapper().readTree(
                "{\"path\":\"/calls/abc\",\"query\":{\"verbose\":\"true\"}}"));

        assertThat(get("/calls").getStatus()).isEqualTo(404);
        assertThat(get("/calls/").getStatus()).isEqualTo(404);
        ContentResponse unknown = get("/nope");
        assertThat(unknown.getStatus()).isEqualTo(404);
        assertThat(json(unknown).path("reason").asText()).isEqualTo("not_found");

        ContentResponse boom = get("/boom");
        assertThat(boom.getStatus()).isEqualTo(500);
        assertThat(boom.getContentAsString()).doesNotContain("secret internals");

        ContentResponse wrongMethod = client.newRequest(server.uri().resolve("/healthz")).method(HttpMethod.POST)
                .timeout(5, TimeUnit.SECONDS).send();
        assertThat(wrongMethod.getStatus()).isEqualTo(405);
    }

    // ---- helpers

    private static Clock fixedClock(long ms) {
        return Clock.fixed(Instant.ofEpochMilli(ms), ZoneOffset.UTC);
    }

    private static Map<String, Object> baseConfig() {
        return Map.of(IngressConfig.HTTP_PORT_CONFIG, 0, IngressConfig.RETELL_API_KEY_CONFIG, KEY);
    }

    private void start(Map<String, Object> overrides) {
        Map<String, Object> values = new HashMap<>(baseConfig());
        values.putAll(overrides);
        startWith(values);
    }

    private void startWith(Map<String, Object> values) {
        server = newServer(values);
        server.start();
    }

    private IngressServer newServer(Map<String, Object> values) {
        return new IngressServer(new IngressConfig(values), TOPICS, producer, meters, fixedClock(NOW), "node-test");
    }

    private static byte[] webhook(String event, String callId) {
        return ("{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"" + callId + "\",\"agent_id\":\"agent_1\","
                + "\"call_status\":\"ongoing\",\"start_timestamp\":1750000000000,\"transcript\":\"José: hola\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] padded(int size) {
        byte[] bytes = new byte[size];
        java.util.Arrays.fill(bytes, (byte) ' ');
        return bytes;
    }

    private Request webhookRequest(byte[] body, String signature) {
        Request request = client.newRequest(server.uri().resolve(IngressServer.WEBHOOK_PATH))
                .method(HttpMethod.POST)
                .body(new BytesRequestContent("application/json", body))
                .timeout(5, TimeUnit.SECONDS);
        if (signature != null) {
            request.headers(h -> h.put(RetellSignature.HEADER, signature));
        }
        return request;
    }

    private CompletableFuture<ContentResponse> postAsync(byte[] body, String signature) {
        return new CompletableResponseListener(webhookRequest(body, signature)).send();
    }

    private ContentResponse post(byte[] body, String signature) throws Exception {
        return webhookRequest(body, signature).send();
    }

    private ContentResponse get(String path) throws Exception {
        return client.newRequest(server.uri().resolve(path)).timeout(5, TimeUnit.SECONDS).send();
    }

    private static JsonNode json(ContentResponse response) throws IOException {
        assertThat(response.getMediaType()).isEqualTo("application/json");
        return Json.mapper().readTree(response.getContent());
    }

    private static void assertRefused(ContentResponse response, int status, String reason) throws IOException {
        assertThat(response.getStatus()).isEqualTo(status);
        JsonNode body = json(response);
        assertThat(body.path("reason").asText()).isEqualTo(reason);
        assertThat(body.path("error").asText()).isNotBlank();
    }

    private DeadLetter onlyDeadLetter() {
        List<ProducerRecord<String, byte[]>> history = producer.history();
        assertThat(history).hasSize(1);
        ProducerRecord<String, byte[]> record = history.get(0);
        assertThat(record.topic()).isEqualTo("callguard.dead-letters");
        assertThat(record.key()).isEqualTo("webhook");
        DeadLetter letter = TOPICS.deadLetters().valueSerde().deserializer().deserialize(record.topic(), record.value());
        assertMatchesSchema(letter);
        assertThat(letter.source()).isEqualTo("webhook");
        return letter;
    }

    private Timer timer(String event, String outcome) {
        Timer timer = meters.find(IngressMetrics.WEBHOOK_LATENCY)
                .tag(IngressMetrics.TAG_EVENT, event).tag(IngressMetrics.TAG_OUTCOME, outcome).timer();
        assertThat(timer).as("timer event=%s outcome=%s", event, outcome).isNotNull();
        return timer;
    }

    private double rejected(String reason) {
        Counter counter = meters.find(IngressMetrics.WEBHOOKS_REJECTED).tag(IngressMetrics.TAG_REASON, reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private double deadLetters(String reason) {
        Counter counter = meters.find(IngressMetrics.DEAD_LETTERS)
                .tag(IngressMetrics.TAG_SOURCE, "webhook").tag(IngressMetrics.TAG_REASON, reason).counter();
        return counter == null ? 0 : counter.count();
    }
}
