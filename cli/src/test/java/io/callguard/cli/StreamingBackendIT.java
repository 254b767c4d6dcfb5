package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.sim.SimulatedLlmServer;
import io.callguard.processor.responder.SimulatedStream;
import io.callguard.testkit.RetellSocketClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway in front of a real HTTP server that streams as hosted LLMs do (callguard's own sim-llm, OpenAI's
 * SSE protocol over a real socket), played by a real WebSocket client as Retell: a slow healthy stream is heard
 * whole, a stall ends with a closing line at the stall limit, a hang is bridged and then closed.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class StreamingBackendIT {

    private static final String TOKEN = "streaming-token";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final long BUDGET_MS = 800;
    private static final long SLACK_MS = 300;

    @TempDir
    Path dataDir;

    private final WebSocketClient client = new WebSocketClient();
    private SimulatedLlmServer llm;
    private Gateway gateway;

    @BeforeEach
    void startClient() throws Exception {
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
        if (llm != null) {
            llm.close();
        }
    }

    private void start(SimulatedStream stream, Map<String, String> extra) throws Exception {
        llm = new SimulatedLlmServer("127.0.0.1", 0, stream, "Hello!", new SplittableRandom(1)).start();
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1",
                "agent.backend", "openai", "agent.openai.url", llm.uri().toString(), "cache.enabled", "false"));
        settings.putAll(extra);
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
    }

    /** Every response frame for a turn up to and including its complete one. */
    private static List<RetellSocketClient.Frame> turn(RetellSocketClient retell, long id) throws InterruptedException {
        List<RetellSocketClient.Frame> frames = new ArrayList<>();
        while (true) {
            RetellSocketClient.Frame f = retell.next("response", WAIT);
            if (f.json().path("response_id").asLong() != id) {
                continue;
            }
            frames.add(f);
            if (f.json().path("content_complete").asBoolean()) {
                return frames;
            }
        }
    }

    private static String text(List<RetellSocketClient.Frame> frames) {
        StringBuilder text = new StringBuilder();
        frames.forEach(f -> text.append(f.json().path("content").asText()));
        return text.toString();
    }

    private static long msSince(long sentAtNanos, RetellSocketClient.Frame frame) {
        return TimeUnit.NANOSECONDS.toMillis(frame.atNanos() - sentAtNanos);
    }

    @Test
    void shouldDeliverASlowHealthyStreamWholeWithOneComplete() throws Exception {
        // Given a first chunk at 300 ms and 20 chunks over 3 s: far past the budget, healthy all along
        start(new SimulatedStream(0, 300, 300, 20, 150, 0, 0, 0, 0), Map.of());
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-slow", TOKEN);
        retell.next("response", WAIT);

        // When
        long sentAt = retell.sendResponseRequired(1, "tell me about my order");
        List<RetellSocketClient.Frame> frames = turn(retell, 1);

        // Then the first words inside the budget, the whole answer, one complete, no filler and no closing line
        assertThat(msSince(sentAt, frames.get(0))).isLessThan(BUDGET_MS);
        assertThat(text(frames)).startsWith("You said: tell me about my order. ").endsWith(".");
        assertThat(text(frames).split(" ")).hasSize(20);
        assertThat(msSince(sentAt, frames.get(frames.size() - 1))).isGreaterThan(3_000);
        assertThat(frames).filteredOn(f -> f.json().path("content_complete").asBoolean()).hasSize(1);
        assertThat(text(frames)).doesNotContain("moment").doesNotContain("Sorry");
        retell.close();
    }

    @Test
    void shouldEndAStalledStreamWithAClosingLineAtTheStallLimit() throws Exception {
        // Given every answer stalls 20 s halfway, and a stall limit of 1.5 s
        start(new SimulatedStream(0, 100, 100, 8, 20, 0, 0, 1.0, 20_000), Map.of("turn.stall-ms", "1500",
                "responder.fallback.stall", "Sorry, I lost that. Could you say it again?"));
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-stall", TOKEN);
        retell.next("response", WAIT);

        // When
        long sentAt = retell.sendResponseRequired(1, "hello");
        List<RetellSocketClient.Frame> frames = turn(retell, 1);

        // Then the words before the stall, then the closing line joined to them, about the stall limit after them
        RetellSocketClient.Frame last = frames.get(frames.size() - 1);
        assertThat(text(frames)).startsWith("You said: hello. I ").endsWith("Sorry, I lost that. Could you say it "
                + "again?");
        assertThat(msSince(sentAt, last)).isBetween(100L + 60 + 1_500 - 200, 100L + 100 + 1_500 + SLACK_MS);
        assertThat(frames).filteredOn(f -> f.json().path("content_complete").asBoolean()).hasSize(1);
        retell.close();
    }

    @Test
    void shouldBridgeAHangingBackendThenCloseAtTheFirstWordsDeadline() throws Exception {
        // Given a backend that holds every request open and sends nothing
        start(new SimulatedStream(0, 0, 0, 0, 0, 1.0, 0, 0, 0), Map.of("turn.first-words-deadline-ms", "2500",
                "responder.first-chunk-timeout-ms", "1000", "responder.fallback.timeout", "Sorry, that is taking "
                        + "too long. Could you ask me again?"));
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-hang", TOKEN);
        retell.next("response", WAIT);

        // When
        long sentAt = retell.sendResponseRequired(1, "hello");
        List<RetellSocketClient.Frame> frames = turn(retell, 1);

        // Then a filler inside the budget, then the closing line by the deadline; the hung requests were let go
        assertThat(frames).hasSize(2);
        assertThat(frames.get(0).json().path("content_complete").asBoolean()).isFalse();
        assertThat(msSince(sentAt, frames.get(0))).isLessThan(BUDGET_MS + SLACK_MS);
        assertThat(frames.get(1).json().path("content").asText()).isEqualTo("Sorry, that is taking too long. Could "
                + "you ask me again?");
        assertThat(msSince(sentAt, frames.get(1))).isBetween(2_500L - 200, 2_500L + SLACK_MS);
        assertThat(llm.requests()).isGreaterThanOrEqualTo(2);
        retell.close();
    }

    @Test
    void shouldHedgeAHangingPrimaryOnTheFallbackBackendAndSpeakItsAnswer() throws Exception {
        // Given a primary that never answers and a script fallback hedging after 200 ms
        start(new SimulatedStream(0, 0, 0, 0, 0, 1.0, 0, 0, 0), Map.of("agent.fallback.backend", "script",
                "responder.hedge.delay-ms", "200"));
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-hedge", TOKEN);
        retell.next("response", WAIT);

        // When
        long sentAt = retell.sendResponseRequired(1, "hello");
        List<RetellSocketClient.Frame> frames = turn(retell, 1);

        // Then the fallback's answer, whole, inside the budget; the hung primary request was let go
        assertThat(text(frames)).isEqualTo("You said: hello");
        assertThat(msSince(sentAt, frames.get(frames.size() - 1))).isLessThan(BUDGET_MS);
        await().atMost(WAIT).until(() -> llm.openStreams() == 0);
        retell.close();
    }
}
