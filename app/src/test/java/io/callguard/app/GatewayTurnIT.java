package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.testkit.RetellSocketClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The turn path end to end, Retell played by a real WebSocket client: edge socket, call-events, the
 * responder, responses, egress delivery and the edge watchdog, on a real broker.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayTurnIT {

    private static final String TOKEN = "it-socket-token";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final long BUDGET_MS = 800;
    private static final long SLACK_MS = 250;
    private static final long FIRST_WORDS_MS = 1_500;

    @TempDir
    static Path dataDir;

    private Gateway gateway;
    private final WebSocketClient client = new WebSocketClient();

    @BeforeAll
    void start() throws Exception {
        // The script backend answers slowly enough (150 ms) that a second request can overtake the first. The
        // greeting is said at once (through the egress ledger, like every begin): these tests time turns, and an
        // owed begin (socket.begin-message=auto) is the responder's and EdgeSocketTest's subject.
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "2",
                "socket.begin-message", "greeting",
                "agent.script.delay-ms", "150", "turn.fallback-message", "Sorry, one moment please."));
        settings.put("turn.first-words-deadline-ms", String.valueOf(FIRST_WORDS_MS));
        GatewayConfig config = GatewayConfig.of(settings);
        gateway = new Gateway(config, Clock.systemUTC()).start();
        // Ready includes the responder's partitions: its group starts at the topic's end, so a turn sent
        // before would never be read.
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        client.start();
    }

    @AfterAll
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    @Order(1)
    void shouldSendConfigThenBeginThenAnswerEveryTurnExactlyOnce() throws Exception {
        // Given a call's socket, opened the way Retell opens it
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-turns", TOKEN);

        // Then config comes first, then the begin message
        JsonNode config = retell.next(WAIT).json();
        assertThat(config.path("response_type").asText()).isEqualTo("config");
        assertThat(config.path("config").path("auto_reconnect").isBoolean()).isTrue();
        JsonNode begin = retell.next(WAIT).json();
        assertThat(begin.path("response_id").isIntegralNumber()).isTrue();
        assertThat(begin.path("response_id").asLong()).isZero();
        assertThat(begin.path("content_complete").asBoolean()).isTrue();

        // When Retell asks for three turns, one after another
        for (long id = 1; id <= 3; id++) {
            long sentAt = retell.sendResponseRequired(id, "tell me about turn " + id);
            RetellSocketClient.Frame answer = completeAnswer(retell, id);

            // Then each is answered, by the agent, with exact JSON types, and never later than the budget
            // (plus scheduling slack on a loaded 2-core machine): latency targets live in the drill, not here.
            assertThat(TimeUnit.NANOSECONDS.toMillis(answer.atNanos() - sentAt)).isLessThan(BUDGET_MS + SLACK_MS);
            assertThat(answer.json().path("content_complete").isBoolean()).isTrue();
            assertThat(fullContent(retell.responses(id))).contains("turn " + id);
        }
        // And no turn got a second complete answer
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).untilAsserted(() -> {
            for (long id = 1; id <= 3; id++) {
                assertThat(completes(retell.responses(id))).isEqualTo(1);
            }
        });
        retell.close();
    }

    @Test
    @Order(2)
    void shouldEchoPingAtTheEdgeWithin50Ms() throws Exception {
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-ping", TOKEN);
        retell.next("response", WAIT);
        long[] rtts = new long[5];
        for (int i = 0; i < rtts.length; i++) {
            long sentAt = retell.sendPing(1_700_000_000_000L + i);
            RetellSocketClient.Frame pong = retell.next("ping_pong", WAIT);
            assertThat(pong.json().path("timestamp").asLong()).isEqualTo(1_700_000_000_000L + i);
            rtts[i] = TimeUnit.NANOSECONDS.toMillis(pong.atNanos() - sentAt);
        }
        java.util.Arrays.sort(rtts);
        assertThat(rtts[rtts.length / 2]).as("median ping round trip (ms)").isLessThan(50);
        retell.close();
    }

    @Test
    @Order(3)
    void shouldNeverAnswerAStaleResponseId() throws Exception {
        // Given a request the backend is still working on
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-stale", TOKEN);
        retell.next("response", WAIT);
        retell.sendResponseRequired(1, "first question");

        // When a newer request supersedes it before its answer
        retell.sendResponseRequired(2, "second question");

        // Then only the newer one is answered
        completeAnswer(retell, 2);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(retell.responses(1)).isEmpty());
        retell.close();
    }

    @Test
    @Order(4)
    void shouldDeliverTheOwedAnswerOnTheSocketThatReplacesACutOne() throws Exception {
        // Given a turn in flight on socket A
        RetellSocketClient first = RetellSocketClient.connect(client, gateway.httpUri(), "call-reconnect", TOKEN);
        first.next("response", WAIT);
        long sentAt = first.sendResponseRequired(1, "are you still there");

        // When A is cut and Retell reconnects with socket B for the same call
        first.cut();
        RetellSocketClient second = RetellSocketClient.connect(client, gateway.httpUri(), "call-reconnect", TOKEN);

        // Then B gets the answer owed for response 1, inside the budget, exactly once
        RetellSocketClient.Frame answer = completeAnswer(second, 1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(answer.atNanos() - sentAt)).isLessThan(BUDGET_MS + SLACK_MS);
        await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(completes(second.responses(1))).isEqualTo(1));
        second.close();
    }

    @Test
    @Order(10)
    void shouldSpeakTheFallbackItselfWhenTheProcessorIsStopped() throws Exception {
        // Given a live call whose pipeline behind the edge then stops
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-outage", TOKEN);
        retell.next("response", WAIT);
        gateway.responder().close();
        gateway.processor().close();

        // When Retell asks for an answer
        long sentAt = retell.sendResponseRequired(1, "hello?");

        // Then the edge watchdog bridges at the budget and closes at the first-words deadline by itself: no silence
        RetellSocketClient.Frame filler = retell.next("response", WAIT);
        assertThat(filler.json().path("content_complete").asBoolean()).isFalse();
        assertThat(TimeUnit.NANOSECONDS.toMillis(filler.atNanos() - sentAt)).isBetween(BUDGET_MS - 100,
                BUDGET_MS + SLACK_MS);
        RetellSocketClient.Frame answer = completeAnswer(retell, 1);
        long ms = TimeUnit.NANOSECONDS.toMillis(answer.atNanos() - sentAt);
        assertThat(answer.json().path("content").asText()).isEqualTo("Sorry, one moment please.");
        assertThat(ms).isBetween(FIRST_WORDS_MS - 100, FIRST_WORDS_MS + SLACK_MS);
        retell.close();
    }

    private static RetellSocketClient.Frame completeAnswer(RetellSocketClient retell, long responseId)
            throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            RetellSocketClient.Frame f = retell.next("response", WAIT);
            if (f.json().path("response_id").asLong() == responseId && f.json().path("content_complete").asBoolean()) {
                return f;
            }
        }
        throw new AssertionError("no complete answer for response " + responseId);
    }

    /** A streamed answer's text: its chunks in order. */
    private static String fullContent(List<JsonNode> frames) {
        return frames.stream().map(f -> f.path("content").asText()).reduce("", String::concat);
    }

    private static long completes(List<JsonNode> frames) {
        return frames.stream().filter(f -> f.path("content_complete").asBoolean()).count();
    }
}
