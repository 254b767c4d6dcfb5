package io.callguard.ingress;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
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
import java.util.concurrent.CountDownLatch;
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
    private static final String CONFIG =
            "{\"response_type\":\"config\",\"config\":{\"auto_reconnect\":true,\"call_details\":true}}";
    private static final String GREETING = "Hello! How can I help you today?";
    private static final String BUSY = "All lines are busy; please call again later.";

    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RecordingEdgeListener listener = new RecordingEdgeListener(() -> ProducedEvents.withoutOpens(producer.history()).size());
    private final RecordingSocket socket = new RecordingSocket("call_1");
    private final Map<String, CallState> states = new java.util.concurrent.ConcurrentHashMap<>();
    private LlmSocketProtocol protocol = protocol(listener, Map.of());

    @AfterEach
    void closeProtocol() {
        protocol.close();
    }

    @Test
    void shouldAskRetellForTheTranscriptWithToolCallsOnlyWhenConfigured() {
        // Given an edge configured to ask for it (on behalf of an upstream agent)
        protocol.close();
        protocol = protocol(listener, Map.of(IngressConfig.SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG, true));

        // When a socket opens
        protocol.opened(socket);

        // Then the config asks for it; by default it is not asked at all
        assertThat(socket.frames().get(0)).isEqualTo("{\"response_type\":\"config\",\"config\":{\"auto_reconnect\""
                + ":true,\"call_details\":true,\"transcript_with_tool_calls\":true}}");
        RecordingSocket other = new RecordingSocket("call_2");
        protocol.close();
        protocol = protocol(listener, Map.of());
        protocol.opened(other);
        assertThat(other.frames().get(0)).isEqualTo(CONFIG);
    }

    @Test
    void shouldSendConfigAndHaveTheBeginSaidEvenWhenTheListenerFails() throws Exception {
        // Given a delivering listener whose socketOpened throws, and the greeting said at once (empty)
        protocol.close();
        RecordingEdgeListener failing = new RecordingEdgeListener(() -> 0) {
            @Override
            public void socketOpened(CallSocket s) {
                throw new IllegalStateException("egress bug");
            }
        };
        protocol = protocol(failing, Map.of(IngressConfig.SOCKET_GREETING_CONFIG, "",
                IngressConfig.SOCKET_BEGIN_MESSAGE_CONFIG, IngressConfig.BEGIN_GREETING));

        // When a socket opens
        protocol.opened(socket);

        // Then Retell gets the config at once, and the begin (empty: the caller speaks first) goes to the listener
        assertThat(socket.frames()).containsExactly(CONFIG);
        assertThat(failing.said).containsExactly(new RecordingEdgeListener.Begin(socket, "", false, NOW));
        assertThat(onlyOpen().payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);
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
    void shouldBoundTheProduceQueueInBytesAndStillTellTheWatchdogOfALostTurn() throws Exception {
        // Given a producer stuck in send (a broker that does not take records; outside MockProducer's lock, which its
        // history takes too) and a queue of at most 8,000 bytes
        CountDownLatch stuck = new CountDownLatch(1);
        MockProducer<String, byte[]> blocking = new MockProducer<>(true, null, new StringSerializer(),
                new ByteArraySerializer()) {
            @Override
            public java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata> send(
                    ProducerRecord<String, byte[]> record, org.apache.kafka.clients.producer.Callback callback) {
                try {
                    stuck.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.send(record, callback);
            }
        };
        RecordingEdgeListener edge = new RecordingEdgeListener(() -> blocking.history().size());
        protocol.close();
        protocol = new LlmSocketProtocol(new IngressConfig(Map.of(IngressConfig.SOCKET_MAX_FRAME_BYTES_CONFIG, 1_024)),
                TOPICS, blocking, meters, Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test", edge,
                null, 10_000, 8_000);
        String frame = "{\"interaction_type\":\"update_only\",\"transcript\":[{\"role\":\"user\",\"content\":\""
                + "x".repeat(900) + "\"}]}";

        // When frames of about a kilobyte keep coming, far fewer than the queue's 10,000 records
        for (int i = 0; i < 20; i++) {
            protocol.text(socket, frame);
        }
        protocol.text(socket, "{\"interaction_type\":\"response_required\",\"response_id\":5,\"transcript\":[]}");

        // Then the records past 8,000 bytes are lost and counted as queue_full, the turn among them, whose budget the
        // edge watchdog still started
        double lost = meters.counter(IngressMetrics.SOCKET_PRODUCE_FAILURES, IngressMetrics.TAG_REASON, "queue_full")
                .count();
        assertThat(lost).isBetween(13.0, 19.0);
        assertThat(edge.turns).extracting(RecordingEdgeListener.Turn::responseId).containsExactly(5L);

        // When the broker takes records again
        stuck.countDown();
        await().atMost(WAIT).until(() -> blocking.history().size() == 21 - (int) lost);

        // Then the queue has room again
        protocol.text(socket, frame);
        await().atMost(WAIT).until(() -> blocking.history().size() == 22 - (int) lost);
    }

    @Test
    void shouldKeepTheNumberOfSeriesFixedWhateverInteractionTypesComeIn() {
        // Given frames of 100 interaction types nobody knows, counted
        unknownFrames(0, 100);
        int series = meters.getMeters().size();

        // When 100 more come, each of a type not seen before
        unknownFrames(100, 200);

        // Then no series was added: they count under "other"
        assertThat(meters.getMeters()).hasSize(series);
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, IngressMetrics.FRAME_OTHER)
                .count()).isEqualTo(200.0);
    }

    private void unknownFrames(int from, int to) {
        for (int i = from; i < to; i++) {
            protocol.text(socket, "{\"interaction_type\":\"made_up_" + i + "\",\"surprise_" + i + "\":1}");
        }
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
    void shouldOweAFirstOpensBeginToThePipeline() throws Exception {
        // When a call's first socket opens (socket.begin-message=auto)
        protocol.opened(socket);

        // Then Retell gets only the config from here; the begin is owed, its budget from the open
        assertThat(socket.frames()).containsExactly(CONFIG);
        assertThat(listener.opened).containsExactly(socket);
        assertThat(listener.begins).singleElement().satisfies(b -> {
            assertThat(b.socket()).isSameAs(socket);
            assertThat(b.receivedAtMs()).isEqualTo(NOW);
        });
        assertThat(listener.said).isEmpty();

        // And the event says it is owed, and names the socket
        CallEvent opened = onlyOpen();
        assertMatchesSchema(opened);
        assertThat(opened.source()).isEqualTo(EventSource.SOCKET);
        assertThat(opened.receivedAtMs()).isEqualTo(NOW);
        assertThat(opened.edgeNode()).isEqualTo("node-test");
        assertThat(opened.payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_OWED);
        assertThat(opened.payload().path("connection_id").asText()).isEqualTo(socket.connectionId());
    }

    @Test
    void shouldSayTheBusyLineWithEndCallAtOnceToACallKnownRefused() throws Exception {
        // Given a call the processor here already refused
        states.put("call_1", CallState.initial("call_1", CallStatus.REJECTED, 0));
        useProtocol(Map.of(), policy());

        // When its socket opens
        protocol.opened(socket);

        // Then the busy line with end_call is said now, through the listener; nothing is owed
        assertThat(socket.frames()).containsExactly(CONFIG);
        assertThat(listener.said).containsExactly(new RecordingEdgeListener.Begin(socket, BUSY, true, NOW));
        assertThat(listener.begins).isEmpty();
        assertThat(onlyOpen().payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);
    }

    @Test
    void shouldSayAnEmptyBeginAtOnceOnAReconnect() throws Exception {
        // Given a call whose first socket owed its begin
        useProtocol(Map.of(), policy());
        protocol.opened(socket);

        // When a second socket of the call opens
        RecordingSocket again = new RecordingSocket("call_1");
        protocol.opened(again);

        // Then it is not greeted again, and not owed again: an empty begin said now
        assertThat(again.frames()).containsExactly(CONFIG);
        assertThat(listener.begins).extracting(RecordingEdgeListener.Turn::socket).containsExactly(socket);
        assertThat(listener.said).containsExactly(new RecordingEdgeListener.Begin(again, "", false, NOW));
        await().atMost(WAIT).until(() -> ProducedEvents.opens(producer.history()).size() == 2);
        assertThat(onlyOpen().payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);
    }

    @Test
    void shouldSayTheGreetingAtOnceWhenConfiguredSo() throws Exception {
        // Given socket.begin-message=greeting
        useProtocol(Map.of(IngressConfig.SOCKET_BEGIN_MESSAGE_CONFIG, IngressConfig.BEGIN_GREETING), policy());

        // When a call's first socket opens
        protocol.opened(socket);

        // Then the greeting is said now, through the listener
        assertThat(socket.frames()).containsExactly(CONFIG);
        assertThat(listener.said).containsExactly(new RecordingEdgeListener.Begin(socket, GREETING, false, NOW));
        assertThat(listener.begins).isEmpty();
        assertThat(onlyOpen().payload().path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);
    }

    @Test
    void shouldWriteTheBeginItselfWhenNoListenerDelivers() throws Exception {
        // Given an edge without delivery, and one call known refused
        states.put("call_busy", CallState.initial("call_busy", CallStatus.REJECTED, 0));
        protocol.close();
        protocol = new LlmSocketProtocol(new IngressConfig(Map.of()), TOPICS, producer, meters,
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test", EdgeListener.NONE, policy());
        RecordingSocket busy = new RecordingSocket("call_busy");
        RecordingSocket again = new RecordingSocket("call_1");

        // When sockets open: a first, a refused call's, a reconnect
        protocol.opened(socket);
        protocol.opened(busy);
        protocol.opened(again);

        // Then each gets config then its begin from here, never owed (nobody would say it)
        assertThat(socket.frames()).containsExactly(CONFIG, "{\"response_type\":\"response\",\"response_id\":0,"
                + "\"content\":\"" + GREETING + "\",\"content_complete\":true}");
        assertThat(busy.frames()).containsExactly(CONFIG, "{\"response_type\":\"response\",\"response_id\":0,"
                + "\"content\":\"" + BUSY + "\",\"content_complete\":true,\"end_call\":true}");
        assertThat(again.frames()).containsExactly(CONFIG, "{\"response_type\":\"response\",\"response_id\":0,"
                + "\"content\":\"\",\"content_complete\":true}");
        await().atMost(WAIT).until(() -> ProducedEvents.opens(producer.history()).size() == 3);
        assertThat(ProducedEvents.opens(producer.history())).allSatisfy(r -> assertThat(TOPICS.callEvents()
                .valueSerde().deserializer().deserialize(r.topic(), r.value()).payload().path("begin").asText())
                .isEqualTo(CallEvent.BEGIN_SENT));
    }

    @Test
    void shouldProduceASocketClosedEventInOrderWithTheCallsOtherEvents() {
        // Given an open socket that had a frame
        protocol.opened(socket);
        protocol.text(socket, "{\"interaction_type\":\"update_only\",\"transcript\":[]}");

        // When the network cuts it
        protocol.closed(socket, 1006, "connection lost");

        // Then the listener hears of it and the call's events are opened, update, closed, in that order
        assertThat(listener.closed).singleElement().satisfies(c -> assertThat(c.code()).isEqualTo(1006));
        await().atMost(WAIT).until(() -> ProducedEvents.callEvents(producer.history()).size() == 3);
        java.util.List<CallEvent> events = ProducedEvents.callEvents(producer.history());
        assertThat(events).extracting(CallEvent::type)
                .containsExactly(CallEvent.TYPE_SOCKET_OPENED, "update_only", CallEvent.TYPE_SOCKET_CLOSED);
        assertThat(producer.history()).allSatisfy(r -> assertThat(r.key()).isEqualTo("call_1"));
        CallEvent closed = events.get(2);
        assertMatchesSchema(closed);
        assertThat(closed.source()).isEqualTo(EventSource.SOCKET);
        assertThat(closed.receivedAtMs()).isEqualTo(NOW);
        assertThat(closed.edgeNode()).isEqualTo("node-test");
        assertThat(closed.responseId()).isNull();
        assertThat(closed.payload().path("connection_id").asText()).isEqualTo(socket.connectionId());
        assertThat(closed.payload().path("code").isInt()).isTrue();
        assertThat(closed.payload().path("code").intValue()).isEqualTo(1006);
        assertThat(closed.payload().path("reason").asText()).isEqualTo("connection lost");
    }

    @Test
    void shouldProduceASocketClosedEventWithAnEmptyReasonWhenThereIsNone() {
        protocol.closed(socket, 1005, null);

        await().atMost(WAIT).until(() -> ProducedEvents.callEvents(producer.history()).size() == 1);
        CallEvent closed = ProducedEvents.callEvents(producer.history()).get(0);
        assertThat(closed.type()).isEqualTo(CallEvent.TYPE_SOCKET_CLOSED);
        assertThat(closed.payload().path("code").intValue()).isEqualTo(1005);
        assertThat(closed.payload().path("reason").isTextual()).isTrue();
        assertThat(closed.payload().path("reason").asText()).isEmpty();
    }

    private GreetingPolicy policy() {
        return new GreetingPolicy(id -> java.util.Optional.ofNullable(states.get(id)), BUSY);
    }

    private void useProtocol(Map<String, Object> overrides, GreetingPolicy policy) {
        protocol.close();
        Map<String, Object> values = new java.util.HashMap<>(Map.of(IngressConfig.SOCKET_MAX_FRAME_BYTES_CONFIG, 1_024));
        values.putAll(overrides);
        protocol = new LlmSocketProtocol(new IngressConfig(values), TOPICS, producer, meters,
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test", listener, policy);
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
