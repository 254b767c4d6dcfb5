package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.processor.responder.ResponderMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellSocketClient;
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
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call that moves between edge nodes: one node runs the broker, the processor and the responder, two edge nodes
 * ({@code roles=ingress,egress}) take sockets. Retell is played by a real WebSocket client that takes a turn on edge
 * A, drops the connection (as a network failure does: no close handshake) and reconnects to edge B. The backend is
 * slow (its first words 2.5 s after the request, the filler bridging at the budget), so an answer can still be
 * owed while the socket moves.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class CrossNodeReconnectIT {

    private static final String TOKEN = "cross-node-token";
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String GREETING = "Hello! How can I help you today?";
    private static final String CLOSING = "Sorry, one moment please.";
    private static final List<String> FILLERS = List.of("One moment.", "Let me check that for you.", "Just a second.");
    /** Every node's: deadlines the slow backend fits in. */
    private static final Map<String, String> SHARED = Map.of("socket.token", TOKEN, "retell.api-key", "k",
            "turn.first-words-deadline-ms", "6000", "turn.fallback-message", CLOSING);

    @TempDir
    static Path dir;

    private Gateway backend;
    private Gateway edgeA;
    private Gateway edgeB;
    private final WebSocketClient retell = new WebSocketClient();
    private Topics topics;

    @BeforeAll
    void start() throws Exception {
        Map<String, String> processor = new HashMap<>(SHARED);
        processor.putAll(Map.of("data.dir", dir.resolve("backend").toString(), "broker.port", "0",
                "topics.partitions", "3", "roles", "processor", "node.id", "backend",
                "agent.script.delay-ms", "2500", "responder.first-chunk-timeout-ms", "4000"));
        processor.put("admin.port", "0");
        backend = new Gateway(GatewayConfig.of(processor), Clock.systemUTC()).start();
        edgeA = edge("edge-a");
        edgeB = edge("edge-b");
        await().atMost(Duration.ofSeconds(120)).until(() -> ready(backend) && ready(edgeA) && ready(edgeB));
        topics = backend.config().common().topics();
        retell.start();
    }

    private Gateway edge(String node) {
        Map<String, String> settings = new HashMap<>(SHARED);
        settings.putAll(Map.of("data.dir", dir.resolve(node).toString(), "bootstrap.servers",
                backend.bootstrapServers(), "http.port", "0", "roles", "ingress,egress", "node.id", node));
        settings.put("admin.port", "0");
        return new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
    }

    private static boolean ready(Gateway gateway) {
        return Boolean.TRUE.equals(gateway.readiness().get("ready"));
    }

    @AfterAll
    void stop() throws Exception {
        retell.stop();
        for (Gateway g : new Gateway[] {edgeB, edgeA, backend}) {
            if (g != null) {
                g.close();
            }
        }
    }

    @Test
    void shouldNotGreetACallThatReconnectsToAnotherEdgeAndAnswerItsNextTurnThere() throws Exception {
        // Given a call greeted on edge A that took a turn there
        RetellSocketClient onA = RetellSocketClient.connect(retell, edgeA.httpUri(), "moved-1", TOKEN);
        assertThat(complete(onA, 0)).isEqualTo(GREETING);
        onA.sendResponseRequired(1, "first question");
        assertThat(complete(onA, 1)).contains("You said: first question");

        // When its connection drops and Retell reconnects to edge B
        onA.cut();
        RetellSocketClient onB = RetellSocketClient.connect(retell, edgeB.httpUri(), "moved-1", TOKEN);

        // Then the begin on B is empty and complete: the caller is not greeted again mid-call
        assertThat(complete(onB, 0)).isEmpty();
        // And edge B decided it at once, from the shared call state (it never saw the call before)
        assertThat(socketOpenedOn("moved-1", "edge-b").path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);

        // And the next turn on B is answered by the backend, through B
        onB.sendResponseRequired(2, "second question");
        assertThat(complete(onB, 2)).contains("You said: second question");
        assertThat(onB.received()).noneMatch(f -> f.json().path("content").asText().contains(GREETING));
        onB.close();
    }

    @Test
    void shouldGiveTheAnswerOwedAtTheMoveToTheNewNodeWhenRetellAsksForItAgain() throws Exception {
        // Given a call whose socket on edge A drops right after it asked, and whose answer is written while no
        // socket of it is anywhere (edge A holds it for a socket that will not come back)
        askOnEdgeAThenDrop("moved-2", "where is my order", true);

        // When Retell reconnects to edge B and asks for the same turn again
        RetellSocketClient onB = RetellSocketClient.connect(retell, edgeB.httpUri(), "moved-2", TOKEN);
        assertThat(complete(onB, 0)).isEmpty();
        onB.sendResponseRequired(1, "where is my order");

        // Then B gets the answer the backend gave (the responder re-sends it), not the watchdog's closing line
        String heard = complete(onB, 1);
        assertThat(heard).contains("You said: where is my order").doesNotContain(CLOSING);
        assertThat(FILLERS).anyMatch(heard::startsWith);
        assertThat(resent(ResponderMetrics.AT_ASKED_AGAIN)).isGreaterThanOrEqualTo(1);
        onB.close();
    }

    @Test
    void shouldCatchTheNewNodeUpOnAnAnswerStillBeingWrittenAtTheMove() throws Exception {
        // Given a call whose socket on edge A drops after it asked; the responder bridged with a filler at the
        // budget (while no socket of the call is anywhere), and the backend's words are still to come
        askOnEdgeAThenDrop("moved-3", "is it raining", false);

        // When Retell reconnects to edge B and does not ask again
        RetellSocketClient onB = RetellSocketClient.connect(retell, edgeB.httpUri(), "moved-3", TOKEN);

        // Then B hears the filler it missed and then the answer, completed once
        String heard = complete(onB, 1);
        assertThat(FILLERS).anyMatch(heard::startsWith);
        assertThat(heard).contains("You said: is it raining").doesNotContain(CLOSING);
        assertThat(onB.responses(1)).filteredOn(j -> j.path("content_complete").asBoolean()).hasSize(1);
        assertThat(resent(ResponderMetrics.AT_RECONNECT)).isGreaterThanOrEqualTo(1);
        onB.close();
    }

    @Test
    void shouldSayWhyANodeWithoutSocketsHasNoCallList() throws Exception {
        // When GET /calls is asked of the processor-only node, which follows no view of call-state
        HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(backend.adminUri()
                .resolve("/calls")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());

        // Then it says so, and where one call's state is
        assertThat(reply.statusCode()).isEqualTo(404);
        JsonNode body = io.callguard.schemas.Json.mapper().readTree(reply.body());
        assertThat(body.path("error").asText()).isEqualTo("no call list on this node");
        assertThat(body.path("detail").asText()).contains("GET /calls/{call_id}");
    }

    /** The content of a response id on the socket once it completed, or fails after the wait. */
    private static String complete(RetellSocketClient socket, long responseId) {
        await().atMost(WAIT).until(() -> socket.responses(responseId).stream()
                .anyMatch(j -> j.path("content_complete").asBoolean()));
        return socket.responses(responseId).stream().map(j -> j.path("content").asText())
                .reduce("", String::concat);
    }

    /**
     * A call greeted on edge A asks turn 1, and its connection drops at once; returns once the responder wrote the
     * turn's complete answer ({@code untilComplete}) or its filler, with no socket of the call anywhere.
     */
    private void askOnEdgeAThenDrop(String callId, String question, boolean untilComplete) throws Exception {
        RetellSocketClient onA = RetellSocketClient.connect(retell, edgeA.httpUri(), callId, TOKEN);
        complete(onA, 0);
        onA.sendResponseRequired(1, question);
        onA.cut();
        try (TopicReader<AgentResponse> responses = new TopicReader<>(backend.bootstrapServers(),
                topics.responses().name(), topics.responses().valueSerde().deserializer())) {
            await().atMost(WAIT).until(() -> responses.valuesFor(callId).stream().anyMatch(r -> r.responseId() == 1
                    && (untilComplete ? r.contentComplete() : r.kind() == ResponseKind.FILLER)));
        }
    }

    private JsonNode socketOpenedOn(String callId, String edgeNode) {
        try (TopicReader<CallEvent> events = new TopicReader<>(backend.bootstrapServers(), topics.callEvents().name(),
                topics.callEvents().valueSerde().deserializer())) {
            JsonNode[] found = new JsonNode[1];
            await().atMost(WAIT).until(() -> {
                events.valuesFor(callId).stream().filter(e -> CallEvent.TYPE_SOCKET_OPENED.equals(e.type())
                        && edgeNode.equals(e.edgeNode())).findFirst().ifPresent(e -> found[0] = e.payload());
                return found[0] != null;
            });
            return found[0];
        }
    }

    private double resent(String at) {
        var counter = backend.meters().find(ResponderMetrics.ANSWERS_RESENT).tags(ResponderMetrics.TAG_AT, at)
                .counter();
        return counter == null ? 0 : counter.count();
    }
}
