package io.callguard.ingress;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.socket.CallSocket;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.SchemaAssertions;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellSocketClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Retell's custom-LLM WebSocket on a real Jetty server, driven by a real Jetty WebSocket client. */
class LlmSocketTest {

    private static final String TOKEN = "tok_0123456789abcdef";
    private static final long NOW = 1_750_000_000_000L;
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Topics TOPICS = Topics.defaults();
    private static final int MAX_FRAME = 4_096;
    private static final String BUSY_CALL = "call_busy";
    private static final String BUSY_LINE = "All our agents are busy; please hold.";

    // autoComplete=false: every record stays pending, as when Kafka or generation hangs.
    private MockProducer<String, byte[]> producer =
            new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RecordingEdgeListener listener = new RecordingEdgeListener(() -> ProducedEvents.withoutOpens(producer.history()).size());
    private final List<IngressServer> servers = new ArrayList<>();
    private IngressServer server;
    private WebSocketClient client;

    @BeforeEach
    void startClient() throws Exception {
        client = new WebSocketClient();
        client.start();
    }

    @AfterEach
    void stopClientThenServers() throws Exception {
        client.stop();
        servers.forEach(IngressServer::stop);
    }

    // ---- before the upgrade

    @Test
    void shouldRefuseUpgradeWithoutToken() {
        // Given a server with a token
        start(Map.of());

        // When a socket opens without ?token=
        // Then the upgrade is refused with 401, nothing opens and the refusal is counted
        assertUpgradeRefused(uri("call_1", null), 401);
        assertThat(listener.opened).isEmpty();
        assertThat(authFailures("missing_token")).isEqualTo(1.0);
    }

    @Test
    void shouldRefuseUpgradeWithWrongToken() {
        start(Map.of());

        assertUpgradeRefused(uri("call_1", TOKEN + "x"), 401);
        assertUpgradeRefused(uri("call_1", "tok"), 401);
        assertThat(listener.opened).isEmpty();
        assertThat(authFailures("wrong_token")).isEqualTo(2.0);
    }

    @Test
    void shouldRefuseEverySocketWhenNoTokenIsConfigured() {
        // Given a server without socket.token
        Map<String, Object> values = new HashMap<>(baseConfig());
        values.remove(IngressConfig.SOCKET_TOKEN_CONFIG);
        startWith(values, null);

        // When a socket opens with some token, or an empty one
        // Then 401
        assertUpgradeRefused(uri("call_1", TOKEN), 401);
        assertUpgradeRefused(uri("call_1", ""), 401);
        assertThat(authFailures("no_token_configured")).isEqualTo(2.0);
    }

    @Test
    void shouldRefuseInvalidCallIdsBeforeUpgrade() {
        start(Map.of());

        assertUpgradeRefused(uri("call*1", TOKEN), 400);
        assertUpgradeRefused(uri("a/b", TOKEN), 400);
        assertUpgradeRefused(uri("c".repeat(257), TOKEN), 400);
        assertThat(listener.opened).isEmpty();
    }

    @Test
    void shouldAcceptTheLongestAndOddestValidCallId() throws Exception {
        start(Map.of());
        String callId = "A-z_0.9:" + "c".repeat(248);

        RecordingClientEndpoint socket = connect(callId);

        assertThat(socket.nextText()).contains("\"config\"");
        await().atMost(WAIT).until(() -> listener.opened.size() == 1);
        assertThat(listener.opened.get(0).callId()).isEqualTo(callId);
    }

    @Test
    void shouldAnswerAPlainGetWith426() throws Exception {
        start(Map.of());
        HttpClient http = new HttpClient();
        http.start();
        try {
            ContentResponse response = http.newRequest(server.uri().resolve("/llm-websocket/call_1?token=" + TOKEN))
                    .timeout(5, TimeUnit.SECONDS).send();

            assertThat(response.getStatus()).isEqualTo(426);
            assertThat(Json.mapper().readTree(response.getContent()).path("reason").asText())
                    .isEqualTo("upgrade_required");
        } finally {
            http.stop();
        }
    }

    // ---- opening

    @Test
    void shouldSendConfigWithExactTypesAndOweTheBeginToTheDeliverySide() throws Exception {
        // Given a server
        start(Map.of());

        // When Retell opens a socket
        RecordingClientEndpoint socket = connect("call_1");

        // Then config at once, with JSON booleans
        JsonNode config = Json.mapper().readTree(socket.nextText());
        assertThat(config.path("response_type").asText()).isEqualTo("config");
        assertThat(config.path("config").path("auto_reconnect").isBoolean()).isTrue();
        assertThat(config.path("config").path("auto_reconnect").booleanValue()).isTrue();
        assertThat(config.path("config").path("call_details").isBoolean()).isTrue();
        assertThat(config.path("config").path("call_details").booleanValue()).isTrue();

        // And the delivery side knows the socket and owes its begin (the socket's one writer says it), and nothing
        // was produced for the opening but its socket_opened event
        await().atMost(WAIT).until(() -> listener.begins.size() == 1);
        CallSocket opened = listener.opened.get(0);
        assertThat(listener.begins.get(0).socket()).isSameAs(opened);
        assertThat(listener.said).isEmpty();
        assertThat(opened.callId()).isEqualTo("call_1");
        assertThat(opened.connectionId()).isNotBlank();
        assertThat(opened.isOpen()).isTrue();
        assertThat(ProducedEvents.withoutOpens(producer.history())).isEmpty();
    }

    @Test
    void shouldAskForNoAutoReconnectWhenConfiguredSo() throws Exception {
        start(Map.of(IngressConfig.SOCKET_AUTO_RECONNECT_CONFIG, false));

        JsonNode config = Json.mapper().readTree(connect("call_1").nextText());

        assertThat(config.path("config").path("auto_reconnect").isBoolean()).isTrue();
        assertThat(config.path("config").path("auto_reconnect").booleanValue()).isFalse();
    }

    @Test
    void shouldHaveTheBeginChosenForTheCallSaid() throws Exception {
        // Given a begin policy that says the busy line to one call
        start(Map.of());

        // When that call and another open
        connect(BUSY_CALL);
        connect("call_2");

        // Then the busy line with end_call is said now for the one, the other's begin is owed
        await().atMost(WAIT).until(() -> listener.said.size() == 1 && listener.begins.size() == 1);
        assertThat(listener.said.get(0).socket().callId()).isEqualTo(BUSY_CALL);
        assertThat(listener.said.get(0).content()).isEqualTo(BUSY_LINE);
        assertThat(listener.said.get(0).endCall()).isTrue();
        assertThat(listener.begins.get(0).socket().callId()).isEqualTo("call_2");
    }

    // ---- keep-alive

    @Test
    void shouldEchoPingWhileGenerationHangs() throws Exception {
        // Given an open socket whose turn was produced but never acknowledged
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        socket.send(turn("response_required", 1));
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        ping(socket, 1L);

        // When Retell pings
        // Then each ping is echoed with its own timestamp, well inside Retell's 5 s, in about a millisecond
        assertThat(medianPingMillis(socket)).isLessThan(50);
        assertThat(ProducedEvents.withoutOpens(producer.history())).hasSize(1);
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, "ping_pong").count())
                .isEqualTo(6.0);
    }

    @Test
    void shouldEchoPingWhileProducerSendBlocks() throws Exception {
        // Given a producer whose send() blocks, as it does while Kafka's metadata is missing
        // (not synchronized, unlike MockProducer's: history() must stay readable meanwhile)
        CountDownLatch release = new CountDownLatch(1);
        producer = new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer()) {
            @Override
            public Future<RecordMetadata> send(ProducerRecord<String, byte[]> record, Callback callback) {
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.send(record, callback);
            }
        };
        try {
            start(Map.of());
            RecordingClientEndpoint socket = connect("call_1");
            skipOpening(socket);

            // When turns and updates arrive, then pings
            socket.send(turn("response_required", 1));
            socket.send("{\"interaction_type\":\"update_only\",\"transcript\":[]}");
            ping(socket, 1L);

            // Then pings are echoed at once: the turn reached the watchdog, the records wait their turn
            assertThat(medianPingMillis(socket)).isLessThan(50);
            await().atMost(WAIT).until(() -> listener.turns.size() == 1);
            assertThat(ProducedEvents.withoutOpens(producer.history())).isEmpty();

            // When send() unblocks, both records are produced in order
            release.countDown();
            await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 2);
            assertThat(ProducedEvents.withoutOpens(producer.history())).extracting(r -> event(r).type())
                    .containsExactly("response_required", "update_only");
        } finally {
            release.countDown();
        }
    }

    // ---- turns and events

    @Test
    void shouldReportTurnBeforeProducingItsCallEvent() throws Exception {
        // Given an open socket
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        String frame = "{\"interaction_type\":\"response_required\",\"response_id\":7,"
                + "\"transcript\":[{\"role\":\"user\",\"content\":\"José here\"}]}";

        // When Retell asks for an answer
        socket.send(frame);

        // Then the watchdog hears of it first, with the receipt time of the injected clock
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        assertThat(listener.turns).singleElement().satisfies(turn -> {
            assertThat(turn.responseId()).isEqualTo(7L);
            assertThat(turn.receivedAtMs()).isEqualTo(NOW);
            assertThat(turn.producedBefore()).isZero();
            assertThat(turn.socket()).isSameAs(listener.opened.get(0));
        });

        // And one call event, keyed by call id, valid against its schema
        ProducerRecord<String, byte[]> record = ProducedEvents.withoutOpens(producer.history()).get(0);
        assertThat(record.topic()).isEqualTo("callguard.call-events");
        assertThat(record.key()).isEqualTo("call_1");
        CallEvent event = event(record);
        assertMatchesSchema(event);
        assertThat(event.source()).isEqualTo(EventSource.SOCKET);
        assertThat(event.type()).isEqualTo("response_required");
        assertThat(event.idempotencyKey()).isEqualTo("socket|call_1|response_required|7");
        assertThat(event.responseId()).isEqualTo(7L);
        assertThat(event.receivedAtMs()).isEqualTo(NOW);
        assertThat(event.edgeNode()).isEqualTo("node-test");
        assertThat(event.callId()).isEqualTo("call_1");
        assertThat(event.payload()).isEqualTo(Json.mapper().readTree(frame));
    }

    @Test
    void shouldProduceUpdatesDetailsRemindersAndUnknownTypes() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        socket.send("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"call_1\"}}");
        socket.send("{\"interaction_type\":\"update_only\",\"transcript\":[],\"turntaking\":\"user_turn\"}");
        socket.send(turn("reminder_required", 3));
        socket.send("{\"interaction_type\":\"brand_new_thing\",\"x\":1}");

        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 4);
        List<CallEvent> events = ProducedEvents.withoutOpens(producer.history()).stream().map(LlmSocketTest::event).toList();
        assertThat(events).extracting(CallEvent::type)
                .containsExactly("call_details", "update_only", "reminder_required", "brand_new_thing");
        assertThat(events).extracting(CallEvent::idempotencyKey)
                .containsExactly("socket|call_1|call_details", null, "socket|call_1|reminder_required|3", null);
        assertThat(events).extracting(CallEvent::responseId).containsExactly(null, null, 3L, null);
        events.forEach(SchemaAssertions::assertMatchesSchema);
        assertThat(listener.turns).extracting(RecordingEdgeListener.Turn::responseId).containsExactly(3L);
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, "other").count())
                .isEqualTo(1.0);
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, "update_only").count())
                .isEqualTo(1.0);
    }

    @Test
    void shouldCountAProduceFailureAndKeepTheSocket() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        socket.send(turn("response_required", 1));
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);

        producer.errorNext(new org.apache.kafka.common.errors.TimeoutException("broker gone"));

        assertThat(meters.counter(IngressMetrics.SOCKET_PRODUCE_FAILURES, IngressMetrics.TAG_REASON, "kafka_error")
                .count()).isEqualTo(1.0);
        ping(socket, 42L);
        assertThat(listener.opened.get(0).isOpen()).isTrue();
    }

    // ---- bad input

    @Test
    void shouldCloseWith1007AndDeadLetterTheBytesWhenFrameIsNotJson() throws Exception {
        // Given an open socket
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        // When a frame is not JSON
        socket.send("not json, José");

        // Then the socket is closed with 1007, and the frame's bytes are dead-lettered
        assertThat(socket.awaitClose().code()).isEqualTo(1007);
        DeadLetter letter = awaitOnlyDeadLetter();
        assertThat(letter.reason()).isEqualTo("invalid_json");
        assertThat(letter.callId()).isEqualTo("call_1");
        assertThat(letter.receivedAtMs()).isEqualTo(NOW);
        assertThat(letter.original()).isEqualTo("not json, José".getBytes(StandardCharsets.UTF_8));
        assertThat(deadLetters("invalid_json")).isEqualTo(1.0);
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
        assertThat(listener.closed.get(0).code()).isEqualTo(1007);
    }

    @Test
    void shouldCloseWith1007WhenResponseIdIsAString() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        socket.send("{\"interaction_type\":\"response_required\",\"response_id\":\"5\",\"transcript\":[]}");

        assertThat(socket.awaitClose().code()).isEqualTo(1007);
        assertThat(awaitOnlyDeadLetter().reason()).isEqualTo("invalid_response_id");
        assertThat(listener.turns).isEmpty();
    }

    @Test
    void shouldCloseWith1003OnBinaryFrame() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        socket.sendBinary(new byte[] {1, 2, 3});

        RecordingClientEndpoint.Close close = socket.awaitClose();
        assertThat(close.code()).isEqualTo(1003);
        assertThat(close.reason()).isEqualTo("text frames only");
        DeadLetter letter = awaitOnlyDeadLetter();
        assertThat(letter.reason()).isEqualTo("binary_frame");
        assertThat(letter.original()).containsExactly(1, 2, 3);
    }

    @Test
    void shouldCloseWith1009OnOversizeFrame() throws Exception {
        // Given a server whose frames may have 4096 bytes
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        // When a larger frame arrives
        socket.send("{\"interaction_type\":\"update_only\",\"pad\":\"" + "x".repeat(MAX_FRAME) + "\"}");

        // Then the socket is closed with 1009, counted, and dead-lettered without its bytes
        assertThat(socket.awaitClose().code()).isEqualTo(1009);
        DeadLetter letter = awaitOnlyDeadLetter();
        assertThat(letter.reason()).isEqualTo("frame_too_large");
        assertThat(letter.originalSize()).isZero();
        assertThat(meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, "too_large").count())
                .isEqualTo(1.0);
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
        assertThat(listener.closed.get(0).code()).isEqualTo(1009);
    }

    @Test
    void shouldAcceptAFrameOfExactlyTheLimit() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        String head = "{\"interaction_type\":\"update_only\",\"pad\":\"";
        String frame = head + "x".repeat(MAX_FRAME - head.length() - 2) + "\"}";
        assertThat(frame.getBytes(StandardCharsets.UTF_8)).hasSize(MAX_FRAME);

        socket.send(frame);

        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        assertThat(listener.opened.get(0).isOpen()).isTrue();
    }

    // ---- reconnects and closing

    @Test
    void shouldOpenBothSocketsOfOneCallAndReportEachClose() throws Exception {
        // Given a socket for a call
        start(Map.of());
        RecordingClientEndpoint first = connect("call_1");
        skipOpening(first);

        // When Retell reconnects the same call
        RecordingClientEndpoint second = connect("call_1");
        skipOpening(second);

        // Then both opened (the egress decides which one wins), with their own connection ids
        await().atMost(WAIT).until(() -> listener.opened.size() == 2);
        assertThat(listener.opened).extracting(CallSocket::callId).containsExactly("call_1", "call_1");
        assertThat(listener.opened.get(0).connectionId()).isNotEqualTo(listener.opened.get(1).connectionId());

        // When the first closes
        first.close(1001, "going away");

        // Then its close is reported, and the second still serves
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
        assertThat(listener.closed.get(0).socket()).isSameAs(listener.opened.get(0));
        assertThat(listener.closed.get(0).code()).isEqualTo(1001);
        assertThat(listener.opened.get(1).isOpen()).isTrue();
        ping(second, 7L);
    }

    @Test
    void shouldRefuseSendAfterClose() throws Exception {
        // Given an open socket, as the egress sees it
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        await().atMost(WAIT).until(() -> listener.opened.size() == 1);
        CallSocket edge = listener.opened.get(0);
        assertThat(edge.send("{\"response_type\":\"response\",\"response_id\":1,\"content\":\"hi\","
                + "\"content_complete\":true}")).isTrue();
        assertThat(socket.nextText()).contains("\"hi\"");

        // When the edge hangs up
        edge.close(1000, "agent hangup");

        // Then Retell sees 1000, and nothing more can be sent
        assertThat(socket.awaitClose().code()).isEqualTo(1000);
        assertThat(edge.isOpen()).isFalse();
        assertThat(edge.send("{\"response_type\":\"ping_pong\",\"timestamp\":1}")).isFalse();
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
    }

    @Test
    void shouldRefuseSendAfterRetellClosed() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        await().atMost(WAIT).until(() -> listener.opened.size() == 1);

        socket.close(1000, "bye");

        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
        assertThat(listener.opened.get(0).isOpen()).isFalse();
        assertThat(listener.opened.get(0).send("{}")).isFalse();
    }

    @Test
    void shouldCloseASocketIdleForTheConfiguredTime() throws Exception {
        // Given a server whose sockets idle out after 1 s
        start(Map.of(IngressConfig.SOCKET_IDLE_TIMEOUT_MS_CONFIG, 1_000L));
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        // When nothing is sent, then the server closes it (not 1000: Retell reconnects on anything else)
        long start = System.nanoTime();
        RecordingClientEndpoint.Close close = socket.awaitClose();
        assertThat(close.code()).isEqualTo(1001);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(800));
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
    }

    // ---- drain

    @Test
    void shouldRefuseNewSocketsWith503AndKeepOpenOnesWhenDraining() throws Exception {
        // Given a server with one open socket
        start(Map.of());
        RecordingClientEndpoint open = connect("call_open");
        skipOpening(open);
        await().atMost(WAIT).until(() -> listener.opened.size() == 1);

        // When the instance starts draining
        server.stopAcceptingSockets();

        // Then a new socket is refused with 503 on a connection closed after it (a retry may reach another
        // instance), counted, and never opened; the open socket still works
        assertUpgradeRefused(uri("call_new", TOKEN), 503);
        HttpClient http = new HttpClient();
        http.start();
        try {
            ContentResponse refused = http.newRequest(server.uri().resolve("/llm-websocket/call_new?token=" + TOKEN))
                    .timeout(5, TimeUnit.SECONDS).send();
            assertThat(refused.getStatus()).isEqualTo(503);
            assertThat(refused.getHeaders().get("Connection")).isEqualTo("close");
            assertThat(Json.mapper().readTree(refused.getContent()).path("reason").asText()).isEqualTo("draining");
        } finally {
            http.stop();
        }
        assertThat(meters.counter(IngressMetrics.SOCKETS_REFUSED, IngressMetrics.TAG_REASON, "draining").count())
                .isEqualTo(2.0);
        assertThat(listener.opened).hasSize(1);
        ping(open, 5L);
    }

    @Test
    void shouldDropTheConnectionWithoutACloseFrameAfterEveryQueuedFrameOnAbort() throws Exception {
        // Given an open socket, as the egress sees it
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);
        await().atMost(WAIT).until(() -> listener.opened.size() == 1);
        CallSocket edge = listener.opened.get(0);

        // When an answer is queued and the socket is aborted right after (a draining node handing the call over)
        String answer = "{\"response_type\":\"response\",\"response_id\":1,\"content\":\"" + "word ".repeat(200)
                + "\",\"content_complete\":true}";
        assertThat(edge.send(answer)).isTrue();
        edge.abort();

        // Then Retell gets the whole answer, then an abnormal close (1006: it reconnects), and nothing more is sent;
        // the edge is told the socket closed
        assertThat(socket.nextText()).isEqualTo(answer);
        assertThat(socket.awaitClose().code()).isEqualTo(1006);
        assertThat(edge.isOpen()).isFalse();
        assertThat(edge.send("{\"response_type\":\"ping_pong\",\"timestamp\":1}")).isFalse();
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
    }

    @Test
    void shouldNeverLogTheToken() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> recorded = new ListAppender<>();
        recorded.start();
        root.addAppender(recorded);
        try {
            start(Map.of());
            assertUpgradeRefused(uri("call_1", TOKEN + "-wrong"), 401);
            RecordingClientEndpoint socket = connect("call_1");
            skipOpening(socket);
            socket.send("garbage");
            socket.awaitClose();
            await().atMost(WAIT).until(() -> listener.closed.size() == 1);
            server.stop();
        } finally {
            root.detachAppender(recorded);
        }
        assertThat(recorded.list).isNotEmpty();
        assertThat(recorded.list).noneMatch(e -> e.getFormattedMessage().contains(TOKEN)
                || String.valueOf(e.getThrowableProxy()).contains(TOKEN));
    }

    @Test
    void shouldCloseOpenSocketsAndReportThemWhenTheServerStops() throws Exception {
        start(Map.of());
        RecordingClientEndpoint socket = connect("call_1");
        skipOpening(socket);

        server.stop();

        assertThat(socket.awaitClose().code()).isEqualTo(1001);
        await().atMost(WAIT).until(() -> listener.closed.size() == 1);
        await().atMost(WAIT).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("callguard-ingress")));
    }

    // ---- helpers

    private static Map<String, Object> baseConfig() {
        return Map.of(IngressConfig.HTTP_PORT_CONFIG, 0, IngressConfig.SOCKET_TOKEN_CONFIG, TOKEN,
                IngressConfig.SOCKET_MAX_FRAME_BYTES_CONFIG, MAX_FRAME);
    }

    private void start(Map<String, Object> overrides) {
        Map<String, Object> values = new HashMap<>(baseConfig());
        values.putAll(overrides);
        startWith(values, callId -> BUSY_CALL.equals(callId) ? GreetingPolicy.Begin.busy(BUSY_LINE) : null);
    }

    private void startWith(Map<String, Object> values, Function<String, GreetingPolicy.Begin> beginText) {
        server = new IngressServer(new IngressConfig(values), TOPICS, producer, meters,
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), "node-test")
                .withSockets(listener, beginText);
        servers.add(server);
        server.start();
    }

    private URI uri(String callId, String token) {
        URI base = server.uri();
        return URI.create("ws://" + base.getHost() + ":" + base.getPort() + IngressServer.LLM_WEBSOCKET_PATH + callId
                + (token == null ? "" : "?token=" + token));
    }

    private RecordingClientEndpoint connect(String callId) throws Exception {
        RecordingClientEndpoint endpoint = new RecordingClientEndpoint();
        client.connect(endpoint, uri(callId, TOKEN)).get(5, TimeUnit.SECONDS);
        return endpoint;
    }

    private void assertUpgradeRefused(URI uri, int status) {
        assertThatThrownBy(() -> client.connect(new RecordingClientEndpoint(), uri).get(5, TimeUnit.SECONDS))
                .satisfies(failure -> assertThat(RetellSocketClient.upgradeStatus(failure)).as("upgrade status")
                        .isEqualTo(status));
    }

    /** The config message; the begin message is the delivery side's to write. */
    private static void skipOpening(RecordingClientEndpoint socket) throws InterruptedException {
        assertThat(socket.nextText()).contains("\"config\"");
    }

    private static String turn(String type, long responseId) {
        return "{\"interaction_type\":\"" + type + "\",\"response_id\":" + responseId
                + ",\"transcript\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }

    /** Sends one ping and asserts its echo; returns the round trip in ms. */
    private static long ping(RecordingClientEndpoint socket, long timestamp) throws Exception {
        long sent = System.nanoTime();
        socket.send("{\"interaction_type\":\"ping_pong\",\"timestamp\":" + timestamp + "}");
        RecordingClientEndpoint.Received echo = socket.next();
        JsonNode pong = Json.mapper().readTree(echo.text());
        assertThat(pong.path("response_type").asText()).isEqualTo("ping_pong");
        assertThat(pong.path("timestamp").isIntegralNumber()).isTrue();
        assertThat(pong.path("timestamp").longValue()).isEqualTo(timestamp);
        return TimeUnit.NANOSECONDS.toMillis(echo.atNanos() - sent);
    }

    // The median of five: one scheduling hiccup on a shared 2-core box must not fail the build.
    private static long medianPingMillis(RecordingClientEndpoint socket) throws Exception {
        List<Long> rounds = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            rounds.add(ping(socket, NOW + i));
        }
        Collections.sort(rounds);
        return rounds.get(2);
    }

    private static CallEvent event(ProducerRecord<String, byte[]> record) {
        return TOPICS.callEvents().valueSerde().deserializer().deserialize(record.topic(), record.value());
    }

    private DeadLetter awaitOnlyDeadLetter() {
        await().atMost(WAIT).until(() -> ProducedEvents.withoutOpens(producer.history()).size() == 1);
        ProducerRecord<String, byte[]> record = ProducedEvents.withoutOpens(producer.history()).get(0);
        assertThat(record.topic()).isEqualTo("callguard.dead-letters");
        assertThat(record.key()).isEqualTo("socket");
        DeadLetter letter = TOPICS.deadLetters().valueSerde().deserializer().deserialize(record.topic(), record.value());
        assertMatchesSchema(letter);
        assertThat(letter.source()).isEqualTo("socket");
        return letter;
    }

    private double authFailures(String reason) {
        return meters.counter(IngressMetrics.SOCKET_AUTH_FAILURES, IngressMetrics.TAG_REASON, reason).count();
    }

    private double deadLetters(String reason) {
        return meters.counter(IngressMetrics.DEAD_LETTERS, IngressMetrics.TAG_SOURCE, "socket",
                IngressMetrics.TAG_REASON, reason).count();
    }
}
