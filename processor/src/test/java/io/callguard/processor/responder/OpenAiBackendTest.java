package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.callguard.schemas.Json;
import io.github.resilience4j.timelimiter.TimeLimiter;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Against a real HTTP server on loopback speaking the chat completions streaming protocol. */
class OpenAiBackendTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private HttpServer server;
    private final ExecutorService serverThreads = Executors.newFixedThreadPool(2);
    private final ExecutorService clientThreads = Executors.newFixedThreadPool(2);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final AtomicReference<JsonNode> requestBody = new AtomicReference<>();
    private final AtomicReference<String> authorization = new AtomicReference<>();
    private final CountDownLatch releaseStall = new CountDownLatch(1);
    private final AtomicBoolean serverSawDisconnect = new AtomicBoolean();
    private final List<String> chunks = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(serverThreads);
        server.createContext("/ok/v1/chat/completions", ex -> {
            record(ex);
            stream(ex, List.of(
                    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}",
                    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}",
                    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\", how can\"}}]}",
                    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" I help?\"}}]}",
                    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
                    "[DONE]"));
            ex.close();
        });
        server.createContext("/fail/v1/chat/completions", ex -> {
            record(ex);
            byte[] body = "{\"error\":{\"message\":\"boom\"}}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(500, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.createContext("/stall/v1/chat/completions", ex -> {
            record(ex);
            OutputStream out = stream(ex, List.of("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me\"}}]}"));
            try {
                releaseStall.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                // Keep writing until the client's cancellation shows up as a broken connection.
                byte[] late = ("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" late\"}}]}\n\n")
                        .getBytes(StandardCharsets.UTF_8);
                for (int i = 0; i < 100_000; i++) {
                    out.write(late);
                    out.flush();
                }
            } catch (IOException e) {
                serverSawDisconnect.set(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                ex.close();
            }
        });
        server.start();
    }

    @AfterEach
    void stopServer() throws InterruptedException {
        releaseStall.countDown();
        server.stop(0);
        for (ExecutorService e : List.of(serverThreads, clientThreads, timer)) {
            e.shutdownNow();
            assertThat(e.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        }
    }

    private void record(HttpExchange ex) throws IOException {
        requestBody.set(Json.mapper().readTree(ex.getRequestBody().readAllBytes()));
        authorization.set(ex.getRequestHeaders().getFirst("Authorization"));
    }

    private static OutputStream stream(HttpExchange ex, List<String> events) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        for (String event : events) {
            out.write(("data: " + event + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
        return out;
    }

    private OpenAiBackend backend(String path, String apiKey) {
        Map<String, Object> settings = new HashMap<>();
        settings.put(ResponderConfig.AGENT_BACKEND_CONFIG, "openai");
        settings.put(ResponderConfig.OPENAI_URL_CONFIG,
                "http://127.0.0.1:" + server.getAddress().getPort() + path + "/v1/chat/completions");
        settings.put(ResponderConfig.OPENAI_MODEL_CONFIG, "test-model");
        settings.put(ResponderConfig.OPENAI_API_KEY_CONFIG, apiKey);
        settings.put(ResponderConfig.OPENAI_SYSTEM_PROMPT_CONFIG, "You help {{name}} book taxis.");
        settings.put(ResponderConfig.OPENAI_MAX_TOKENS_CONFIG, 64);
        return new OpenAiBackend(new ResponderConfig(settings), clientThreads);
    }

    private static Turn turn() {
        return new Turn("call-1", 2, "response_required", List.of(
                new Turn.Utterance("agent", "Hi, where to?"),
                new Turn.Utterance("user", "The station please")), "agent-1", Map.of("name", "Ada"));
    }

    @Test
    void shouldStreamDeltasInOrderAndCompleteOnDone() throws Exception {
        // Given
        OpenAiBackend backend = backend("/ok", "sk-test");

        // When
        CompletableFuture<Void> done = backend.generate(turn(), AgentEvent.textsTo(chunks::add));
        done.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

        // Then
        assertThat(chunks).containsExactly("Hello", ", how can", " I help?");
        JsonNode body = requestBody.get();
        assertThat(body.path("model").asText()).isEqualTo("test-model");
        assertThat(body.path("stream").asBoolean()).isTrue();
        assertThat(body.path("max_tokens").asInt()).isEqualTo(64);
        assertThat(body.path("messages")).extracting(m -> m.path("role").asText() + ": " + m.path("content").asText())
                .containsExactly("system: You help Ada book taxis.", "assistant: Hi, where to?",
                        "user: The station please");
        assertThat(authorization.get()).isEqualTo("Bearer sk-test");
    }

    @Test
    void shouldFailWithBackendErrorOnHttp500() {
        // Given
        OpenAiBackend backend = backend("/fail", "");

        // When
        CompletableFuture<Void> done = backend.generate(turn(), AgentEvent.textsTo(chunks::add));

        // Then
        await().atMost(WAIT).until(done::isDone);
        assertThat(done).failsWithin(Duration.ZERO).withThrowableOfType(ExecutionException.class)
                .havingCause().isInstanceOf(AgentBackendException.class).withMessageContaining("HTTP 500");
        assertThat(chunks).isEmpty();
        assertThat(authorization.get()).isNull();
    }

    @Test
    void shouldAbandonAStalledStreamAtTheDeadline() {
        // Given a server that sends one delta, then stalls
        OpenAiBackend backend = backend("/stall", "");
        TimeLimiter deadline = TimeLimiter.of(Duration.ofMillis(300));

        // When the turn's time limit passes
        CompletableFuture<Void> limited = deadline.executeCompletionStage(timer,
                () -> backend.generate(turn(), AgentEvent.textsTo(chunks::add))).toCompletableFuture();

        // Then the generation failed with the time limit, keeping only what arrived in time
        assertThat(limited).failsWithin(WAIT).withThrowableOfType(ExecutionException.class)
                .havingCause().isInstanceOf(TimeoutException.class);
        assertThat(chunks).containsExactly("Let me");

        // And the connection was dropped: the server cannot write any more, and nothing late reaches the sink
        releaseStall.countDown();
        await().atMost(WAIT).untilTrue(serverSawDisconnect);
        assertThat(chunks).containsExactly("Let me");
    }

    @Test
    void shouldFailWhenNothingListens() {
        // Given
        int port = server.getAddress().getPort();
        server.stop(0);
        Map<String, Object> settings = Map.of(ResponderConfig.OPENAI_URL_CONFIG,
                "http://127.0.0.1:" + port + "/v1/chat/completions");
        OpenAiBackend backend = new OpenAiBackend(new ResponderConfig(settings), clientThreads);

        // When
        CompletableFuture<Void> done = backend.generate(turn(), AgentEvent.textsTo(chunks::add));

        // Then
        assertThat(done).failsWithin(WAIT).withThrowableOfType(ExecutionException.class)
                .extracting(Throwable::getCause, InstanceOfAssertFactories.THROWABLE)
                .isInstanceOf(AgentBackendException.class);
    }
}
