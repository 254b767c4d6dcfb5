package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.CallStatus;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue-14 scenario end to end on a real broker, Retell played by a real socket client and no webhooks at all:
 * one partition, one slot, no queue. Call A's socket opens first and is admitted by its opening; call B's socket
 * is refused: it hears the busy line with end_call:true, exactly one complete per response id, and its turns never
 * reach the backend.
 */
@Tag("integration")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayCapacityTurnIT {

    private static final String TOKEN = "it-socket-token";
    private static final String BUSY = "Sorry, every line is busy. Please call again later.";
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dataDir;

    @Test
    void shouldAdmitTheFirstSocketAndEndTheRefusedOneWithTheBusyLine() throws Exception {
        Map<String, String> settings = settings("0");
        settings.put("capacity.busy-message", BUSY);
        GatewayConfig config = GatewayConfig.of(settings);
        WebSocketClient client = new WebSocketClient();
        try (Gateway gateway = new Gateway(config, Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            client.start();

            // Given call A's socket, admitted by its opening: the agent's greeting as its begin message
            RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
            await().atMost(WAIT).until(() -> completes(a.responses(0)) == 1);
            assertThat(content(a.responses(0))).isEqualTo("Hello! How can I help you today?");
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-a")
                    .map(s -> s.status() == CallStatus.ACTIVE).orElse(false));

            // When call B's socket opens while A holds the only slot
            RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);

            // Then B's begin message is the busy line, with end_call, completed once
            await().atMost(WAIT).until(() -> completes(b.responses(0)) == 1);
            JsonNode bBegin = complete(b.responses(0));
            assertThat(content(b.responses(0))).isEqualTo(BUSY);
            assertThat(bBegin.path("end_call").asBoolean()).isTrue();
            assertThat(gateway.processor().callState("call-b").map(s -> s.status()).orElseThrow())
                    .isEqualTo(CallStatus.REJECTED);

            // And B's next turn (were Retell to ask) gets the busy line with end_call, never the backend's echo
            b.sendResponseRequired(1, "hello can you help me");
            await().atMost(WAIT).until(() -> completes(b.responses(1)) == 1);
            assertThat(content(b.responses(1))).isEqualTo(BUSY).doesNotContain("You said");
            assertThat(complete(b.responses(1)).path("end_call").asBoolean()).isTrue();

            // While A is served by the backend as usual
            a.sendResponseRequired(1, "hello can you help me");
            await().atMost(WAIT).until(() -> completes(a.responses(1)) == 1);
            assertThat(content(a.responses(1))).isEqualTo("You said: hello can you help me");

            // And no response id got a second complete
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
                assertThat(completes(a.responses(0))).isEqualTo(1);
                assertThat(completes(b.responses(0))).isEqualTo(1);
                assertThat(completes(b.responses(1))).isEqualTo(1);
            });
            a.close();
            b.close();
        } finally {
            client.stop();
        }
    }

    @Test
    void shouldHoldAQueuedCallAndStartTheAgentWhenTheSlotIsGranted() throws Exception {
        Map<String, String> settings = settings("1");
        settings.putAll(Map.of("capacity.hold-message", HOLD, "capacity.hold-repeat-ms", "1000"));
        GatewayConfig config = GatewayConfig.of(settings);
        WebSocketClient client = new WebSocketClient();
        try (Gateway gateway = new Gateway(config, Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            client.start();
            // Given call B queued behind A: its begin message is the hold line, and its turns too, not the backend
            RetellSocketClient[] ab = aThenQueuedB(gateway, client);
            RetellSocketClient a = ab[0];
            RetellSocketClient b = ab[1];
            b.sendResponseRequired(1, "are you there");
            await().atMost(WAIT).until(() -> completes(b.responses(1)) == 1);
            assertThat(content(b.responses(1))).isEqualTo(HOLD);

            // And the hold line is said again while B waits, as an interrupt
            await().atMost(WAIT).until(() -> interrupts(b).stream().anyMatch(f -> f.path("content").asText()
                    .contains(HOLD)));

            // When A's socket closes for good and its call ends (Retell's hang-up), B gets the slot
            a.close();
            HttpClient http = HttpClient.newHttpClient();
            byte[] ended = RetellWebhooks.body("call_ended", "call-a")
                    .getBytes(StandardCharsets.UTF_8);
            assertThat(http.send(HttpRequest.newBuilder(gateway.httpUri().resolve("/webhook"))
                    .header("content-type", "application/json")
                    .header(RetellWebhooks.HEADER,
                            RetellWebhooks.sign("k", ended, System.currentTimeMillis()))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(ended)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-b")
                    .map(s -> s.status() == CallStatus.ACTIVE).orElse(false));

            // Then the agent starts: its greeting as an interrupt, and B's next turn is the backend's answer
            await().atMost(WAIT).until(() -> interrupts(b).stream().anyMatch(f -> f.path("content").asText()
                    .contains("Hello! How can I help you today?")));
            b.sendResponseRequired(2, "now can you help");
            await().atMost(WAIT).until(() -> completes(b.responses(2)) == 1);
            assertThat(content(b.responses(2))).isEqualTo("You said: now can you help");
            b.close();
        } finally {
            client.stop();
        }
    }

    private static final String HOLD = "All of our agents are busy; please hold, you are next in line.";
    private static final String GREETING = "Hello! How can I help you today?";
    /** The first of the default turn.filler-messages, as the edge says it before more words. */
    private static final String NEUTRAL_FILLER = "One moment. ";

    /**
     * One partition, one slot, a queue of {@code queueSize}, no webhooks. The budget is generous (3 s) so the
     * pipeline's begin comes before the edge's bridge on a loaded box: response 0 is the line alone.
     */
    private Map<String, String> settings(String queueSize) {
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1",
                "capacity.max-active-calls-per-partition", "1", "capacity.queue-size", queueSize));
        settings.putAll(Map.of("turn.budget-ms", "3000", "turn.first-words-deadline-ms", "15000"));
        return settings;
    }

    @Test
    void shouldBridgeALateAdmissionWithANeutralFillerNeverTheGreeting() throws Exception {
        // Given the default budget (800 ms) and a slot held by call A
        Map<String, String> settings = settings("1");
        settings.putAll(Map.of("turn.budget-ms", "800", "capacity.hold-message", HOLD,
                "capacity.busy-message", BUSY, "capacity.hold-repeat-ms", "60000"));
        WebSocketClient client = new WebSocketClient();
        try (Gateway gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            client.start();
            RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
            await().atMost(WAIT).until(() -> completes(a.responses(0)) == 1);
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-a")
                    .map(s -> s.status() == CallStatus.ACTIVE).orElse(false));

            // When the processor is held up (admission is late) while calls B and C open, past the budget
            org.apache.kafka.streams.KafkaStreams streams = gateway.processor().streams().orElseThrow();
            streams.pause();
            RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
            RetellSocketClient c = RetellSocketClient.connect(client, gateway.httpUri(), "call-c", TOKEN);
            await().atMost(WAIT).until(() -> !b.responses(0).isEmpty() && !c.responses(0).isEmpty());
            assertThat(b.responses(0).get(0).path("content").asText()).isEqualTo(NEUTRAL_FILLER);
            assertThat(c.responses(0).get(0).path("content").asText()).isEqualTo(NEUTRAL_FILLER);
            streams.resume();

            // Then B (queued) hears the filler and the hold line, C (refused: the queue is full) the filler and the
            // busy line with end_call: neither ever hears the agent's greeting
            await().atMost(WAIT).until(() -> completes(b.responses(0)) == 1 && completes(c.responses(0)) == 1);
            assertThat(content(b.responses(0))).isEqualTo(NEUTRAL_FILLER + HOLD).doesNotContain(GREETING);
            assertThat(content(c.responses(0))).isEqualTo(NEUTRAL_FILLER + BUSY).doesNotContain(GREETING);
            assertThat(complete(c.responses(0)).path("end_call").asBoolean()).isTrue();
            assertThat(gateway.processor().callState("call-b").map(s -> s.status()).orElseThrow())
                    .isEqualTo(CallStatus.QUEUED);
            assertThat(gateway.processor().callState("call-c").map(s -> s.status()).orElseThrow())
                    .isEqualTo(CallStatus.REJECTED);
            a.close();
            b.close();
            c.close();
        } finally {
            client.stop();
        }
    }

    @Test
    void shouldEndAQueuedCallWithTheBusyLineWhenItTimesOutInTheQueue() throws Exception {
        // Given a short queue timeout, and call B queued behind A (response 0 the hold line, complete)
        Map<String, String> settings = settings("1");
        settings.putAll(Map.of("capacity.hold-message", HOLD, "capacity.busy-message", BUSY,
                "capacity.hold-repeat-ms", "60000", "capacity.queue-timeout-ms", "2000",
                "call.expiry-scan-interval-ms", "200"));
        WebSocketClient client = new WebSocketClient();
        try (Gateway gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            client.start();
            RetellSocketClient[] ab = aThenQueuedB(gateway, client);
            RetellSocketClient a = ab[0];
            RetellSocketClient b = ab[1];

            // When A keeps its slot past B's queue timeout
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-b")
                    .map(s -> s.status() == CallStatus.REJECTED).orElse(false));
            assertThat(gateway.processor().callState("call-b").orElseThrow().rejectionReason())
                    .isEqualTo("queue_timeout");

            // Then B hears the busy line as an agent interrupt with end_call (its latest response id is complete),
            // once, and nothing else after the hold line
            await().atMost(WAIT).until(() -> !interrupts(b).isEmpty());
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                    .untilAsserted(() -> assertThat(interrupts(b)).singleElement().satisfies(f -> {
                        assertThat(f.path("content").asText()).isEqualTo(BUSY);
                        assertThat(f.path("content_complete").asBoolean()).isTrue();
                        assertThat(f.path("end_call").asBoolean()).isTrue();
                    }));
            assertThat(completes(b.responses(0))).isEqualTo(1);
            a.close();
            b.close();
        } finally {
            client.stop();
        }
    }

    /** Call A's socket, greeted, then call B's, queued behind it: its begin message is exactly the hold line. */
    private static RetellSocketClient[] aThenQueuedB(Gateway gateway, WebSocketClient client) throws Exception {
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        await().atMost(WAIT).until(() -> completes(a.responses(0)) == 1);
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        await().atMost(WAIT).until(() -> completes(b.responses(0)) == 1);
        assertThat(content(b.responses(0))).isEqualTo(HOLD);
        return new RetellSocketClient[] {a, b};
    }

    private static List<JsonNode> interrupts(RetellSocketClient socket) {
        return socket.received().stream().map(RetellSocketClient.Frame::json)
                .filter(f -> "agent_interrupt".equals(f.path("response_type").asText())).toList();
    }

    private static long completes(List<JsonNode> frames) {
        return frames.stream().filter(f -> f.path("content_complete").asBoolean()).count();
    }

    private static JsonNode complete(List<JsonNode> frames) {
        return frames.stream().filter(f -> f.path("content_complete").asBoolean()).findFirst().orElseThrow();
    }

    private static String content(List<JsonNode> frames) {
        StringBuilder all = new StringBuilder();
        frames.forEach(f -> all.append(f.path("content").asText()));
        return all.toString();
    }
}
