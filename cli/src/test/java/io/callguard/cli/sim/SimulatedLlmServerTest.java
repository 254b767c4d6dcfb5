package io.callguard.cli.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.callguard.processor.responder.AgentBackendException;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.OpenAiBackend;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.SimulatedStream;
import io.callguard.processor.responder.Turn;
import io.callguard.schemas.Json;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The simulator over a real socket, read by callguard's own OpenAI backend as a hosted model would be. */
class SimulatedLlmServerTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final ExecutorService executor = Executors.newFixedThreadPool(2);
    private SimulatedLlmServer server;
    private OpenAiBackend backend;

    @AfterEach
    void stop() {
        if (backend != null) {
            backend.close();
        }
        if (server != null) {
            server.close();
        }
        executor.shutdownNow();
    }

    private void serve(SimulatedStream stream) throws Exception {
        server = new SimulatedLlmServer("127.0.0.1", 0, stream, "Hello there.", new SplittableRandom(1), 100)
                .start();
        backend = new OpenAiBackend(new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "openai",
                ResponderConfig.OPENAI_URL_CONFIG, server.uri().toString())), executor);
    }

    private static Turn turn(String userText) {
        return new Turn("call-1", 1, "response_required", List.of(new Turn.Utterance("user", userText)), null,
                Map.of());
    }

    @Test
    void shouldStreamTheWholeAnswerInItsChunksAsOpenAiDoes() throws Exception {
        // Given 5 chunks 10 ms apart after a 30 ms first chunk
        serve(new SimulatedStream(0, 30, 30, 5, 10, 0, 0, 0, 0));
        List<String> chunks = new CopyOnWriteArrayList<>();

        // When
        CompletableFuture<Void> done = backend.generate(turn("hello"), AgentEvent.textsTo(chunks::add));

        // Then
        await().atMost(WAIT).until(done::isDone);
        assertThat(done).isCompleted();
        assertThat(chunks).hasSize(5);
        assertThat(String.join("", chunks)).isEqualTo("You said: hello. I can.");
        assertThat(server.openStreams()).isZero();
    }

    @Test
    void shouldGreetWhenTheRequestHasNoUserMessage() throws Exception {
        // Given
        serve(new SimulatedStream(0, 0, 0, 0, 0, 0, 0, 0, 0));
        List<String> chunks = new CopyOnWriteArrayList<>();

        // When
        CompletableFuture<Void> done = backend.generate(new Turn("call-1", 0, "response_required", List.of(), null,
                Map.of()), AgentEvent.textsTo(chunks::add));

        // Then
        await().atMost(WAIT).until(done::isDone);
        assertThat(String.join("", chunks)).isEqualTo("Hello there.");
    }

    @Test
    void shouldFailWithHttp500AtTheErrorRate() throws Exception {
        // Given every request fails
        serve(new SimulatedStream(0, 20, 20, 0, 0, 0, 1.0, 0, 0));

        // When
        CompletableFuture<Void> done = backend.generate(turn("hello"), chunk -> { });

        // Then
        await().atMost(WAIT).until(done::isDone);
        assertThat(done).failsWithin(Duration.ZERO).withThrowableThat().havingRootCause()
                .isInstanceOf(AgentBackendException.class).withMessageContaining("HTTP 500");
    }

    @Test
    void shouldHoldAHungStreamUntilTheClientGivesUpAndThenLetItGo() throws Exception {
        // Given every request hangs
        serve(new SimulatedStream(0, 0, 0, 0, 0, 1.0, 0, 0, 0));
        CompletableFuture<Void> done = backend.generate(turn("hello"), chunk -> { });
        await().atMost(WAIT).until(() -> server.requests() == 1 && server.openStreams() == 1);
        assertThat(done).isNotDone();

        // When the turn gives up (a superseded turn or a time limit)
        done.cancel(true);

        // Then the next keep-alive finds the connection gone
        await().atMost(WAIT).until(() -> server.openStreams() == 0);
    }

    @Test
    void shouldAnswerBadRequestsWithClearStatuses() throws Exception {
        // Given
        serve(new SimulatedStream(0, 0, 0, 0, 0, 0, 0, 0, 0));
        HttpClient http = HttpClient.newHttpClient();
        URI uri = server.uri();

        // When / Then
        assertThat(post(http, uri, "not json").statusCode()).isEqualTo(400);
        assertThat(post(http, uri, "{\"model\":\"x\"}").statusCode()).isEqualTo(400);
        assertThat(post(http, uri.resolve("/v1/other"), "{}").statusCode()).isEqualTo(404);
        assertThat(http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString())
                .statusCode()).isEqualTo(405);
        assertThat(post(http, uri, "x".repeat(SimulatedLlmServer.MAX_BODY_BYTES + 1)).statusCode()).isEqualTo(413);
        HttpResponse<String> whole = post(http, uri, "{\"stream\":false,\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]}");
        assertThat(whole.statusCode()).isEqualTo(200);
        assertThat(whole.body()).contains("\"content\":\"You said: hi\"");
    }

    @Test
    void shouldStreamEndCallAsOpenAiDoesWhenTheCallerSaysBye() throws Exception {
        // Given
        serve(new SimulatedStream(0, 10, 10, 0, 5, 0, 0, 0, 0));
        String request = "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"OK, bye now\"}],"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"end_call\",\"parameters\":{}}}]}";

        // When
        HttpResponse<String> reply = post(HttpClient.newHttpClient(), server.uri(), request);

        // Then: id and name first with empty arguments, the arguments in three pieces, then tool_calls and [DONE]
        List<String> data = reply.body().lines().filter(l -> l.startsWith("data: "))
                .map(l -> l.substring("data: ".length())).toList();
        assertThat(data).hasSize(6);
        JsonNode first = Json.mapper().readTree(data.get(0)).path("choices").get(0).path("delta");
        assertThat(first.path("tool_calls").get(0).path("index").asInt()).isZero();
        assertThat(first.path("tool_calls").get(0).path("id").asText()).startsWith("call_");
        assertThat(first.path("tool_calls").get(0).path("function").path("name").asText()).isEqualTo("end_call");
        assertThat(first.path("tool_calls").get(0).path("function").path("arguments").asText()).isEmpty();
        StringBuilder arguments = new StringBuilder();
        for (int i = 1; i <= 3; i++) {
            JsonNode item = Json.mapper().readTree(data.get(i)).path("choices").get(0).path("delta")
                    .path("tool_calls").get(0);
            assertThat(item.has("id")).isFalse();
            assertThat(item.path("function").path("arguments").asText()).isNotEmpty();
            arguments.append(item.path("function").path("arguments").asText());
        }
        assertThat(arguments.toString()).isEqualTo("{\"message\":\"Thanks for calling. Goodbye!\"}");
        assertThat(Json.mapper().readTree(data.get(4)).path("choices").get(0).path("finish_reason").asText())
                .isEqualTo("tool_calls");
        assertThat(data.get(5)).isEqualTo("[DONE]");
    }

    @Test
    void shouldEndAndTransferCallsThroughCallguardsBackend() throws Exception {
        // Given
        server = new SimulatedLlmServer("127.0.0.1", 0, new SimulatedStream(0, 0, 0, 0, 0, 0, 0, 0, 0), "Hi.",
                new SplittableRandom(1), 100).start();
        backend = new OpenAiBackend(new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "openai",
                ResponderConfig.OPENAI_URL_CONFIG, server.uri().toString(),
                ResponderConfig.TOOLS_TRANSFER_NUMBER_CONFIG, "+15550001111")), executor);
        List<AgentEvent> bye = new CopyOnWriteArrayList<>();
        List<AgentEvent> transfer = new CopyOnWriteArrayList<>();

        // When
        backend.generate(turn("That's all, goodbye"), bye::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        backend.generate(turn("Please transfer me to a person"), transfer::add)
                .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(bye).containsExactly(AgentEvent.text("Thanks for calling. Goodbye!"), new AgentEvent.EndCall());
        assertThat(transfer).containsExactly(AgentEvent.text("Let me transfer you now."),
                new AgentEvent.Transfer("+15550001111", null));
    }

    @Test
    void shouldCallTheOperatorsToolAndAnswerWithItsResult() throws Exception {
        // Given a tool endpoint, and callguard's backend offering it
        HttpServer tool = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        List<JsonNode> toolCalls = new CopyOnWriteArrayList<>();
        tool.createContext("/order", ex -> {
            toolCalls.add(Json.mapper().readTree(ex.getRequestBody().readAllBytes()));
            byte[] body = "order 42 shipped".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        tool.start();
        try {
            server = new SimulatedLlmServer("127.0.0.1", 0, new SimulatedStream(0, 0, 0, 0, 0, 0, 0, 0, 0), "Hi.",
                    new SplittableRandom(1), 100).start();
            String definitions = "[{\"name\":\"lookup_order\",\"url\":\"http://127.0.0.1:"
                    + tool.getAddress().getPort() + "/order\",\"parameters\":{\"type\":\"object\","
                    + "\"properties\":{\"order_id\":{\"type\":\"string\"}}}}]";
            backend = new OpenAiBackend(new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "openai",
                    ResponderConfig.OPENAI_URL_CONFIG, server.uri().toString(),
                    ResponderConfig.TOOLS_DEFINITIONS_CONFIG, definitions)), executor);
            List<AgentEvent> events = new CopyOnWriteArrayList<>();

            // When
            backend.generate(turn("Where is my order 42?"), events::add).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            // Then
            assertThat(events.subList(0, 3)).containsExactly(AgentEvent.text("One moment while I check that."),
                    new AgentEvent.ToolInvocation("cg_1_1", "lookup_order", "{\"order_id\":\"42\"}", 5_000),
                    new AgentEvent.ToolResult("cg_1_1", "order 42 shipped", true));
            StringBuilder followUp = new StringBuilder();
            events.subList(3, events.size()).forEach(AgentEvent.textsTo(followUp::append));
            assertThat(followUp.toString()).isEqualTo(SimulatedLlmServer.TOOL_FOLLOW_UP + "order 42 shipped");
            assertThat(toolCalls).extracting(c -> c.path("arguments").path("order_id").asText()).containsExactly("42");
            assertThat(server.requests()).isEqualTo(2);
        } finally {
            tool.stop(0);
        }
    }

    @Test
    void shouldKeepEchoingWhenNoToolIsOffered() throws Exception {
        // Given
        serve(new SimulatedStream(0, 0, 0, 0, 0, 0, 0, 0, 0));

        // When
        HttpResponse<String> whole = post(HttpClient.newHttpClient(), server.uri(), "{\"stream\":false,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"bye, transfer my order\"}]}");

        // Then
        assertThat(whole.body()).contains("\"content\":\"You said: bye, transfer my order\"")
                .doesNotContain("tool_calls");
    }

    private static HttpResponse<String> post(HttpClient http, URI uri, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
