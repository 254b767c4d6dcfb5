package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.sim.SimulatedLlmServer;
import io.callguard.processor.responder.SimulatedStream;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellSocketClient;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
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
 * Function calling through the whole gateway: the {@code openai} backend against sim-llm (a real HTTP server that
 * streams tool calls in OpenAI's delta format), an operator tool served by a real HTTP endpoint, and Retell played
 * by a real WebSocket client. Retell sees the holding line, the tool frames and the follow-up under one
 * {@code response_id}; the agent's own {@code end_call} reaches Retell on the complete frame, after its message.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class OpenAiToolsIT {

    private static final String TOKEN = "tools-token";
    private static final String CALL = "call-tools";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String HOLDING = "One moment while I look that up.";
    private static final String RESULT = "{\"status\":\"shipped\",\"eta\":\"Friday\"}";

    @TempDir
    Path dataDir;

    private final WebSocketClient client = new WebSocketClient();
    private final List<String> idempotencyKeys = new CopyOnWriteArrayList<>();
    private final List<JsonNode> toolBodies = new CopyOnWriteArrayList<>();
    private HttpServer tool;
    private SimulatedLlmServer llm;
    private Gateway gateway;

    @BeforeEach
    void start() throws Exception {
        tool = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        tool.createContext("/tools/lookup_order", exchange -> {
            idempotencyKeys.addAll(exchange.getRequestHeaders().getOrDefault("Idempotency-Key", List.of()));
            toolBodies.add(Json.mapper().readTree(exchange.getRequestBody().readAllBytes()));
            byte[] body = RESULT.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        tool.start();
        llm = new SimulatedLlmServer("127.0.0.1", 0, new SimulatedStream(0, 50, 50, 4, 20, 0, 0, 0, 0), "Hello!",
                new SplittableRandom(1)).start();
        String definitions = "[{\"name\":\"lookup_order\",\"description\":\"Find an order by its id\","
                + "\"parameters\":{\"type\":\"object\",\"properties\":{\"order_id\":{\"type\":\"string\"}},"
                + "\"required\":[\"order_id\"]},\"url\":\"http://127.0.0.1:" + tool.getAddress().getPort()
                + "/tools/lookup_order\",\"timeout_ms\":3000}]";
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1",
                "agent.backend", "openai", "agent.openai.url", llm.uri().toString(), "cache.enabled", "false"));
        settings.putAll(Map.of("agent.tools.definitions", definitions, "agent.tools.holding-line", HOLDING));
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
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
        if (tool != null) {
            tool.stop(0);
        }
    }

    @Test
    void shouldRunTheOperatorToolUnderOneResponseIdAndHangUpOnTheAgentsEndCall() throws Exception {
        // Given a call whose begin message was said
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), CALL, TOKEN);
        retell.nextComplete(0, WAIT);

        // When the caller asks about an order: the LLM calls lookup_order before any words
        int before = retell.received().size();
        retell.sendResponseRequired(1, "where is my order 4711");
        retell.nextComplete(1, WAIT);

        // Then Retell gets the holding line, the invocation, the result, then the follow-up, all for response 1
        List<JsonNode> frames = new ArrayList<>();
        for (RetellSocketClient.Frame f : retell.received().subList(before, retell.received().size())) {
            String type = f.json().path("response_type").asText();
            if (!"ping_pong".equals(type) && !("response".equals(type) && f.json().path("content").asText().isEmpty()
                    && !f.json().path("content_complete").asBoolean())) {
                frames.add(f.json());
            }
        }
        List<String> types = frames.stream().map(f -> f.path("response_type").asText()).toList();
        int invocation = types.indexOf("tool_call_invocation");
        int result = types.indexOf("tool_call_result");
        assertThat(invocation).isPositive();
        assertThat(result).isGreaterThan(invocation);
        assertThat(types.subList(0, invocation)).containsOnly("response");
        assertThat(types.subList(result + 1, types.size())).isNotEmpty().containsOnly("response");
        assertThat(frames).filteredOn(f -> "response".equals(f.path("response_type").asText()))
                .allSatisfy(f -> assertThat(f.path("response_id").asLong()).isEqualTo(1));
        assertThat(text(frames.subList(0, invocation))).isEqualTo(HOLDING);
        assertThat(text(frames.subList(result + 1, frames.size())))
                .isEqualTo(SimulatedLlmServer.TOOL_FOLLOW_UP + RESULT);
        assertThat(frames.get(frames.size() - 1).path("content_complete").asBoolean()).isTrue();
        assertThat(frames).filteredOn(f -> f.path("content_complete").asBoolean()).hasSize(1);
        JsonNode invoked = frames.get(invocation);
        assertThat(invoked.path("name").asText()).isEqualTo("lookup_order");
        assertThat(Json.mapper().readTree(invoked.path("arguments").asText()).path("order_id").asText())
                .isEqualTo("4711");
        String toolCallId = invoked.path("tool_call_id").asText();
        assertThat(frames.get(result).path("tool_call_id").asText()).isEqualTo(toolCallId);
        assertThat(frames.get(result).path("content").asText()).isEqualTo(RESULT);

        // And the tool endpoint ran once, with the turn's idempotency key
        assertThat(idempotencyKeys).containsExactly(CALL + ":1:" + toolCallId);
        assertThat(toolBodies).hasSize(1);
        assertThat(toolBodies.get(0).path("arguments").path("order_id").asText()).isEqualTo("4711");

        // When the caller says goodbye: the LLM calls end_call with its message
        retell.sendResponseRequired(2, "thanks, bye");
        retell.nextComplete(2, WAIT);

        // Then the message is said, and end_call rides on the complete frame after it, once
        List<JsonNode> bye = retell.responses(2);
        JsonNode complete = bye.get(bye.size() - 1);
        assertThat(complete.path("content_complete").asBoolean()).isTrue();
        assertThat(complete.path("end_call").asBoolean()).isTrue();
        assertThat(bye).filteredOn(f -> f.has("end_call")).hasSize(1);
        assertThat(text(bye)).isEqualTo("Thanks for calling. Goodbye!");
        assertThat(retell.received()).extracting(f -> f.json().path("response_type").asText())
                .filteredOn("tool_call_invocation"::equals).hasSize(1);
        retell.close();
    }

    private static String text(List<JsonNode> frames) {
        StringBuilder text = new StringBuilder();
        frames.forEach(f -> text.append(f.path("content").asText()));
        return text.toString();
    }
}
