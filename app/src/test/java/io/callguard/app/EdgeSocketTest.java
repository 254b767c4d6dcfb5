package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.common.CommonConfig;
import io.callguard.egress.EgressConfig;
import io.callguard.egress.internal.EdgeDeadlines;
import io.callguard.egress.internal.EdgeDelivery;
import io.callguard.egress.internal.EgressMeters;
import io.callguard.egress.internal.TurnLedger;
import io.callguard.ingress.GreetingPolicy;
import io.callguard.ingress.IngressConfig;
import io.callguard.ingress.IngressServer;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellSocketClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ingress's socket protocol and the egress's turn ledger wired as the gateway wires them, through real Jetty
 * sockets (no broker: events go to a mock producer, answers are handed to the delivery side): the ingress writes
 * only the config, and every begin message reaches Retell through the ledger, one complete frame for id 0.
 */
class EdgeSocketTest {

    private static final String TOKEN = "tok_0123456789abcdef";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String GREETING = "Hello! How can I help you today?";
    private static final String BUSY = "All our agents are busy. Please call again later.";
    private static final long BUDGET_MS = 1_000;

    private final Map<String, CallState> states = new ConcurrentHashMap<>();
    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(true, null, new StringSerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1);
    private EdgeDelivery edge;
    private IngressServer server;
    private WebSocketClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.stop();
        }
        if (server != null) {
            server.stop();
        }
        timers.shutdownNow();
        timers.awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void shouldSendConfigThenTheGreetingThroughTheLedgerAndAnswerTheTurn() throws Exception {
        // Given the greeting said at once
        start(Map.of(IngressConfig.SOCKET_BEGIN_MESSAGE_CONFIG, IngressConfig.BEGIN_GREETING));

        // When Retell opens a socket and asks for turn 1, answered by the pipeline
        RetellSocketClient retell = connect("call_1");
        JsonNode config = retell.next(WAIT).json();
        JsonNode begin = retell.next(WAIT).json();
        retell.sendResponseRequired(1, "hello");
        await().atMost(WAIT).until(() -> edge.ledger().socket("call_1").isPresent());
        awaitTurn(1);
        edge.delivery().deliver(answer(0, GREETING));
        edge.delivery().deliver(answer(1, "Sure."));
        // (a slow machine may hear the edge's filler first: the complete frame is the answer either way)
        await().atMost(WAIT).until(() -> retell.responses(1).stream().anyMatch(f -> f.path("content_complete")
                .asBoolean()));
        List<JsonNode> turn = retell.responses(1);
        JsonNode reply = turn.get(turn.size() - 1);

        // Then config, then the begin (exact types), then the answer; id 0 completed once
        assertThat(config.path("response_type").asText()).isEqualTo("config");
        assertThat(config.path("config").path("auto_reconnect").isBoolean()).isTrue();
        assertThat(begin.path("response_type").asText()).isEqualTo("response");
        assertThat(begin.path("response_id").isIntegralNumber()).isTrue();
        assertThat(begin.path("response_id").longValue()).isZero();
        assertThat(begin.path("content").textValue()).isEqualTo(GREETING);
        assertThat(begin.path("content_complete").isBoolean()).isTrue();
        assertThat(begin.path("content_complete").booleanValue()).isTrue();
        assertThat(begin.has("end_call")).isFalse();
        assertThat(reply.path("response_id").longValue()).isEqualTo(1);
        assertThat(reply.path("content").asText()).isEqualTo("Sure.");
        assertThat(reply.path("content_complete").booleanValue()).isTrue();
        assertThat(retell.responses(0)).hasSize(1);
        assertThat(openedBegin()).containsExactly(CallEvent.BEGIN_SENT);
    }

    @Test
    void shouldEndACallKnownRefusedWithTheBusyLineAtItsBeginOnce() throws Exception {
        // Given a call the processor here refused
        states.put("call_busy", CallState.initial("call_busy", CallStatus.REJECTED, 0));
        start(Map.of());

        // When its socket opens, then the responder's busy record for id 0 comes too
        RetellSocketClient retell = connect("call_busy");
        retell.next(WAIT);
        JsonNode begin = retell.next(WAIT).json();
        TurnLedger.Outcome late = edge.delivery().deliver(
                record("call_busy", 0, BUSY, ResponseKind.BUSY).withActions(true, null, null, null));

        // Then the busy line with end_call, said once
        assertThat(begin.path("response_id").longValue()).isZero();
        assertThat(begin.path("content").asText()).isEqualTo(BUSY);
        assertThat(begin.path("content_complete").booleanValue()).isTrue();
        assertThat(begin.path("end_call").isBoolean()).isTrue();
        assertThat(begin.path("end_call").booleanValue()).isTrue();
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(retell.responses(0)).hasSize(1);
    }

    @Test
    void shouldOweAFirstBeginBridgeItWithTheGreetingAndSayAReconnectsEmptyBegin() throws Exception {
        // Given socket.begin-message=auto: a first open's begin is owed to the pipeline
        start(Map.of());

        // When Retell opens a socket and the pipeline's begin comes after the budget
        RetellSocketClient first = connect("call_1");
        JsonNode config = first.next(WAIT).json();
        JsonNode bridge = first.next(WAIT).json();
        edge.delivery().deliver(answer(0, "This is Ada."));
        JsonNode begin = first.next(WAIT).json();

        // Then config, the greeting as a bridge (not complete), then the pipeline's begin completes id 0
        assertThat(config.path("response_type").asText()).isEqualTo("config");
        assertThat(bridge.path("response_id").longValue()).isZero();
        assertThat(bridge.path("content").asText()).isEqualTo(GREETING + " ");
        assertThat(bridge.path("content_complete").booleanValue()).isFalse();
        assertThat(begin.path("content").asText()).isEqualTo("This is Ada.");
        assertThat(begin.path("content_complete").booleanValue()).isTrue();

        // And a reconnect gets config then an empty begin, through the ledger
        RetellSocketClient second = connect("call_1");
        JsonNode again = second.next(WAIT).json();
        JsonNode empty = second.next(WAIT).json();
        assertThat(again.path("response_type").asText()).isEqualTo("config");
        assertThat(empty.path("response_id").longValue()).isZero();
        assertThat(empty.path("content").asText()).isEmpty();
        assertThat(empty.path("content_complete").booleanValue()).isTrue();
        await().atMost(WAIT).until(() -> openedBegin().size() == 2);
        assertThat(openedBegin()).containsExactly(CallEvent.BEGIN_OWED, CallEvent.BEGIN_SENT);
        assertThat(first.responses(0).stream().filter(f -> f.path("content_complete").asBoolean())).hasSize(1);
    }

    private void start(Map<String, Object> overrides) throws Exception {
        Map<String, Object> values = new HashMap<>(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.SOCKET_TOKEN_CONFIG, TOKEN, "turn.budget-ms", BUDGET_MS));
        values.putAll(overrides);
        EgressConfig egressConfig = new EgressConfig(values);
        edge = new EdgeDelivery(egressConfig, EdgeDeadlines.of(new CommonConfig(values), egressConfig), timers,
                Clock.systemUTC(), new EgressMeters(meters));
        server = new IngressServer(new IngressConfig(values), Topics.defaults(), producer, meters, Clock.systemUTC(),
                "node-test").withSockets(edge.registry(),
                new GreetingPolicy(callId -> Optional.ofNullable(states.get(callId)), BUSY));
        server.start();
        client = new WebSocketClient();
        client.start();
    }

    private RetellSocketClient connect(String callId) throws Exception {
        return RetellSocketClient.connect(client, server.uri(), callId, TOKEN);
    }

    private void awaitTurn(long responseId) {
        await().atMost(WAIT).until(() -> producer.history().stream().anyMatch(r -> {
            CallEvent event = Topics.defaults().callEvents().valueSerde().deserializer()
                    .deserialize(r.topic(), r.value());
            return event.responseId() != null && event.responseId() == responseId;
        }));
    }

    private List<String> openedBegin() {
        return producer.history().stream()
                .map(r -> Topics.defaults().callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value()))
                .filter(e -> CallEvent.TYPE_SOCKET_OPENED.equals(e.type()))
                .map(e -> e.payload().path("begin").asText()).toList();
    }

    private static AgentResponse answer(long responseId, String content) {
        return record("call_1", responseId, content, ResponseKind.GENERATED);
    }

    private static AgentResponse record(String callId, long responseId, String content, ResponseKind kind) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId, kind, null, content, true, null, 0,
                0, System.currentTimeMillis(), "node-test");
    }
}
