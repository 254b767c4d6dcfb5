package io.callguard.ingress;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The protocol alone, on an in-memory {@link CallSocket}: what a dial-out transport gets from it. */
class LlmSocketProtocolTest {

    private static final long NOW = 1_750_000_000_000L;
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Topics TOPICS = Topics.defaults();

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RecordingEdgeListener listener = new RecordingEdgeListener(() -> ProducedEvents.withoutOpens(producer.history()).size());
    private final RecordingSocket socket = new RecordingSocket("call_1");
    private LlmSocketProtocol protocol = protocol(listener, Map.of());

    @AfterEach
    void closeProtocol() {
        protocol.close();
    }

    @Test
    void shouldOpenWithConfigAndBeginEvenWhenTheListenerFails() throws Exception {
        // Given a listener that throws
        protocol.close();
        protocol = protocol(new RecordingEdgeListener(() -> 0) {
            @Override
            public void socketOpened(CallSocket s) {
                throw new IllegalStateException("egress bug");
            }
        }, Map.of(IngressConfig.SOCKET_GREETING_CONFIG, ""));

        // When a socket opens
        protocol.opened(socket);

        // Then Retell still gets config and an empty begin message (the caller speaks first)
        assertThat(socket.frames()).hasSize(2);
        JsonNode begin = Json.mapper().readTree(socket.frames().get(1));
        assertThat(begin.path("response_id").isIntegralNumber()).isTrue();
        assertThat(begin.path("content").isTextual()).isTrue();
        assertThat(begin.path("content").textValue()).isEmpty();
    }

    @Test
    void shouldEchoPingWithTheSameTimestampAndProduceNothing() throws Exception {
        protocol.text(socket, "{\"interaction_type\":\"ping_pong\",\"timestamp\":1750000000123}");

        assertThat(socket.frames()).singleElement().satisfies(frame -> assertThat(Json.mapper().readTree(frame))
                .isEqualTo(Json.mapper().readTree("{\"response_type\":\"ping_pong\",\"timestamp\":1750000000123}")));
        assertThat(ProducedEvents.withoutOpens(producer.history())).isEmpty();
    }

    @Test
    void shouldKeepFieldsItDoesNotKnowInTheEventAndCountThem() throws Exception {
        // When Retell sends a turn with two fields this version does not know
        protocol.text(socket, "{\"interaction_type\":\"response_required\",\"response_id\":4,\"transcript\":[],"
                + "\"new_hint\":true,\"latency_budget\":{\"ms\":900}}");

        // Then the turn is taken, the fields ride along in the payload, and they are counted
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer().deserialize(TOPICS.callEvents().name(),
                ProducedEvents.withoutOpens(producer.history()).get(0).value());
        assertThat(event.payload().path("new_hint").asBoolean()).isTrue();
        assertThat(event.payload().path("latency_budget").path("ms").asInt()).isEqualTo(900);
        assertThat(meters.get(IngressMetrics.SOCKET_UNKNOWN_FIELDS).tag(IngressMetrics.TAG_TYPE, "response_required")
                .counter().count()).isEqualTo(2.0);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "'not json'                                                      | invalid_json",
        "''                                                              | invalid_json",
        "'{\"interaction_type\":\"update_only\"} trailing'               | invalid_json",
        "'[1,2]'                                                         | not_an_object",
        "'{}'                                                            | missing_interaction_type",
        "'{\"interaction_type\":5}'                                      | missing_interaction_type",
        "'{\"interaction_type\":\"\"}'                                   | invalid_interaction_type",
        "'{\"interaction_type\":\"response_required\"}'                  | invalid_response_id",
        "'{\"interaction_type\":\"response_required\",\"response_id\":-1}' | invalid_response_id",
        "'{\"interaction_type\":\"reminder_required\",\"response_id\":1.5}' | invalid_response_id",
        "'{\"interaction_type\":\"response_required\",\"response_id\":null}' | invalid_response_id",
        "'{\"interaction_type\":\"response_required\",\"response_id\":99999999999999999999}' | invalid_response_id",
    })
    void shouldDeadLetterAndCloseWith1007OnBadInput(String frame, String reason) {
        protocol.text(socket, frame);

        assertThat(socket.closeCode()).isEqualTo(LlmSocketProtocol.CLOSE_INVALID_PAYLOAD);
        DeadLetter letter = onlyDeadLetter();
        assertThat(letter.reason()).isEqualTo(reason);
        assertThat(new String(letter.original(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(frame);
        assertThat(listener.turns).isEmpty();
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, "invalid").count())
                .isEqualTo(1.0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "9223372036854775807"})
    void shouldAcceptEveryNonNegativeLongResponseId(String id) {
        protocol.text(socket, "{\"interaction_type\":\"response_required\",\"response_id\":" + id + "}");

        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        assertThat(listener.turns).singleElement()
                .satisfies(turn -> assertThat(turn.responseId()).isEqualTo(Long.parseLong(id)));
        assertThat(socket.closeCode()).isNull();
    }

    @Test
    void shouldRefuseATextFrameOverTheLimitWhenTheTransportDidNot() {
        protocol.text(socket, "{\"interaction_type\":\"update_only\",\"pad\":\"" + "x".repeat(2_000) + "\"}");

        assertThat(socket.closeCode()).isEqualTo(LlmSocketProtocol.CLOSE_TOO_LARGE);
        assertThat(onlyDeadLetter().reason()).isEqualTo("frame_too_large");
    }

    @Test
    void shouldCountRecordsThatCannotBeQueuedAfterClose() {
        protocol.close();

        protocol.text(socket, "{\"interaction_type\":\"update_only\",\"transcript\":[]}");

        assertThat(meters.counter(IngressMetrics.SOCKET_PRODUCE_FAILURES, IngressMetrics.TAG_REASON, "closed").count())
                .isEqualTo(1.0);
        assertThat(ProducedEvents.withoutOpens(producer.history())).isEmpty();
    }

    @Test
    void shouldReportTurnOfAReminderWithItsReceiptTime() {
        protocol.text(socket, "{\"interaction_type\":\"reminder_required\",\"response_id\":4,\"transcript\":[]}");

        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        assertThat(listener.turns).singleElement().satisfies(turn -> {
            assertThat(turn.receivedAtMs()).isEqualTo(NOW);
            assertThat(turn.socket()).isSameAs(socket);
        });
        ProducerRecord<String, byte[]> record = ProducedEvents.withoutOpens(producer.history()).get(0);
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer().deserialize(record.topic(), record.value());
        assertMatchesSchema(event);
        assertThat(event.idempotencyKey()).isEqualTo("socket|call_1|reminder_required|4");
    }

    @Test
    void shouldTellWhoSaysTheBeginMessageInASocketOpenedEvent() throws Exception {
        // When a socket opens with the edge saying the greeting
        protocol.opened(socket);

        // Then the event says the begin message was sent, and names the socket
        CallEvent opened = onlyOpen();
        assertThat(opened.source()).isEqualTo(EventSource.SOCKET);
        assertThat(opened.receivedAtMs()).isEqualTo(NOW);
        assertThat(opened.edgeNode()).isEqualTo("node-test");
        assertThat(opened.payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);
        assertThat(opened.payload().path("connection_id").asText()).isEqualTo(socket.connectionId());
        assertThat(listener.begins).isEmpty();
    }

    @Test
    void shouldLeaveTheFirstBeginMessageToTheAgentWhenAsked() throws Exception {
        // Given the agent says the begin message, and a policy that knows a reconnect
        protocol.close();
        java.util.Set<String> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        protocol = new LlmSocketProtocol(new IngressConfig(Map.of()), TOPICS, producer, meters,
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test", listener,
                callId -> seen.add(callId) ? null : "", true);

        // When the call's socket opens
        protocol.opened(socket);

        // Then Retell gets only the config; the edge is asked to bridge the agent's begin message
        assertThat(socket.frames()).hasSize(1);
        assertThat(Json.mapper().readTree(socket.frames().get(0)).path("response_type").asText()).isEqualTo("config");
        assertThat(listener.begins).singleElement().satisfies(b -> assertThat(b.receivedAtMs()).isEqualTo(NOW));
        assertThat(onlyOpen().payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_OWED);

        // And a reconnect is not greeted again by anyone: its empty begin message goes from the edge
        RecordingSocket again = new RecordingSocket("call_1");
        protocol.opened(again);
        assertThat(again.frames()).hasSize(2);
        assertThat(Json.mapper().readTree(again.frames().get(1)).path("content").asText()).isEmpty();
        assertThat(listener.begins).hasSize(1);
    }

    private CallEvent onlyOpen() {
        await().atMost(WAIT).until(() -> !ProducedEvents.opens(producer.history()).isEmpty());
        ProducerRecord<String, byte[]> record = ProducedEvents.opens(producer.history())
                .get(ProducedEvents.opens(producer.history()).size() - 1);
        assertThat(record.key()).isEqualTo("call_1");
        return TOPICS.callEvents().valueSerde().deserializer().deserialize(record.topic(), record.value());
    }

    private LlmSocketProtocol protocol(EdgeListener edge, Map<String, Object> overrides) {
        Map<String, Object> values = new java.util.HashMap<>(Map.of(IngressConfig.SOCKET_MAX_FRAME_BYTES_CONFIG, 1_024));
        values.putAll(overrides);
        return new LlmSocketProtocol(new IngressConfig(values), TOPICS, producer, meters,
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test", edge);
    }

    private DeadLetter onlyDeadLetter() {
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        ProducerRecord<String, byte[]> record = ProducedEvents.withoutOpens(producer.history()).get(0);
        assertThat(record.topic()).isEqualTo("callguard.dead-letters");
        assertThat(record.key()).isEqualTo("socket");
        DeadLetter letter = TOPICS.deadLetters().valueSerde().deserializer().deserialize(record.topic(), record.value());
        assertMatchesSchema(letter);
        assertThat(letter.callId()).isEqualTo("call_1");
        return letter;
    }

}
