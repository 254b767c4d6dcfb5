package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.callguard.processor.responder.tools.ToolRunner;
import io.callguard.schemas.Json;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Function calling against a real HTTP server streaming chat completions as OpenAI does (tool-call deltas with the
 * id and name first and the arguments in pieces), and real HTTP tool endpoints.
 */
class OpenAiToolCallingTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String ORDER_TOOL = "{\"name\":\"lookup_order\",\"description\":\"Find an order\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"order_id\":{\"type\":\"string\"}},"
            + "\"required\":[\"order_id\"]},\"url\":\"%s\",\"timeout_ms\":%d}";

    private HttpServer server;
    private final ExecutorService serverThreads = Executors.newCachedThreadPool();
    private final ExecutorService clientThreads = Executors.newFixedThreadPool(2);
    private final ConcurrentLinkedDeque<List<String>> script = new ConcurrentLinkedDeque<>();
    private final List<JsonNode> llmRequests = new CopyOnWriteArrayList<>();
    private final List<JsonNode> toolBodies = new CopyOnWriteArrayList<>();
    private final List<String> idempotencyKeys = new CopyOnWriteArrayList<>();
    private final AtomicInteger failingToolHits = new AtomicInteger();
    private final CountDownLatch release = new CountDownLatch(1);
    private final AtomicBoolean toolSawDisconnect = new AtomicBoolean();
    private final List<AgentEvent> events = new CopyOnWriteArrayList<>();
    private OpenAiBackend backend;

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(serverThreads);
        server.createContext("/v1/chat/completions", ex -> {
            llmRequests.add(Json.mapper().readTree(ex.getRequestBody().readAllBytes()));
            List<String> reply = script.pollFirst();
            stream(ex, reply != null ? reply : text("nothing scripted"));
            ex.close();
        });
        server.createContext("/tool/ok", ex -> {
            recordTool(ex);
            reply(ex, 200, "{\"status\":\"shipped\"}");
        });
        server.createContext("/tool/fail", ex -> {
            recordTool(ex);
            failingToolHits.incrementAndGet();
            reply(ex, 503, "down");
        });
        server.createContext("/tool/slow", ex -> {
            recordTool(ex);
            awaitRelease(release);
            reply(ex, 200, "too late");
        });
        server.createContext("/tool/hold", ex -> {
            recordTool(ex);
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                // Writes until the client's cancellation shows up as a broken connection.
                for (int i = 0; i < 500; i++) {
                    out.write("still working\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    if (release.await(10, TimeUnit.MILLISECONDS)) {
                        break;
                    }
                }
            } catch (IOException e) {
                toolSawDisconnect.set(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.start();
    }

    @AfterEach
    void stopServer() throws InterruptedException {
        release.countDown();
        if (backend != null) {
            backend.close();
        }
        server.stop(0);
        for (ExecutorService e : List.of(serverThreads, clientThreads)) {
            e.shutdownNow();
            assertThat(e.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    // --- the tests

    @Test
    void shouldStreamTextThenRunTheToolAndStreamTheFollowUpUnderTheSameTurn() throws Exception {
        // Given
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/ok", 2_000) + "]"));
        script.add(concat(text("Let me check."), toolCall("call_abc", "lookup_order", "{\"order_id\":\"A17\"}")));
        script.add(text("Your order A17 has shipped."));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then the events, in order
        assertThat(events).containsExactly(
                AgentEvent.text("Let me check."),
                new AgentEvent.ToolInvocation("cg_2_1", "lookup_order", "{\"order_id\":\"A17\"}", 2_000),
                new AgentEvent.ToolResult("cg_2_1", "{\"status\":\"shipped\"}", true),
                AgentEvent.text("Your order A17 has shipped."));
        // And the first request offered end_call and the tool, not transfer_call (no number on this call)
        assertThat(toolNames(llmRequests.get(0))).containsExactly("end_call", "lookup_order");
        assertThat(llmRequests.get(0).path("tools").get(1).path("function").path("parameters")
                .path("required").get(0).asText()).isEqualTo("order_id");
        // And the tool got the call with callguard's id and the idempotency key
        assertThat(toolBodies).hasSize(1);
        assertThat(toolBodies.get(0)).isEqualTo(Json.mapper().readTree("{\"call_id\":\"call-1\",\"response_id\":2,"
                + "\"tool_call_id\":\"cg_2_1\",\"name\":\"lookup_order\",\"arguments\":{\"order_id\":\"A17\"}}"));
        assertThat(idempotencyKeys).containsExactly("call-1:2:cg_2_1");
        // And the follow-up request carried the assistant's tool call and the tool's result, with the same id
        assertThat(llmRequests).hasSize(2);
        ArrayNode messages = (ArrayNode) llmRequests.get(1).path("messages");
        JsonNode assistant = messages.get(messages.size() - 2);
        JsonNode tool = messages.get(messages.size() - 1);
        assertThat(assistant.path("role").asText()).isEqualTo("assistant");
        assertThat(assistant.path("content").asText()).isEqualTo("Let me check.");
        assertThat(assistant.path("tool_calls")).hasSize(1);
        assertThat(assistant.path("tool_calls").get(0)).isEqualTo(Json.mapper().readTree("{\"id\":\"cg_2_1\","
                + "\"type\":\"function\",\"function\":{\"name\":\"lookup_order\","
                + "\"arguments\":\"{\\\"order_id\\\":\\\"A17\\\"}\"}}"));
        assertThat(tool).isEqualTo(Json.mapper().readTree("{\"role\":\"tool\",\"tool_call_id\":\"cg_2_1\","
                + "\"content\":\"{\\\"status\\\":\\\"shipped\\\"}\"}"));
        assertThat(messages.get(messages.size() - 3).path("content").asText()).isEqualTo("Where is my order A17?");
    }

    @Test
    void shouldSayTheHoldingLineWhenAToolCallComesBeforeAnyWords() throws Exception {
        // Given
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/ok", 2_000) + "]",
                ResponderConfig.TOOLS_HOLDING_LINE_CONFIG, "Hang on a second."));
        script.add(toolCall("call_abc", "lookup_order", "{\"order_id\":\"A17\"}"));
        script.add(text("It has shipped."));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(events).containsExactly(
                AgentEvent.text("Hang on a second."),
                new AgentEvent.ToolInvocation("cg_2_1", "lookup_order", "{\"order_id\":\"A17\"}", 2_000),
                new AgentEvent.ToolResult("cg_2_1", "{\"status\":\"shipped\"}", true),
                AgentEvent.text("It has shipped."));
        JsonNode assistant = llmRequests.get(1).path("messages").get(llmRequests.get(1).path("messages").size() - 2);
        assertThat(assistant.path("content").isNull()).isTrue();
    }

    @Test
    void shouldSayTheEndCallMessageThenEndTheCallWithoutAFollowUp() throws Exception {
        // Given the default configuration: end_call on
        backend = backend(Map.of());
        script.add(toolCall("call_bye", "end_call", "{\"message\":\"Thanks for calling, goodbye!\"}"));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(events).containsExactly(AgentEvent.text("Thanks for calling, goodbye!"), new AgentEvent.EndCall());
        assertThat(llmRequests).hasSize(1);
        assertThat(toolNames(llmRequests.get(0))).containsExactly("end_call");
        assertThat(llmRequests.get(0).path("tools").get(0).path("function").path("parameters").path("required")
                .get(0).asText()).isEqualTo("message");
    }

    @Test
    void shouldTransferToTheConfiguredNumber() throws Exception {
        // Given
        backend = backend(Map.of(ResponderConfig.TOOLS_TRANSFER_NUMBER_CONFIG, "+15550001111"));
        script.add(toolCall("call_t", "transfer_call", "{\"message\":\"Connecting you now.\"}"));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(events).containsExactly(AgentEvent.text("Connecting you now."),
                new AgentEvent.Transfer("+15550001111", null));
        assertThat(toolNames(llmRequests.get(0))).containsExactly("end_call", "transfer_call");
        assertThat(llmRequests).hasSize(1);
    }

    @Test
    void shouldTransferToTheCallsDynamicVariableOverTheConfiguredNumber() throws Exception {
        // Given a static number, and a call with its own number in a dynamic variable
        backend = backend(Map.of(ResponderConfig.TOOLS_TRANSFER_NUMBER_CONFIG, "+15550001111",
                ResponderConfig.TOOLS_TRANSFER_NUMBER_VARIABLE_CONFIG, "desk"));
        script.add(toolCall("call_t", "transfer_call", "{\"message\":\"Connecting you.\"}"));

        // When
        backend.generate(turn(Map.of("desk", "+15559990000")), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then the variable wins
        assertThat(events).containsExactly(AgentEvent.text("Connecting you."),
                new AgentEvent.Transfer("+15559990000", null));
    }

    @Test
    void shouldOfferTransferOnlyOnCallsWithTheVariableWhenNoNumberIsConfigured() throws Exception {
        // Given no static number
        backend = backend(Map.of());
        script.add(text("Hello."));
        script.add(toolCall("call_t", "transfer_call", "{\"message\":\"One moment.\"}"));

        // When a call without the variable, then one with it (the default name, transfer_number)
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        backend.generate(turn(Map.of("transfer_number", "+15552223333")), events::add)
                .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(toolNames(llmRequests.get(0))).containsExactly("end_call");
        assertThat(toolNames(llmRequests.get(1))).containsExactly("end_call", "transfer_call");
        assertThat(events).containsExactly(AgentEvent.text("Hello."), AgentEvent.text("One moment."),
                new AgentEvent.Transfer("+15552223333", null));
    }

    @Test
    void shouldSendNoToolsWhenEndCallIsDisabledAndNoneAreDefined() throws Exception {
        // Given
        backend = backend(Map.of(ResponderConfig.TOOLS_END_CALL_ENABLED_CONFIG, "false"));
        script.add(text("Hi."));
        script.add(toolCall("call_bye", "end_call", "{\"message\":\"Bye.\"}"));
        script.add(text("Sorry about that."));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then the request has no tools, and an end_call the LLM makes anyway is an unknown tool, not a hang-up
        assertThat(llmRequests.get(0).has("tools")).isFalse();
        assertThat(events).containsExactly(AgentEvent.text("Hi."),
                AgentEvent.text("One moment while I check that."),
                new AgentEvent.ToolInvocation("cg_2_1", "end_call", "{\"message\":\"Bye.\"}", 0),
                new AgentEvent.ToolResult("cg_2_1", "no tool named 'end_call' is available", false),
                AgentEvent.text("Sorry about that."));
    }

    @Test
    void shouldSendTheSameIdempotencyKeyWhenTheSameTurnIsGeneratedAgain() throws Exception {
        // Given the LLM makes a new random id each time it is asked
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/ok", 2_000) + "]"));
        script.add(toolCall("call_first", "lookup_order", "{\"order_id\":\"A17\"}"));
        script.add(text("Shipped."));
        script.add(toolCall("call_second", "lookup_order", "{\"order_id\":\"A17\"}"));
        script.add(text("Shipped."));

        // When the same turn is generated twice
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then the tool saw one key twice, and the LLM's ids never left callguard
        assertThat(idempotencyKeys).containsExactly("call-1:2:cg_2_1", "call-1:2:cg_2_1");
        assertThat(toolBodies).extracting(b -> b.path("tool_call_id").asText()).containsExactly("cg_2_1", "cg_2_1");
        assertThat(llmRequests.get(3).toString()).doesNotContain("call_second").contains("cg_2_1");
    }

    @Test
    void shouldAnswerATimedOutToolAsFailedAndStillAskForTheFollowUp() throws Exception {
        // Given a tool that answers after its 200 ms limit
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/slow", 200) + "]"));
        script.add(toolCall("call_abc", "lookup_order", "{\"order_id\":\"A17\"}"));
        script.add(text("I could not look that up right now."));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(events).containsExactly(
                AgentEvent.text("One moment while I check that."),
                new AgentEvent.ToolInvocation("cg_2_1", "lookup_order", "{\"order_id\":\"A17\"}", 200),
                new AgentEvent.ToolResult("cg_2_1", "tool lookup_order timed out after 200 ms", false),
                AgentEvent.text("I could not look that up right now."));
        JsonNode messages = llmRequests.get(1).path("messages");
        assertThat(messages.get(messages.size() - 1).path("content").asText())
                .isEqualTo("tool lookup_order timed out after 200 ms");
    }

    @Test
    void shouldOpenTheToolsBreakerAfterRepeatedFailures() throws Exception {
        // Given a failing tool whose breaker judges after two calls
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/fail", 2_000) + "]",
                ResponderConfig.TOOLS_BREAKER_MINIMUM_CALLS_CONFIG, "2",
                ResponderConfig.TOOLS_BREAKER_SLIDING_WINDOW_SIZE_CONFIG, "2"));
        for (int i = 0; i < 3; i++) {
            script.add(toolCall("call_" + i, "lookup_order", "{\"order_id\":\"A17\"}"));
            script.add(text("Sorry."));
        }

        // When three turns call it
        List<List<AgentEvent>> turns = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            List<AgentEvent> turnEvents = new CopyOnWriteArrayList<>();
            backend.generate(turn(Map.of()), turnEvents::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            turns.add(turnEvents);
        }

        // Then the first two reached the endpoint and failed; the third was refused by the open breaker
        assertThat(failingToolHits).hasValue(2);
        assertThat(turns.get(0)).contains(new AgentEvent.ToolResult("cg_2_1", "tool lookup_order failed with HTTP 503",
                false));
        assertThat(turns.get(2)).containsExactly(AgentEvent.text("One moment while I check that."),
                new AgentEvent.ToolInvocation("cg_2_1", "lookup_order", "{\"order_id\":\"A17\"}", 2_000),
                new AgentEvent.ToolResult("cg_2_1", "tool lookup_order is unavailable (circuit open)", false),
                AgentEvent.text("Sorry."));
        assertThat(backend.tools().breaker("lookup_order").getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(llmRequests).hasSize(6);
    }

    @Test
    void shouldAnswerAnUnknownToolAndBadArgumentsWithFailedResults() throws Exception {
        // Given one round with a tool nobody defined and the real tool with arguments cut short
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/ok", 2_000) + "]"));
        script.add(concat(toolCallAt(0, "call_x", "do_magic", "{}"),
                toolCallAt(1, "call_y", "lookup_order", "{\"order_id\": \"A1"),
                List.of(finish("tool_calls"), "[DONE]")));
        script.add(text("Let me try something else."));

        // When
        backend.generate(turn(Map.of()), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then both were answered as failed, the endpoint never called, and the LLM asked again with both results
        assertThat(events).containsExactly(
                AgentEvent.text("One moment while I check that."),
                new AgentEvent.ToolInvocation("cg_2_1", "do_magic", "{}", 0),
                new AgentEvent.ToolResult("cg_2_1", "no tool named 'do_magic' is available", false),
                new AgentEvent.ToolInvocation("cg_2_2", "lookup_order", "{}", 2_000),
                new AgentEvent.ToolResult("cg_2_2", "the arguments for 'lookup_order' were not a JSON object", false),
                AgentEvent.text("Let me try something else."));
        assertThat(toolBodies).isEmpty();
        JsonNode messages = llmRequests.get(1).path("messages");
        JsonNode assistant = messages.get(messages.size() - 3);
        assertThat(assistant.path("tool_calls")).extracting(c -> c.path("id").asText()).containsExactly("cg_2_1",
                "cg_2_2");
        assertThat(messages.get(messages.size() - 2).path("tool_call_id").asText()).isEqualTo("cg_2_1");
        assertThat(messages.get(messages.size() - 1).path("tool_call_id").asText()).isEqualTo("cg_2_2");
    }

    @Test
    void shouldAskForWordsOnlyAfterTheLastToolRound() throws Exception {
        // Given one round allowed, and an LLM that keeps calling the tool
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/ok", 2_000) + "]",
                ResponderConfig.TOOLS_MAX_ROUNDS_CONFIG, "1"));
        script.add(toolCall("call_1", "lookup_order", "{\"order_id\":\"A17\"}"));
        script.add(toolCall("call_2", "lookup_order", "{\"order_id\":\"A18\"}"));

        // When
        CompletableFuture<Void> done = backend.generate(turn(Map.of()), events::add);

        // Then the turn ends after the second request, which asked for no tools, and its calls were dropped
        done.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(llmRequests).hasSize(2);
        assertThat(llmRequests.get(0).has("tool_choice")).isFalse();
        assertThat(llmRequests.get(1).path("tool_choice").asText()).isEqualTo("none");
        assertThat(toolBodies).hasSize(1);
        assertThat(events).hasSize(3);
    }

    @Test
    void shouldStopTheToolCallWhenTheTurnIsCancelled() {
        // Given a tool that keeps working
        backend = backend(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, "[" + orderTool("/tool/hold", 5_000) + "]"));
        script.add(toolCall("call_abc", "lookup_order", "{\"order_id\":\"A17\"}"));
        CompletableFuture<Void> done = backend.generate(turn(Map.of()), events::add);
        await().atMost(WAIT).until(() -> toolBodies.size() == 1);

        // When the turn is superseded
        done.cancel(true);

        // Then the tool's connection is closed, no result is reported and the LLM is not asked again
        await().atMost(WAIT).untilTrue(toolSawDisconnect);
        assertThat(events).containsExactly(AgentEvent.text("One moment while I check that."),
                new AgentEvent.ToolInvocation("cg_2_1", "lookup_order", "{\"order_id\":\"A17\"}", 5_000));
        assertThat(llmRequests).hasSize(1);
        assertThat(backend.tools().breaker("lookup_order").getMetrics().getNumberOfFailedCalls()).isZero();
    }

    // --- helpers

    private OpenAiBackend backend(Map<String, String> overrides) {
        Map<String, Object> settings = new HashMap<>();
        settings.put(ResponderConfig.AGENT_BACKEND_CONFIG, "openai");
        settings.put(ResponderConfig.OPENAI_URL_CONFIG, base() + "/v1/chat/completions");
        settings.put(ResponderConfig.OPENAI_SYSTEM_PROMPT_CONFIG, "You look up orders.");
        settings.putAll(overrides);
        return new OpenAiBackend(new ResponderConfig(settings), clientThreads);
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private String orderTool(String path, long timeoutMs) {
        return String.format(ORDER_TOOL, base() + path, timeoutMs);
    }

    private static Turn turn(Map<String, String> variables) {
        return new Turn("call-1", 2, "response_required", List.of(
                new Turn.Utterance("agent", "Hi, how can I help?"),
                new Turn.Utterance("user", "Where is my order A17?")), "agent-1", variables);
    }

    private static List<String> toolNames(JsonNode request) {
        List<String> names = new ArrayList<>();
        request.path("tools").forEach(t -> names.add(t.path("function").path("name").asText()));
        return names;
    }

    private void recordTool(HttpExchange ex) throws IOException {
        toolBodies.add(Json.mapper().readTree(ex.getRequestBody().readAllBytes()));
        idempotencyKeys.add(ex.getRequestHeaders().getFirst(ToolRunner.IDEMPOTENCY_KEY));
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }

    private static void awaitRelease(CountDownLatch latch) {
        try {
            latch.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void stream(HttpExchange ex, List<String> events) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        for (String event : events) {
            out.write(("data: " + event + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    /** A completion of words: a content delta, the stop, [DONE]. */
    private static List<String> text(String words) {
        ObjectNode chunk = chunk();
        delta(chunk).put("role", "assistant").put("content", words);
        return List.of(chunk.toString(), finish("stop"), "[DONE]");
    }

    /** A completion with one tool call at index 0. */
    private static List<String> toolCall(String id, String name, String arguments) {
        return concat(toolCallAt(0, id, name, arguments), List.of(finish("tool_calls"), "[DONE]"));
    }

    /** The deltas of one tool call as OpenAI streams it: id, name and empty arguments first, then 3 pieces. */
    private static List<String> toolCallAt(int index, String id, String name, String arguments) {
        List<String> out = new ArrayList<>();
        ObjectNode first = chunk();
        ObjectNode call = delta(first).put("role", "assistant").putNull("content")
                .putArray("tool_calls").addObject().put("index", index).put("id", id).put("type", "function");
        call.putObject("function").put("name", name).put("arguments", "");
        out.add(first.toString());
        int third = Math.max(1, arguments.length() / 3);
        List<String> pieces = List.of(arguments.substring(0, third), arguments.substring(third, 2 * third),
                arguments.substring(2 * third));
        for (String piece : pieces) {
            ObjectNode next = chunk();
            delta(next).putArray("tool_calls").addObject().put("index", index)
                    .putObject("function").put("arguments", piece);
            out.add(next.toString());
        }
        return out;
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        List<String> out = new ArrayList<>();
        for (List<String> part : parts) {
            for (String event : part) {
                if (!event.equals("[DONE]") && !event.contains("\"finish_reason\":\"")) {
                    out.add(event);
                }
            }
        }
        List<String> last = parts[parts.length - 1];
        if (last.contains("[DONE]")) {
            out.add(last.get(last.size() - 2));
            out.add("[DONE]");
        }
        return out;
    }

    private static ObjectNode chunk() {
        ObjectNode chunk = Json.mapper().createObjectNode().put("id", "chatcmpl-1")
                .put("object", "chat.completion.chunk").put("model", "test");
        ObjectNode choice = chunk.putArray("choices").addObject().put("index", 0);
        choice.putObject("delta");
        choice.putNull("finish_reason");
        return chunk;
    }

    private static ObjectNode delta(ObjectNode chunk) {
        return (ObjectNode) chunk.path("choices").get(0).path("delta");
    }

    private static String finish(String reason) {
        ObjectNode chunk = chunk();
        ((ObjectNode) chunk.path("choices").get(0)).put("finish_reason", reason);
        return chunk.toString();
    }
}
