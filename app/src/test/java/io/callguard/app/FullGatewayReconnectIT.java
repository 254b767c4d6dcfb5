package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.processor.PartitionCapacity;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.TopicReader;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Utils;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call that moves between two full gateways (every role: edge, processor, responder) on one broker, to the one
 * whose processor does not own the call's partition: its begin there is decided from the shared call state (the
 * node's view of call-state, behind its own store), so the caller is not greeted again. Gateway A says begins as
 * {@code socket.begin-message=auto} (owed to the pipeline), gateway B as {@code greeting} (said at once), so each
 * mode is the one deciding the begin of one reconnect.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class FullGatewayReconnectIT {

    private static final String TOKEN = "full-gateway-token";
    private static final int PARTITIONS = 4;
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String GREETING = "Hello! How can I help you today?";

    @TempDir
    static Path dir;

    private Gateway auto;
    private Gateway greeting;
    private final WebSocketClient retell = new WebSocketClient();

    @BeforeAll
    void start() throws Exception {
        auto = new Gateway(GatewayConfig.of(settings("gateway-a", "auto", Map.of("broker.port", "0"))),
                Clock.systemUTC()).start();
        greeting = new Gateway(GatewayConfig.of(settings("gateway-b", "greeting",
                Map.of("bootstrap.servers", auto.bootstrapServers()))), Clock.systemUTC()).start();
        // Both ready, and the partitions split between the two processors
        await().atMost(Duration.ofSeconds(120)).until(() -> ready(auto) && ready(greeting)
                && !owned(auto).isEmpty() && !owned(greeting).isEmpty()
                && owned(auto).size() + owned(greeting).size() == PARTITIONS);
        retell.start();
    }

    private Map<String, String> settings(String node, String beginMessage, Map<String, String> more) {
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dir.resolve(node).toString(),
                "http.port", "0", "admin.port", "0", "node.id", node, "socket.token", TOKEN, "retell.api-key", "k",
                "topics.partitions", String.valueOf(PARTITIONS), "warmup.enabled", "false",
                "socket.begin-message", beginMessage));
        settings.putAll(more);
        return settings;
    }

    private static boolean ready(Gateway gateway) {
        return Boolean.TRUE.equals(gateway.readiness().get("ready"));
    }

    @AfterAll
    void stop() throws Exception {
        retell.stop();
        for (Gateway g : new Gateway[] {greeting, auto}) {
            if (g != null) {
                g.close();
            }
        }
    }

    @Test
    void shouldNotGreetACallAgainOnAGreetingNodeThatDoesNotOwnItsPartition() throws Exception {
        shouldNotGreetACallMovedTo(greeting, auto, "to-greeting");
    }

    @Test
    void shouldNotOweTheBeginOfACallMovedToAnAutoNodeThatDoesNotOwnItsPartition() throws Exception {
        shouldNotGreetACallMovedTo(auto, greeting, "to-auto");
    }

    /** A call on a partition of {@code from}'s processor, greeted and answered there, reconnects to {@code to}. */
    private void shouldNotGreetACallMovedTo(Gateway to, Gateway from, String prefix) throws Exception {
        // Given a call whose partition the processor of `from` owns (not the one of `to`), greeted there, one turn in
        String callId = callOn(from, prefix);
        RetellSocketClient before = RetellSocketClient.connect(retell, from.httpUri(), callId, TOKEN);
        assertThat(complete(before, 0)).isEqualTo(GREETING);
        before.sendResponseRequired(1, "first question");
        assertThat(complete(before, 1)).contains("You said: first question");

        // When its connection drops and Retell reconnects to the other gateway, once the shared call state (as that
        // node reads it) has the call's turn
        before.cut();
        await().atMost(WAIT).until(() -> to.callStateView().apply(callId).map(CallState::latestResponseId)
                .filter(id -> id >= 1).isPresent());
        assertThat(from.processor().callState(callId)).as("in the old node's stores").isPresent();
        assertThat(to.processor().callState(callId)).as("not in the new node's own stores").isEmpty();
        RetellSocketClient after = RetellSocketClient.connect(retell, to.httpUri(), callId, TOKEN);

        // Then its begin there is empty, said at once by the edge (not owed, not the greeting)
        assertThat(complete(after, 0)).isEmpty();
        assertThat(socketOpenedOn(to, callId).path("begin").asText()).isEqualTo(CallEvent.BEGIN_SENT);

        // And the next turn is answered there, and the caller never heard the greeting again
        after.sendResponseRequired(2, "second question");
        assertThat(complete(after, 2)).contains("You said: second question");
        assertThat(after.received()).noneMatch(f -> f.json().path("content").asText().contains(GREETING));
        after.close();
    }

    @Test
    void shouldListTheLiveCallsOfEveryPartitionOnEitherNodesAdminListener() throws Exception {
        // Given a live call on each gateway's partitions, with a socket on gateway A
        String onA = callOn(auto, "listed");
        String onB = callOn(greeting, "listed");
        RetellSocketClient first = RetellSocketClient.connect(retell, auto.httpUri(), onA, TOKEN);
        RetellSocketClient second = RetellSocketClient.connect(retell, auto.httpUri(), onB, TOKEN);
        complete(first, 0);
        complete(second, 0);

        // When GET /calls is asked of either admin listener
        // Then each lists both calls, whichever node owns their partition, with their status and socket
        for (Gateway node : List.of(auto, greeting)) {
            await().atMost(WAIT).untilAsserted(() -> {
                JsonNode list = getJson(node, "/calls", 200);
                assertThat(list.path("limit").asInt()).isEqualTo(1000);
                assertThat(list.path("truncated").asBoolean()).isFalse();
                assertThat(list.path("known").asInt()).isGreaterThanOrEqualTo(2);
                assertThat(list.path("source").asText()).contains("/calls/{call_id}");
                for (String callId : List.of(onA, onB)) {
                    assertThat(list.path("calls")).anySatisfy(c -> {
                        assertThat(c.path("call_id").asText()).isEqualTo(callId);
                        assertThat(c.path("status").asText()).isEqualTo("active");
                        assertThat(c.path("connection_id").asText()).isNotEmpty();
                    });
                }
            });
        }
        first.close();
        second.close();
    }

    private static JsonNode getJson(Gateway node, String path, int status) throws Exception {
        HttpResponse<String> reply = HttpClient.newHttpClient().send(HttpRequest.newBuilder(node.adminUri()
                .resolve(path)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(reply.statusCode()).as(reply.body()).isEqualTo(status);
        return Json.mapper().readTree(reply.body());
    }

    /** Partitions whose stores this gateway's processor serves right now. */
    private static List<Integer> owned(Gateway gateway) {
        return gateway.processor().localCapacity().partitions().stream().map(PartitionCapacity::partition).toList();
    }

    /** A call id that Kafka's default partitioner puts on a partition {@code owner} serves, as the ingress does. */
    private static String callOn(Gateway owner, String prefix) {
        List<Integer> partitions = owned(owner);
        for (int i = 0; ; i++) {
            String id = prefix + "-" + i;
            if (partitions.contains(Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % PARTITIONS)) {
                return id;
            }
        }
    }

    /** What was said of a response id on the socket, once its complete frame came (fails after the wait). */
    private static String complete(RetellSocketClient socket, long responseId) throws InterruptedException {
        socket.nextComplete(responseId, WAIT);
        return String.join("", socket.responses(responseId).stream().map(j -> j.path("content").asText()).toList());
    }

    private static JsonNode socketOpenedOn(Gateway node, String callId) {
        Topics topics = node.config().common().topics();
        try (TopicReader<CallEvent> events = new TopicReader<>(node.bootstrapServers(), topics.callEvents().name(),
                topics.callEvents().valueSerde().deserializer())) {
            Optional<CallEvent>[] found = new Optional[] {Optional.empty()};
            await().atMost(WAIT).until(() -> {
                found[0] = events.valuesFor(callId).stream().filter(e -> CallEvent.TYPE_SOCKET_OPENED.equals(e.type())
                        && node.config().nodeId().equals(e.edgeNode())).findFirst();
                return found[0].isPresent();
            });
            return found[0].get().payload();
        }
    }
}
