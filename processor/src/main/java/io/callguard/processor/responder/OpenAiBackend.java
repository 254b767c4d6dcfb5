package io.callguard.processor.responder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscribers;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An agent backend on any OpenAI-compatible {@code /v1/chat/completions} endpoint, streamed with
 * Server-Sent Events ({@code "stream": true}): each {@code data:} line's {@code choices[0].delta.content}
 * becomes a chunk; {@code data: [DONE]} completes the answer.
 *
 * <p>Retell's transcript roles map to chat roles (agent to assistant, user to user), after the system
 * prompt. A status other than 2xx, a malformed event or a stream that ends without {@code [DONE]} (or a
 * {@code finish_reason}) fails the generation with {@link AgentBackendException}. Completing the
 * returned future from outside cancels the body subscription and the request, which closes the
 * connection, so a stalled backend does not keep working for an abandoned turn.
 */
public final class OpenAiBackend implements AgentBackend {

    private static final Logger LOG = LoggerFactory.getLogger(OpenAiBackend.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    private static final Pattern VARIABLE = Pattern.compile("\\{\\{\\s*([A-Za-z0-9_.-]+)\\s*}}");
    private static final String DONE = "[DONE]";

    private final URI uri;
    private final String model;
    private final String apiKey;
    private final String systemPrompt;
    private final int maxTokens;
    private final HttpClient http;

    /**
     * @param executor runs the HTTP client's callbacks (and so the chunk sink); owned by the caller
     * @throws IllegalArgumentException when {@code agent.openai.url} is not a URI (the configuration checks it is
     *                                  an http(s) URL when {@code agent.backend} is {@code openai})
     */
    public OpenAiBackend(ResponderConfig config, Executor executor) {
        this.uri = URI.create(config.openAiUrl());
        this.model = config.openAiModel();
        this.apiKey = config.openAiApiKey();
        this.systemPrompt = config.openAiSystemPrompt();
        this.maxTokens = config.openAiMaxTokens();
        this.http = HttpClient.newBuilder()
                .executor(Objects.requireNonNull(executor, "executor"))
                .connectTimeout(CONNECT_TIMEOUT)
                // Streaming over one short request: HTTP/1.1 avoids h2c upgrade surprises on local servers.
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    @Override
    public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> chunkSink) {
        CompletableFuture<Void> result = new CompletableFuture<>();
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(requestBody(turn)));
        if (!apiKey.isEmpty()) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        SseSubscriber events = new SseSubscriber(result, chunkSink);
        CompletableFuture<HttpResponse<Void>> exchange = http.sendAsync(request.build(), info -> {
            if (info.statusCode() / 100 != 2) {
                result.completeExceptionally(new AgentBackendException("agent backend answered HTTP "
                        + info.statusCode() + " for call " + turn.callId() + " response " + turn.responseId()));
                return BodySubscribers.discarding();
            }
            return BodySubscribers.fromLineSubscriber(events);
        });
        exchange.whenComplete((response, error) -> {
            if (error != null) {
                Throwable cause = error instanceof CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                result.completeExceptionally(new AgentBackendException("agent backend request to " + uri
                        + " failed: " + cause, cause));
            } else {
                events.streamEnded();
            }
        });
        result.whenComplete((ignored, error) -> {
            if (error != null) {
                // Our own failure or the caller's cancellation/time limit: stop reading, drop the connection.
                events.cancel();
                exchange.cancel(true);
            }
        });
        return result;
    }

    /** The JSON body of a chat completions request for a turn. */
    byte[] requestBody(Turn turn) {
        ObjectNode body = Json.mapper().createObjectNode();
        body.put("model", model);
        body.put("stream", true);
        body.put("max_tokens", maxTokens);
        ArrayNode messages = body.putArray("messages");
        String prompt = substitute(systemPrompt, turn.dynamicVariables());
        if (!prompt.isBlank()) {
            messages.addObject().put("role", "system").put("content", prompt);
        }
        for (Turn.Utterance utterance : turn.transcript()) {
            String role = Turn.Utterance.AGENT.equals(utterance.role()) ? "assistant" : "user";
            messages.addObject().put("role", role).put("content", utterance.content());
        }
        try {
            return Json.mapper().writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize a chat completions request", e);
        }
    }

    private static String substitute(String template, Map<String, String> variables) {
        if (variables.isEmpty() || !template.contains("{{")) {
            return template;
        }
        Matcher m = VARIABLE.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = variables.get(m.group(1));
            m.appendReplacement(out, Matcher.quoteReplacement(value != null ? value : m.group()));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Reads SSE lines; only {@code data:} fields matter here (comments, ids and event names are ignored). */
    private static final class SseSubscriber implements Flow.Subscriber<String> {

        private final CompletableFuture<Void> result;
        private final Consumer<AgentEvent> chunkSink;
        private Flow.Subscription subscription;
        private boolean cancelled;
        private boolean finishReasonSeen;

        SseSubscriber(CompletableFuture<Void> result, Consumer<AgentEvent> chunkSink) {
            this.result = result;
            this.chunkSink = chunkSink;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            boolean cancelNow;
            synchronized (this) {
                subscription = s;
                cancelNow = cancelled || result.isDone();
            }
            if (cancelNow) {
                s.cancel();
            } else {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(String line) {
            if (result.isDone() || !line.startsWith("data:")) {
                return;
            }
            String data = line.substring("data:".length()).trim();
            if (data.isEmpty()) {
                return;
            }
            if (DONE.equals(data)) {
                result.complete(null);
                return;
            }
            try {
                JsonNode event = Json.mapper().readTree(data);
                JsonNode error = event.get("error");
                if (error != null && !error.isNull()) {
                    result.completeExceptionally(new AgentBackendException("agent backend streamed an error: "
                            + abbreviate(error.toString())));
                    return;
                }
                JsonNode choice = event.path("choices").path(0);
                String content = choice.path("delta").path("content").asText("");
                if (!content.isEmpty()) {
                    chunkSink.accept(AgentEvent.text(content));
                }
                if (choice.hasNonNull("finish_reason")) {
                    finishReasonSeen = true;
                }
            } catch (IOException e) {
                result.completeExceptionally(new AgentBackendException("agent backend streamed malformed JSON: "
                        + abbreviate(data), e));
            }
        }

        @Override
        public void onError(Throwable error) {
            result.completeExceptionally(new AgentBackendException("agent backend stream failed: " + error, error));
        }

        @Override
        public void onComplete() {
            // Completion is decided in streamEnded(), once the exchange is over.
        }

        void streamEnded() {
            if (result.isDone()) {
                return;
            }
            if (finishReasonSeen) {
                LOG.debug("agent backend stream ended without [DONE] after a finish_reason; accepted");
                result.complete(null);
            } else {
                result.completeExceptionally(new AgentBackendException("agent backend stream ended before [DONE]"));
            }
        }

        void cancel() {
            Flow.Subscription s;
            synchronized (this) {
                cancelled = true;
                s = subscription;
            }
            if (s != null) {
                s.cancel();
            }
        }

        private static String abbreviate(String s) {
            return s.length() <= 200 ? s : s.substring(0, 200) + "...";
        }
    }
}
