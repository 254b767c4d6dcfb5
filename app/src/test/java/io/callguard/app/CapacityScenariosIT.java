package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.app.warmup.LoopbackLlm;
import io.callguard.retell.frames.ResponseType;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14's capacity points on a real broker, Retell played as a third party would: signed webhooks over HTTP and
 * a real WebSocket client per call, the agent backend a real HTTP server (OpenAI's streaming API) that records what
 * reached it. One partition, one slot.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class CapacityScenariosIT {

    private static final String KEY = "capacity-key";
    private static final String TOKEN = "capacity-token";
    private static final String BUSY = "Sorry, every line is busy. Please call again later.";
    private static final String HOLD = "All of our agents are busy; please hold, you are next in line.";
    private static final String GREETING = "Hello! How can I help you today?";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;

    private final WebSocketClient client = new WebSocketClient();
    private final HttpClient http = HttpClient.newHttpClient();
    /** What each request to the backend asked (its last user message), in order. */
    private final List<String> asked = new CopyOnWriteArrayList<>();
    private LoopbackLlm llm;
    private Gateway gateway;

    @BeforeEach
    void start() throws Exception {
        llm = LoopbackLlm.start(request -> {
            String said = LoopbackLlm.lastUserMessage(request);
            asked.add(said);
            return "You said: " + said;
        });
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
        llm.close();
    }

    private void startGateway(Map<String, String> capacity) {
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", KEY, "socket.token", TOKEN,
                "topics.partitions", "1", "capacity.max-active-calls-per-partition", "1",
                "agent.backend", "openai", "agent.openai.url", llm.url().toString()));
        // (the hold line is not repeated within a test: each hold said is the one counted)
        settings.putAll(Map.of("capacity.busy-message", BUSY, "capacity.hold-message", HOLD,
                "capacity.hold-repeat-ms", "3600000", "call.expiry-scan-interval-ms", "200"));
        settings.putAll(capacity);
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
    }

    @Test
    void shouldEndACallRefusedAtItsCallStartedWithTheBusyLineAloneAndNeverAskTheBackendForIt() throws Exception {
        // Given one slot and no queue (the measured set-up), calls A then B started by signed webhooks
        startGateway(Map.of("capacity.queue-size", "0"));
        assertThat(webhook(RetellWebhooks.body("call_started", "call-a"))).isEqualTo(200);
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.ACTIVE);
        assertThat(webhook(RetellWebhooks.body("call_started", "call-b"))).isEqualTo(200);
        await().atMost(WAIT).until(() -> status("call-b") == CallStatus.REJECTED);
        assertThat(state("call-b").rejectionReason()).isEqualTo(CallState.REJECTED_QUEUE_FULL);

        // When both sockets open (Retell dials the custom LLM for each) and both callers speak
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        await().atMost(WAIT).until(() -> a.completes(0) == 1);
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        await().atMost(WAIT).until(() -> b.completes(0) == 1);
        b.sendResponseRequired(1, "hello this is bob can you help me");
        a.sendResponseRequired(1, "hello this is alice can you help me");
        await().atMost(WAIT).until(() -> a.completes(1) == 1 && b.completes(1) == 1);

        // Then B's begin is the busy line with end_call, and its turn too: the busy line and nothing else
        assertThat(b.content(0)).isEqualTo(BUSY);
        assertThat(b.content(1)).isEqualTo(BUSY);
        assertThat(complete(b, 0).path("end_call").asBoolean()).isTrue();
        assertThat(complete(b, 1).path("end_call").asBoolean()).isTrue();
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(b.interrupts()).isEmpty();
            assertThat(spoken(b)).allSatisfy(words -> assertThat(words).isIn(BUSY, ""));
            assertThat(b.completes(0)).isEqualTo(1);
            assertThat(b.completes(1)).isEqualTo(1);
        });
        // And A is served by the backend, which B's turn never reached
        assertThat(a.content(0)).contains(GREETING);
        assertThat(a.content(1).strip()).isEqualTo("You said: hello this is alice can you help me");
        assertThat(asked).containsExactly("hello this is alice can you help me");
        assertThat(llm.requests()).isEqualTo(1);
        a.close();
        b.close();
    }

    @Test
    void shouldAdmitACallAtItsSocketsOpeningAndChangeNothingWhenItsCallStartedComesLater() throws Exception {
        // Given one slot and one queue place, and a call whose socket opens before Retell's call_started arrives
        startGateway(Map.of("capacity.queue-size", "1"));
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.ACTIVE && a.completes(0) == 1);
        CallState admitted = state("call-a");

        // When its call_started comes (the agent, the numbers), and a second call's socket opens
        assertThat(webhook(RetellWebhooks.body("call_started", "call-a"))).isEqualTo(200);
        await().atMost(WAIT).until(() -> state("call-a").started());
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        await().atMost(WAIT).until(() -> status("call-b") == CallStatus.QUEUED);

        // Then A was admitted once, at its socket's opening: the call_started took no second slot and changed
        // neither its status nor its admission, and the second call waits for the one slot
        CallState started = state("call-a");
        assertThat(started.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(started.agentId()).isEqualTo("agent_7");
        assertThat(started.admittedAtMs()).isEqualTo(admitted.admittedAtMs());
        assertThat(history("call-a")).isNotEmpty().allSatisfy(s -> {
            assertThat(s.status()).isEqualTo(CallStatus.ACTIVE);
            assertThat(s.admittedAtMs()).isEqualTo(admitted.admittedAtMs());
        });
        await().atMost(WAIT).until(() -> b.completes(0) == 1);
        assertThat(b.content(0)).contains(HOLD);
        // And A was greeted once and is served; B's turn is held, never sent to the backend
        a.sendResponseRequired(1, "what are your hours");
        b.sendResponseRequired(1, "are you there");
        await().atMost(WAIT).until(() -> a.completes(1) == 1 && b.completes(1) == 1);
        assertThat(a.completes(0)).isEqualTo(1);
        assertThat(a.content(1).strip()).isEqualTo("You said: what are your hours");
        assertThat(b.content(1)).isEqualTo(HOLD);
        assertThat(asked).containsExactly("what are your hours");
        a.close();
        b.close();
    }

    @Test
    void shouldReleaseTheSlotOfASocketClosedForGoodAndKeepTheSlotOfOneThatCameBack() throws Exception {
        // Given one slot, two queue places, a socket-lost grace of 2 s; A started by webhook and on its socket,
        // B and C known only by their sockets, waiting
        startGateway(Map.of("capacity.queue-size", "2", "capacity.socket-lost-grace-ms", "2000"));
        assertThat(webhook(RetellWebhooks.body("call_started", "call-a"))).isEqualTo(200);
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.ACTIVE && a.completes(0) == 1);
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        await().atMost(WAIT).until(() -> status("call-b") == CallStatus.QUEUED && b.completes(0) == 1);
        assertThat(b.content(0)).contains(HOLD);
        RetellSocketClient c = RetellSocketClient.connect(client, gateway.httpUri(), "call-c", TOKEN);
        await().atMost(WAIT).until(() -> status("call-c") == CallStatus.QUEUED);

        // When A's socket closes and no other comes, and no call_ended either (lost, or over the body limit)
        a.close();

        // Then past the grace A's slot goes to B, the queue's head, which hears the agent's begin now
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.EXPIRED
                && status("call-b") == CallStatus.ACTIVE);
        assertThat(status("call-c")).isEqualTo(CallStatus.QUEUED);
        await().atMost(WAIT).until(() -> b.interrupts().stream()
                .anyMatch(f -> f.path("content").asText().contains(GREETING)));
        // And A is archived once, as socket_lost
        try (TopicReader<CallArchive> archive = archives()) {
            await().atMost(WAIT).until(() -> !archive.valuesFor("call-a").isEmpty());
            assertThat(archive.valuesFor("call-a")).singleElement()
                    .satisfies(x -> assertThat(x.reason()).isEqualTo(ArchiveReason.SOCKET_LOST));

            // When A's call_ended comes after all
            assertThat(webhook(RetellWebhooks.body("call_ended", "call-a"))).isEqualTo(200);

            // Then it is applied, but changes nothing twice: not archived again, no slot given back twice
            await().atMost(WAIT).until(() -> state("call-a").ended());
            assertThat(status("call-a")).isEqualTo(CallStatus.EXPIRED);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(archive.valuesFor("call-a")).hasSize(1);
                assertThat(status("call-c")).isEqualTo(CallStatus.QUEUED);
            });
        }

        // When B's connection drops (no close handshake) and Retell reconnects at once
        b.cut();
        RetellSocketClient b2 = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);

        // Then B keeps its slot well past the grace, and C keeps waiting
        await().atMost(WAIT).until(() -> state("call-b").reconnects() >= 1
                && state("call-b").socketLostAtMs() == null);
        await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            assertThat(status("call-b")).isEqualTo(CallStatus.ACTIVE);
            assertThat(status("call-c")).isEqualTo(CallStatus.QUEUED);
        });
        // And its turns reach the backend on the new socket
        b2.sendResponseRequired(5, "i am back");
        await().atMost(WAIT).until(() -> b2.completes(5) == 1);
        assertThat(b2.content(5).strip()).isEqualTo("You said: i am back");
        b2.close();
        c.close();
    }

    @Test
    void shouldShowTheHoldAndBusyCountsOnTheDashboard() throws Exception {
        // Given one slot and one queue place: A admitted, B held, C refused, each started by webhook and on its socket
        startGateway(Map.of("capacity.queue-size", "1"));
        for (String call : List.of("call-a", "call-b", "call-c")) {
            assertThat(webhook(RetellWebhooks.body("call_started", call))).isEqualTo(200);
            await().atMost(WAIT).until(() -> status(call) != null);
        }
        await().atMost(WAIT).until(() -> status("call-c") == CallStatus.REJECTED);
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        RetellSocketClient c = RetellSocketClient.connect(client, gateway.httpUri(), "call-c", TOKEN);
        await().atMost(WAIT).until(() -> a.completes(0) == 1 && b.completes(0) == 1 && c.completes(0) == 1);
        assertThat(b.content(0)).contains(HOLD);
        assertThat(c.content(0)).contains(BUSY);

        // When the admin listener's /dashboard is read
        // Then it shows the hold line said to B and the busy line said to C, and the answers on the topic by kind
        await().atMost(WAIT).untilAsserted(() -> {
            JsonNode dashboard = dashboard();
            assertThat(dashboard.path("holds_said").asLong()).isEqualTo(1);
            assertThat(dashboard.path("holds_by_at").path("begin").asLong()).isEqualTo(1);
            assertThat(dashboard.path("busy_said").asLong()).isEqualTo(1);
            // (C was known refused when its socket opened: the edge said the busy line itself, at once)
            assertThat(dashboard.path("busy_by_at").path("edge_begin").asLong()).isEqualTo(1);
            assertThat(dashboard.path("application").path("holds").asLong()).isEqualTo(1);
            assertThat(dashboard.path("queued_calls").asDouble()).isEqualTo(1.0);
        });
        a.close();
        b.close();
        c.close();
    }

    private JsonNode dashboard() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(gateway.adminUri().resolve("/dashboard"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return Json.mapper().readTree(response.body());
    }

    private int webhook(String body) throws Exception {
        return RetellWebhooks.post(http, gateway.httpUri(), KEY, body);
    }

    private CallState state(String callId) {
        return gateway.processor().callState(callId).orElseThrow();
    }

    private CallStatus status(String callId) {
        return gateway.processor().callState(callId).map(CallState::status).orElse(null);
    }

    /** Every state of the call written on call-state so far. */
    private List<CallState> history(String callId) {
        Topics topics = gateway.config().common().topics();
        try (TopicReader<CallState> states = new TopicReader<>(gateway.bootstrapServers(), topics.callState().name(),
                topics.callState().valueSerde().deserializer(), true)) {
            return states.valuesFor(callId).stream().filter(Objects::nonNull).toList();
        }
    }

    private TopicReader<CallArchive> archives() {
        Topics topics = gateway.config().common().topics();
        return new TopicReader<>(gateway.bootstrapServers(), topics.callArchive().name(),
                topics.callArchive().valueSerde().deserializer(), true);
    }

    private static JsonNode complete(RetellSocketClient socket, long responseId) {
        return socket.responses(responseId).stream().filter(f -> f.path("content_complete").asBoolean()).findFirst()
                .orElseThrow();
    }

    /** The words of every response and interrupt frame the socket got, one element a frame. */
    private static List<String> spoken(RetellSocketClient socket) {
        return socket.received().stream().map(RetellSocketClient.Frame::json)
                .filter(f -> ResponseType.RESPONSE.equals(f.path(ResponseType.FIELD).asText())
                        || ResponseType.AGENT_INTERRUPT.equals(f.path(ResponseType.FIELD).asText()))
                .map(f -> f.path("content").asText()).toList();
    }
}
