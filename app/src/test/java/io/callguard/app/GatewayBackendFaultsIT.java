package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.TopicReader;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A failing or hanging agent backend never leaves the caller in silence: fallbacks inside the budget. */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class GatewayBackendFaultsIT {

    private static final String TOKEN = "faults-token";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final long BUDGET_MS = 800;
    private static final long SLACK_MS = 250;
    private static final long FIRST_WORDS_MS = 1_500;

    @TempDir
    Path dataDir;

    private Gateway gateway;
    private final WebSocketClient client = new WebSocketClient();

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
    }

    private void startGateway(Map<String, String> faults) {
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1"));
        settings.putAll(faults);
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> gateway.processor().isRunning()
                && Boolean.TRUE.equals(gateway.readiness().get("ready")));
    }

    @Test
    void shouldAnswerWithATimeoutFallbackInsideTheBudgetWhenTheBackendHangs() throws Exception {
        // Given a backend that never returns, and a first-words deadline of 1.5 s
        startGateway(Map.of("agent.script.hang-rate", "1.0", "responder.fallback.timeout", "Let me check on that.",
                "turn.first-words-deadline-ms", String.valueOf(FIRST_WORDS_MS)));
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-hang", TOKEN);
        retell.next("response", WAIT);

        // When Retell asks
        long sentAt = retell.sendResponseRequired(1, "what time is it");

        // Then a filler by the end of the budget (the responder's, 60 ms before it; or, on a machine too loaded for
        // the Kafka hop, the edge watchdog's at it), then the closing line by the first-words deadline: never silence
        RetellSocketClient.Frame filler = retell.next("response", WAIT);
        assertThat(filler.json().path("response_id").asLong()).isEqualTo(1);
        assertThat(filler.json().path("content_complete").asBoolean()).isFalse();
        assertThat(filler.json().path("content").asText()).isNotBlank();
        assertThat(TimeUnit.NANOSECONDS.toMillis(filler.atNanos() - sentAt)).isLessThan(BUDGET_MS + SLACK_MS);
        RetellSocketClient.Frame answer = complete(retell, 1);
        assertThat(answer.json().path("content").asText()).isIn("Let me check on that.", "Sorry, one moment please.");
        assertThat(TimeUnit.NANOSECONDS.toMillis(answer.atNanos() - sentAt)).isLessThan(FIRST_WORDS_MS + SLACK_MS);
        assertThat(responsesFor("call-hang")).anySatisfy(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.FALLBACK);
            assertThat(r.reason()).isEqualTo("timeout");
        });
        retell.close();
    }

    @Test
    void shouldFallBackOnErrorsThenOpenTheCircuitAndStopCallingTheBackend() throws Exception {
        // Given a backend that always fails, and a breaker that opens after 4 calls
        startGateway(Map.of("agent.script.failure-rate", "1.0", "responder.breaker.minimum-calls", "4",
                "responder.breaker.sliding-window-size", "4", "responder.breaker.wait-in-open-ms", "60000",
                "responder.retry.max-attempts", "1"));
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-fail", TOKEN);
        retell.next("response", WAIT);

        // When Retell asks six times
        for (long id = 1; id <= 6; id++) {
            long sentAt = retell.sendResponseRequired(id, "question " + id);
            RetellSocketClient.Frame answer = complete(retell, id);
            // Then every turn is answered by the end of the budget
            assertThat(TimeUnit.NANOSECONDS.toMillis(answer.atNanos() - sentAt)).isLessThan(BUDGET_MS + SLACK_MS);
        }

        // And the answers were error fallbacks until the circuit opened, then circuit_open ones
        await().atMost(WAIT).until(() -> responsesFor("call-fail").stream().filter(AgentResponse::contentComplete)
                .count() >= 6);
        List<String> reasons = responsesFor("call-fail").stream().filter(AgentResponse::contentComplete)
                .filter(r -> r.responseId() > 0).map(AgentResponse::reason).toList();
        assertThat(reasons).startsWith("error", "error", "error", "error").endsWith("circuit_open", "circuit_open");
        assertThat(gateway.meters().scrape()).contains("callguard_breaker_transitions_total");
        retell.close();
    }

    private List<AgentResponse> responsesFor(String callId) {
        try (TopicReader<AgentResponse> reader = new TopicReader<>(gateway.bootstrapServers(),
                gateway.config().common().topics().responses().name(),
                gateway.config().common().topics().responses().valueSerde().deserializer())) {
            List<AgentResponse> out = List.of();
            for (int i = 0; i < 20 && out.isEmpty(); i++) {
                out = reader.valuesFor(callId);
            }
            return reader.valuesFor(callId).isEmpty() ? out : reader.valuesFor(callId);
        }
    }

    private static RetellSocketClient.Frame complete(RetellSocketClient retell, long id) throws InterruptedException {
        while (true) {
            RetellSocketClient.Frame f = retell.next("response", WAIT);
            if (f.json().path("response_id").asLong() == id && f.json().path("content_complete").asBoolean()) {
                return f;
            }
        }
    }
}
