package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellSocketClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
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
 * callguard in front of a team's existing custom-LLM server, end to end: Retell played by a real WebSocket client,
 * a real broker, the whole pipeline, and the upstream a Node {@code ws} server written against Retell's protocol
 * (processor/src/test/node, installed by the processor build) that knows nothing of callguard.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayUpstreamIT {

    private static final String TOKEN = "it-socket-token";
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    static Path dataDir;

    private NodeUpstreamServer upstream;
    private Gateway gateway;
    private final WebSocketClient client = new WebSocketClient();

    @BeforeAll
    void start() throws Exception {
        upstream = NodeUpstreamServer.start(0);
        GatewayConfig config = GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "2",
                "agent.backend", "retell-socket", "agent.upstream.url-template", upstream.urlTemplate()));
        gateway = new Gateway(config, Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        client.start();
    }

    @AfterAll
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void shouldCarryTheUpstreamsBeginMessageAnswersToolsAndHangUpToRetell() throws Exception {
        // Given a call's socket opened the way Retell opens it, then Retell's call_details
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-upstream", TOKEN);
        assertThat(retell.next(WAIT).json().path("response_type").asText()).isEqualTo("config");
        retell.sendText("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"call-upstream\","
                + "\"from_number\":\"+14155550123\",\"agent_id\":\"agent-1\"}}");

        // Then the caller hears the upstream's own begin message (the edge greeting only as a bridge if it was late)
        await().atMost(WAIT).until(() -> completes(retell.responses(0)) == 1);
        assertThat(content(retell.responses(0))).contains("Hello +14155550123, how can I help?");

        // When the caller speaks, the upstream's answer is relayed, streamed, under the same id
        retell.sendResponseRequired(1, "hello there");
        await().atMost(WAIT).until(() -> completes(retell.responses(1)) == 1);
        assertThat(content(retell.responses(1))).isEqualTo("You said: hello there");

        // When the caller asks about an order, the upstream's holding line, tool frames and follow-up come in order
        int before = retell.received().size();
        retell.sendResponseRequired(2, "where is my order");
        await().atMost(WAIT).until(() -> completes(retell.responses(2)) == 1);
        List<String> sequence = retell.received().subList(before, retell.received().size()).stream()
                .map(RetellSocketClient.Frame::json)
                .filter(f -> !"ping_pong".equals(f.path("response_type").asText()))
                .filter(f -> !"response".equals(f.path("response_type").asText())
                        || !f.path("content").asText().isEmpty())
                .map(f -> f.path("response_type").asText() + ("response".equals(f.path("response_type").asText())
                        ? ":" + f.path("content").asText() : ""))
                .toList();
        assertThat(String.join("", sequence.stream().filter(s -> s.startsWith("response:")).toList()))
                .isEqualTo("response:Let me check your order.response:Your order has shipped.");
        assertThat(sequence.stream().filter(s -> !s.startsWith("response:")).toList())
                .containsExactly("tool_call_invocation", "tool_call_result");
        assertThat(sequence.indexOf("tool_call_invocation")).isGreaterThan(
                sequence.indexOf("response:Let me check your order."));
        assertThat(sequence.indexOf("tool_call_result")).isLessThan(sequence.indexOf("response:Your order has shipped."));
        JsonNode invocation = retell.received().stream().map(RetellSocketClient.Frame::json)
                .filter(f -> "tool_call_invocation".equals(f.path("response_type").asText())).findFirst().orElseThrow();
        assertThat(invocation.path("name").asText()).isEqualTo("lookup_order");
        assertThat(Json.mapper().readTree(invocation.path("arguments").asText()).path("order_id").asText())
                .isEqualTo("42");

        // When the caller says goodbye, the upstream's end_call reaches Retell on the complete frame, once
        retell.sendResponseRequired(3, "ok bye");
        await().atMost(WAIT).until(() -> completes(retell.responses(3)) == 1);
        List<JsonNode> last = retell.responses(3);
        JsonNode complete = last.stream().filter(f -> f.path("content_complete").asBoolean()).findFirst().orElseThrow();
        assertThat(complete.path("end_call").asBoolean()).isTrue();
        assertThat(last.stream().filter(f -> f.has("end_call")).count()).isEqualTo(1);
        assertThat(content(last)).isEqualTo("Goodbye!");
        retell.close();
    }

    @Test
    void shouldGoOnWithTheRestartedUpstreamAfterItWasKilledMidCall() throws Exception {
        // Given a call in progress through the upstream
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-restart", TOKEN);
        retell.next("config", WAIT);
        retell.sendText("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"call-restart\","
                + "\"from_number\":\"+14155550124\"}}");
        await().atMost(WAIT).until(() -> completes(retell.responses(0)) == 1);
        retell.sendResponseRequired(1, "first question");
        await().atMost(WAIT).until(() -> completes(retell.responses(1)) == 1);

        // When the upstream is killed (no close handshake) and started again on the same port
        int port = upstream.port();
        upstream.kill();
        upstream = NodeUpstreamServer.start(port);
        assertThat(upstream.port()).isEqualTo(port);

        // Then the next turns are answered by the restarted upstream, whole, on the same Retell socket (the first
        // may be bridged by a filler while callguard dials the upstream again: on a loaded host the reconnect's
        // randomized backoff can pass the budget; the whole answer still follows)
        for (long id = 2; id <= 3; id++) {
            retell.sendResponseRequired(id, "question " + id);
            long turn = id;
            await().atMost(WAIT).until(() -> completes(retell.responses(turn)) == 1);
            String answer = content(retell.responses(id));
            String filler = new io.callguard.common.CommonConfig(Map.of()).turnFillerMessages().stream()
                    .filter(f -> answer.startsWith(f + " ")).findFirst().map(f -> f + " ").orElse("");
            assertThat(answer).isEqualTo(filler + "You said: question " + id);
        }
        assertThat(retell.isOpen()).isTrue();
        retell.close();
    }

    @Test
    void shouldCarryTheUpstreamsSettingsMetadataDigitAndHangUpToRetellAndRetellsWholeUtterancesToIt()
            throws Exception {
        // Given a call's socket: callguard asks Retell for the transcript with tool calls on its upstream's behalf
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), "call-voice", TOKEN);
        JsonNode config = retell.next("config", WAIT).json();
        assertThat(config.path("config").path("transcript_with_tool_calls").asBoolean()).isTrue();
        retell.sendText("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"call-voice\","
                + "\"from_number\":\"+14155550126\"}}");
        await().atMost(WAIT).until(() -> completes(retell.responses(0)) == 1);

        // When Retell asks with words[] and the tool-call transcript, and the upstream changes its settings
        retell.sendText("{\"interaction_type\":\"response_required\",\"response_id\":1,\"transcript\":[{\"role\":"
                + "\"user\",\"content\":\"update your settings\",\"words\":[{\"word\":\"update\",\"start\":0.1,"
                + "\"end\":0.4}]}],\"transcript_with_tool_calls\":[{\"role\":\"user\",\"content\":\"update your "
                + "settings\"}]}");
        await().atMost(WAIT).until(() -> completes(retell.responses(1)) == 1);

        // Then the upstream got the utterance whole, without the transcript it did not ask for
        await().atMost(WAIT).until(() -> asked(upstream, "update your settings") != null);
        JsonNode asked = asked(upstream, "update your settings");
        assertThat(asked.path("transcript").get(0).path("words").get(0).path("word").asText()).isEqualTo("update");
        assertThat(asked.has("transcript_with_tool_calls")).isFalse();
        // And Retell got its update_agent and metadata frames, and the answer's words
        await().atMost(WAIT).until(() -> ofType(retell, "metadata").size() == 1);
        assertThat(ofType(retell, "update_agent")).singleElement().satisfies(f ->
                assertThat(f.path("agent_config").path("responsiveness").asDouble()).isEqualTo(0.4));
        assertThat(ofType(retell, "metadata").get(0).path("metadata").path("topic").asText()).isEqualTo("settings");
        assertThat(content(retell.responses(1))).isEqualTo("Changing my settings.");

        // When the upstream presses a digit, the digit rides on the complete frame
        retell.sendResponseRequired(2, "press 1 for me");
        await().atMost(WAIT).until(() -> completes(retell.responses(2)) == 1);
        JsonNode pressed = retell.responses(2).get(retell.responses(2).size() - 1);
        assertThat(pressed.path("digit_to_press").asText()).isEqualTo("1");
        assertThat(content(retell.responses(2))).isEqualTo("Pressing one.");

        // When it changes its settings between turns, Retell gets that too
        retell.sendResponseRequired(3, "call me later");
        await().atMost(WAIT).until(() -> ofType(retell, "update_agent").size() == 2);
        assertThat(ofType(retell, "update_agent").get(1).path("agent_config").path("interruption_sensitivity")
                .asDouble()).isEqualTo(0.9);

        // When the upstream closes its socket with 1000 mid-answer: a hang-up, end_call after its words
        retell.sendResponseRequired(4, "close the line");
        await().atMost(WAIT).until(() -> completes(retell.responses(4)) == 1);
        List<JsonNode> last = retell.responses(4);
        assertThat(content(last)).isEqualTo("Closing the line.");
        assertThat(last.get(last.size() - 1).path("end_call").asBoolean()).isTrue();
        assertThat(last).filteredOn(f -> f.has("end_call")).hasSize(1);
        retell.close();
    }

    /** The request the upstream received whose first utterance is {@code said}; null when none. */
    private static JsonNode asked(NodeUpstreamServer upstream, String said) {
        return upstream.received("response_required").stream()
                .filter(f -> said.equals(f.path("transcript").path(0).path("content").asText()))
                .findFirst().orElse(null);
    }

    private static List<JsonNode> ofType(RetellSocketClient retell, String responseType) {
        return retell.received().stream().map(RetellSocketClient.Frame::json)
                .filter(f -> responseType.equals(f.path("response_type").asText())).toList();
    }

    /** The complete frames among a turn's responses. */
    static long completes(List<JsonNode> frames) {
        return frames.stream().filter(f -> f.path("content_complete").asBoolean()).count();
    }

    /** A turn's words, its responses' contents joined. */
    static String content(List<JsonNode> frames) {
        StringBuilder all = new StringBuilder();
        frames.forEach(f -> all.append(f.path("content").asText()));
        return all.toString();
    }
}
