package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellWebhooks;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpMethod;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retell's inbound-call webhook ({@code call_inbound}) answered from the capacity view: real Jetty server and
 * client, bodies signed as Retell signs them; nothing may reach Kafka.
 */
class InboundCallWebhookTest {

    private static final String KEY = "key_inbound_test";
    private static final long NOW = 1_750_000_000_000L;
    private static final String BUSY_AGENT = "agent_busy_line";

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final AtomicInteger checks = new AtomicInteger();
    private HttpClient client;
    private IngressServer server;

    @BeforeEach
    void startClient() throws Exception {
        client = new HttpClient();
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
    void shouldRouteAnInboundCallToTheBusyAgentWhenEveryPartitionIsFull() throws Exception {
        // Given a full view and a busy agent
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT), InboundCapacity.State.FULL);

        // When Retell asks about an inbound call
        ContentResponse response = post(RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002"));

        // Then the call goes to the busy agent, counted, and nothing is produced
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree(
                "{\"call_inbound\":{\"override_agent_id\":\"" + BUSY_AGENT + "\"}}"));
        assertThat(counted(IngressMetrics.INBOUND_BUSY_AGENT, "full")).isEqualTo(1);
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldLeaveTheCallToTheNumbersSetupWhenFullWithoutABusyAgent() throws Exception {
        // Given a full view and no busy agent
        start(Map.of(), InboundCapacity.State.FULL);

        // When
        ContentResponse response = post(RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002"));

        // Then no override: Retell goes on as the number is configured; counted as such
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));
        assertThat(counted(IngressMetrics.INBOUND_NUMBER_DEFAULT, "full")).isEqualTo(1);
        assertThat(producer.history()).isEmpty();
    }

    @Test
    void shouldPassTheCallAndItsVariablesAndMetadataThroughWhenThereIsRoom() throws Exception {
        // Given room, and a request carrying dynamic variables and metadata
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT), InboundCapacity.State.ROOM);
        String body = "{\"event\":\"call_inbound\",\"call_inbound\":{\"agent_id\":\"agent_7\",\"from_number\":"
                + "\"+15550001\",\"to_number\":\"+15550002\",\"dynamic_variables\":{\"name\":\"Alice\"},"
                + "\"metadata\":{\"crm_id\":42},\"custom_sip_headers\":{\"x-a\":\"b\"}}}";

        // When
        ContentResponse response = post(body);

        // Then no override, and the variables and metadata come back as they came
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree(
                "{\"call_inbound\":{\"dynamic_variables\":{\"name\":\"Alice\"},\"metadata\":{\"crm_id\":42}}}"));
        assertThat(counted(IngressMetrics.INBOUND_PASSED, "room")).isEqualTo(1);
    }

    @Test
    void shouldPassTheCallWhenTheViewDoesNotAnswerInTime() throws Exception {
        // Given a view that never completes, and a short ack timeout
        CompletableFuture<InboundCapacity.State> never = new CompletableFuture<>();
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT,
                IngressConfig.WEBHOOK_ACK_TIMEOUT_MS_CONFIG, 200L), () -> never);

        // When
        ContentResponse response = post(RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002"));

        // Then it passes, counted as a timeout; a late FULL changes nothing
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(json(response)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));
        never.complete(InboundCapacity.State.FULL);
        assertThat(counted(IngressMetrics.INBOUND_PASSED, IngressMetrics.CAPACITY_TIMEOUT)).isEqualTo(1);
        assertThat(counted(IngressMetrics.INBOUND_BUSY_AGENT, "full")).isZero();
    }

    @Test
    void shouldPassTheCallWhenTheViewFails() throws Exception {
        // Given a view that throws, and one whose stage fails
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT), () -> {
            if (checks.incrementAndGet() == 1) {
                throw new IllegalStateException("store not ready");
            }
            return CompletableFuture.failedFuture(new IllegalStateException("owner unreachable"));
        });

        // When / Then both pass, as capacity unknown
        for (int i = 0; i < 2; i++) {
            ContentResponse response = post(RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002"));
            assertThat(response.getStatus()).isEqualTo(200);
            assertThat(json(response)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));
        }
        assertThat(counted(IngressMetrics.INBOUND_PASSED, "unknown")).isEqualTo(2);
    }

    @Test
    void shouldPassEveryCallOnANodeThatCannotSeeCapacity() throws Exception {
        // Given a server given no view (an edge-only node)
        server = new IngressServer(config(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT)),
                Topics.defaults(), producer, meters, clock(), "node-test");
        server.start();

        // When
        ContentResponse response = post(RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002"));

        // Then
        assertThat(json(response)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));
        assertThat(counted(IngressMetrics.INBOUND_PASSED, "unknown")).isEqualTo(1);
    }

    @Test
    void shouldRefuseABadSignatureWithoutAskingTheView() throws Exception {
        // Given
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT), InboundCapacity.State.FULL);
        String body = RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002");

        // When signed with another key, or tampered after signing
        ContentResponse otherKey = send(body, RetellWebhooks.sign("another-key", utf8(body), NOW));
        ContentResponse tampered = send(body.replace("+15550001", "+15559999"),
                RetellWebhooks.sign(KEY, utf8(body), NOW));

        // Then 401, and no capacity answer leaked
        assertThat(otherKey.getStatus()).isEqualTo(401);
        assertThat(tampered.getStatus()).isEqualTo(401);
        assertThat(checks).hasValue(0);
        assertThat(meters.find(IngressMetrics.INBOUND_CALLS).counters()).isEmpty();
    }

    @Test
    void shouldRefuseASignedBodyThatIsNotJson() throws Exception {
        // Given
        start(Map.of(IngressConfig.CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, BUSY_AGENT), InboundCapacity.State.FULL);

        // When
        ContentResponse response = post("{\"event\":\"call_inbound\",\"call_inbound\":{");

        // Then 400, dead-lettered as any bad webhook, and the view was not asked
        assertThat(response.getStatus()).isEqualTo(400);
        assertThat(json(response).path("reason").asText()).isEqualTo("invalid_json");
        assertThat(checks).hasValue(0);
        assertThat(producer.history()).singleElement()
                .satisfies(r -> assertThat(r.topic()).isEqualTo(Topics.defaults().deadLetters().name()));
    }

    // ---- helpers

    private void start(Map<String, Object> overrides, InboundCapacity.State state) {
        start(overrides, () -> {
            checks.incrementAndGet();
            return CompletableFuture.completedFuture(state);
        });
    }

    private void start(Map<String, Object> overrides, InboundCapacity view) {
        server = new IngressServer(config(overrides), Topics.defaults(), producer, meters, clock(), "node-test")
                .withInboundCapacity(view);
        server.start();
    }

    private static IngressConfig config(Map<String, Object> overrides) {
        Map<String, Object> values = new HashMap<>(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.RETELL_API_KEY_CONFIG, KEY));
        values.putAll(overrides);
        return new IngressConfig(values);
    }

    private static Clock clock() {
        return Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private ContentResponse post(String body) throws Exception {
        return send(body, RetellWebhooks.sign(KEY, utf8(body), NOW));
    }

    private ContentResponse send(String body, String signature) throws Exception {
        Request request = client.newRequest(server.uri().resolve(IngressServer.WEBHOOK_PATH)).method(HttpMethod.POST)
                .body(new BytesRequestContent("application/json", utf8(body))).timeout(5, TimeUnit.SECONDS)
                .headers(h -> h.put(RetellWebhooks.HEADER, signature));
        return request.send();
    }

    private static JsonNode json(ContentResponse response) throws Exception {
        assertThat(response.getMediaType()).isEqualTo("application/json");
        return Json.mapper().readTree(response.getContent());
    }

    private double counted(String outcome, String capacity) {
        Counter counter = meters.find(IngressMetrics.INBOUND_CALLS).tag(IngressMetrics.TAG_OUTCOME, outcome)
                .tag(IngressMetrics.TAG_CAPACITY, capacity).counter();
        return counter == null ? 0 : counter.count();
    }
}
