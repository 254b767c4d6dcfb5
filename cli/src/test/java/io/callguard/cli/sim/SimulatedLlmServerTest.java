package io.callguard.cli.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.processor.responder.AgentBackendException;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.OpenAiBackend;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.SimulatedStream;
import io.callguard.processor.responder.Turn;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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

    private static HttpResponse<String> post(HttpClient http, URI uri, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
