package io.callguard.app;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The webhook path end to end: real broker, real Jetty, real Kafka Streams with RocksDB, real HTTP. */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayWebhookIT {

    private static final String API_KEY = "it-secret-key";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path dataDir;

    private Gateway gateway;
    private Topics topics;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void startGateway() {
        GatewayConfig config = GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", API_KEY, "topics.partitions", "3",
                "webhook.max-body-bytes", "4096"));
        topics = config.common().topics();
        gateway = new Gateway(config, Clock.systemUTC()).start();
        await().atMost(WAIT).until(() -> gateway.processor().isRunning());
    }

    @AfterAll
    void stopGateway() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldAcknowledgeSignedWebhookAfterKafkaAndFoldItIntoCallState() throws Exception {
        // Given a call_started signed as Retell signs it
        String body = RetellWebhooks.body("call_started", "call-ok");

        // When it is delivered
        HttpResponse<String> response = post(body, RetellWebhooks.sign(API_KEY, utf8(body), System.currentTimeMillis()));

        // Then it is acknowledged, is on call-events, and the call's state appears on call-state
        assertThat(response.statusCode()).isEqualTo(200);
        try (TopicReader<CallEvent> events = reader(topics.callEvents().name(), topics.callEvents());
             TopicReader<CallState> states = reader(topics.callState().name(), topics.callState())) {
            await().atMost(WAIT).until(() -> !events.valuesFor("call-ok").isEmpty());
            CallEvent event = events.valuesFor("call-ok").get(0);
            assertThat(event.type()).isEqualTo("call_started");
            assertThat(event.idempotencyKey()).isEqualTo("webhook|call_started|call-ok");
            assertMatchesSchema(event);

            await().atMost(WAIT).until(() -> !states.valuesFor("call-ok").isEmpty());
            CallState state = last(states.valuesFor("call-ok"));
            assertThat(state.status()).isEqualTo(CallStatus.ACTIVE);
            assertThat(state.agentId()).isEqualTo("agent_7");
            assertThat(state.fromNumber()).isEqualTo("+15550001");
            assertMatchesSchema(state);
        }
    }

    @Test
    void shouldApplyTheSameWebhookSentThreeTimesOnce() throws Exception {
        // Given one call_ended delivered three times (Retell retries; duplicates are normal)
        String started = RetellWebhooks.body("call_started", "call-dup");
        String ended = RetellWebhooks.body("call_ended", "call-dup");
        assertThat(post(started, sign(started)).statusCode()).isEqualTo(200);
        for (int i = 0; i < 3; i++) {
            assertThat(post(ended, sign(ended)).statusCode()).isEqualTo(200);
        }

        // Then all three are on call-events, but the state changed once for call_ended
        try (TopicReader<CallEvent> events = reader(topics.callEvents().name(), topics.callEvents());
             TopicReader<CallState> states = reader(topics.callState().name(), topics.callState())) {
            await().atMost(WAIT).until(() -> events.valuesFor("call-dup").size() == 4);
            await().atMost(WAIT).until(() -> states.valuesFor("call-dup").stream()
                    .anyMatch(s -> s != null && s.status() == CallStatus.ENDED));
            // Give the two duplicates time to be processed: the dedupe counter shows they were seen.
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-dup")
                    .map(s -> s.duplicatesDropped() == 2).orElse(false));
            List<CallState> changes = states.valuesFor("call-dup").stream().filter(s -> s != null).toList();
            assertThat(changes.stream().filter(CallState::ended).map(CallState::eventsApplied).distinct())
                    .as("call_ended applied once: every state after it has the same count of applied events")
                    .hasSize(1);
            CallState finalState = gateway.processor().callState("call-dup").orElseThrow();
            assertThat(finalState.eventsApplied()).isEqualTo(2);
            assertThat(finalState.disconnectionReason()).isEqualTo("user_hangup");
        }
    }

    @Test
    void shouldRefuseBadInputAndKeepItOutOfTheState() throws Exception {
        String body = RetellWebhooks.body("call_started", "call-bad");
        long now = System.currentTimeMillis();

        // Bad signature, wrong key, stale timestamp, missing header: 401
        assertThat(post(body, RetellWebhooks.sign("another-key", utf8(body), now)).statusCode()).isEqualTo(401);
        assertThat(post(body, RetellWebhooks.sign(API_KEY, utf8(body), now - 301_000)).statusCode()).isEqualTo(401);
        assertThat(post(body, RetellWebhooks.sign(API_KEY, utf8(body), now / 1000)).statusCode()).isEqualTo(401);
        assertThat(post(body, null).statusCode()).isEqualTo(401);
        String tampered = body.replace("agent_7", "agent_8");
        assertThat(post(tampered, sign(body)).statusCode()).isEqualTo(401);

        // Over the size limit: 413
        String huge = RetellWebhooks.body("call_started", "call-bad").replace("agent_7", "x".repeat(5000));
        assertThat(post(huge, sign(huge)).statusCode()).isEqualTo(413);

        // Signed but malformed: 400 and a dead letter with the original bytes
        String notJson = "{\"event\":\"call_started\",\"call\":{\"call_id\":\"call-bad\"";
        HttpResponse<String> malformed = post(notJson, sign(notJson));
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(Json.mapper().readTree(malformed.body()).has("error")).isTrue();
        String noCallId = "{\"event\":\"call_started\",\"call\":{}}";
        assertThat(post(noCallId, sign(noCallId)).statusCode()).isEqualTo(400);

        try (TopicReader<DeadLetter> dead = reader(topics.deadLetters().name(), topics.deadLetters());
             TopicReader<CallState> states = reader(topics.callState().name(), topics.callState())) {
            await().atMost(WAIT).until(() -> dead.records().stream()
                    .anyMatch(r -> notJson.equals(new String(r.value().original(), StandardCharsets.UTF_8))));
            dead.records().forEach(r -> assertMatchesSchema(r.value()));
            assertThat(dead.records()).anyMatch(r -> noCallId.equals(new String(r.value().original(),
                    StandardCharsets.UTF_8)));

            // A good webhook after all that still works, and no refused one reached the state
            String later = RetellWebhooks.body("call_started", "call-after-bad");
            assertThat(post(later, sign(later)).statusCode()).isEqualTo(200);
            await().atMost(WAIT).until(() -> !states.valuesFor("call-after-bad").isEmpty());
            assertThat(states.valuesFor("call-bad")).isEmpty();
        }
    }

    @Test
    void shouldAnswerHealthAndReadiness() throws Exception {
        HttpResponse<String> health = get("/healthz");
        // Ready means Streams exactly RUNNING (not still rebalancing after start) and the egress positioned.
        await().atMost(WAIT).until(() -> get("/readyz").statusCode() == 200);
        HttpResponse<String> ready = get("/readyz");

        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(ready.statusCode()).isEqualTo(200);
        JsonNode checks = Json.mapper().readTree(ready.body()).get("checks");
        assertThat(checks.get("broker").get("ok").asBoolean()).isTrue();
        assertThat(checks.get("streams").get("ok").asBoolean()).isTrue();
        String body = RetellWebhooks.body("call_started", "call-metrics");
        assertThat(post(body, sign(body)).statusCode()).isEqualTo(200);
        // Metrics are on the admin listener, not the public one
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(gateway.adminUri().resolve("/metrics"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.body()).contains("callguard_webhook_latency_seconds", "jvm_memory_used_bytes",
                "kafka_producer_record_send_total");
        assertThat(get("/metrics").statusCode()).isEqualTo(404);
    }

    private String sign(String body) {
        return RetellWebhooks.sign(API_KEY, utf8(body), System.currentTimeMillis());
    }

    private HttpResponse<String> post(String body, String signature) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(gateway.httpUri().resolve("/webhook"))
                .timeout(Duration.ofSeconds(15))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(utf8(body)));
        if (signature != null) {
            request.header(RetellWebhooks.HEADER, signature);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(gateway.httpUri() + path.substring(1))).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private <V> TopicReader<V> reader(String topic, io.callguard.schemas.Topic<String, V> descriptor) {
        return new TopicReader<>(gateway.bootstrapServers(), topic, descriptor.valueSerde().deserializer());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static <T> T last(List<T> list) {
        return list.get(list.size() - 1);
    }

}
