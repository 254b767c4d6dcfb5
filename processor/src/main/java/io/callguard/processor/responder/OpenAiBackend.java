package io.callguard.processor.responder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.processor.responder.tools.BuiltinTools;
import io.callguard.processor.responder.tools.ToolCallAssembler;
import io.callguard.processor.responder.tools.ToolRunner;
import io.callguard.processor.responder.tools.ToolSpec;
import io.callguard.schemas.Json;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscribers;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An agent backend on any OpenAI-compatible {@code /v1/chat/completions} endpoint, streamed with
 * Server-Sent Events ({@code "stream": true}): each {@code data:} line's {@code choices[0].delta.content}
 * becomes a {@link AgentEvent.Text}; {@code data: [DONE]} completes the answer.
 *
 * <p>Retell's transcript roles map to chat roles (agent to assistant, user to user), after the system
 * prompt. A status other than 2xx, a malformed event or a stream that ends without {@code [DONE]} (or a
 * {@code finish_reason}) fails the generation with {@link AgentBackendException}. Completing the
 * returned future from outside cancels the body subscription and the request, which closes the
 * connection, so a stalled backend does not keep working for an abandoned turn; a tool call under way is
 * cancelled the same way.
 *
 * <p>Function calling: the request offers the built-in {@code end_call} ({@code agent.tools.end-call.enabled})
 * and {@code transfer_call} (when the call has a transfer number) and the operator's tools
 * ({@code agent.tools.definitions}). Streamed {@code delta.tool_calls} are assembled per index. What each comes to:
 * <ul>
 *   <li>{@code end_call} / {@code transfer_call}: its {@code message} is said, then {@link AgentEvent.EndCall} /
 *       {@link AgentEvent.Transfer}; the turn ends there (other calls of the same completion are dropped);</li>
 *   <li>an operator tool: the holding line first when nothing was said yet in the turn, then per call (in index
 *       order) {@link AgentEvent.ToolInvocation} with the tool's time limit, the HTTP call
 *       ({@link ToolRunner}), {@link AgentEvent.ToolResult}; then a follow-up request with the assistant's
 *       {@code tool_calls} and a {@code tool} message per result, whose words stream under the same turn;</li>
 *   <li>a name not offered, or arguments that are not a JSON object: a failed result, and the follow-up request
 *       as for any tool, so the LLM can say something sensible;</li>
 *   <li>tool calls after {@code agent.tools.max-rounds} rounds (the last request asks for words only with
 *       {@code tool_choice: none}): dropped, logged; the turn ends with what was said.</li>
 * </ul>
 * The tool call ids callguard uses are its own, {@code cg_<response_id>_<n>} for the n-th call of the turn
 * (from 1), in every event, header and message: an LLM asked the same turn again makes new random ids, and the
 * idempotency key must stay the same.
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
    private final boolean endCallEnabled;
    private final String transferNumber;
    private final String transferNumberVariable;
    private final String holdingLine;
    private final int maxRounds;
    /** Null when no operator tools are defined. */
    private final ToolRunner tools;
    /** The scheduler this backend made for tool time limits, when none was given; null otherwise. */
    private final ScheduledExecutorService ownedScheduler;

    /**
     * A backend whose tool time limits run on a thread of its own and whose tool breakers have no metrics.
     *
     * @param executor runs the HTTP client's callbacks (and so the event sink); owned by the caller
     * @throws IllegalArgumentException when {@code agent.openai.url} is not a URI (the configuration checks it is
     *                                  an http(s) URL when {@code agent.backend} is {@code openai})
     */
    public OpenAiBackend(ResponderConfig config, Executor executor) {
        this(config, executor, null, null, Clock.systemUTC());
    }

    /**
     * @param executor  runs the HTTP client's callbacks (and so the event sink); owned by the caller
     * @param scheduler runs the tools' time limits; owned by the caller. Null: a daemon thread of this backend's,
     *                  made only when operator tools are defined
     * @param meters    where the tools' breaker metrics go; null for none
     * @param clock     the tools' breakers' clock
     */
    public OpenAiBackend(ResponderConfig config, Executor executor, ScheduledExecutorService scheduler,
            MeterRegistry meters, Clock clock) {
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
        this.endCallEnabled = config.toolsEndCallEnabled();
        this.transferNumber = config.toolsTransferNumber();
        this.transferNumberVariable = config.toolsTransferNumberVariable();
        this.holdingLine = config.toolsHoldingLine();
        this.maxRounds = config.toolsMaxRounds();
        List<ToolSpec> specs = config.toolDefinitions();
        if (specs.isEmpty()) {
            this.tools = null;
            this.ownedScheduler = null;
        } else {
            this.ownedScheduler = scheduler == null ? Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "callguard-tool-timer");
                t.setDaemon(true);
                return t;
            }) : null;
            this.tools = new ToolRunner(specs, ToolRunner.breakerConfig(config.toolsBreakerFailureRateThreshold(),
                    config.toolsBreakerSlidingWindowSize(), config.toolsBreakerMinimumCalls(),
                    config.toolsBreakerWaitInOpenMs(), Objects.requireNonNull(clock, "clock")), http,
                    scheduler != null ? scheduler : ownedScheduler, meters);
        }
    }

    @Override
    public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> sink) {
        TurnRun run = new TurnRun(turn, sink);
        run.start();
        return run.result;
    }

    /** The operator tools' runner (their breakers), or null when none are defined. */
    ToolRunner tools() {
        return tools;
    }

    @Override
    public void close() {
        if (ownedScheduler != null) {
            ownedScheduler.shutdownNow();
        }
    }

    /** The number {@code transfer_call} transfers to on this call: the dynamic variable's, else the static one. */
    String transferNumberFor(Turn turn) {
        String variable = transferNumberVariable.isEmpty() ? null : turn.dynamicVariables().get(transferNumberVariable);
        if (variable != null && !variable.isBlank()) {
            return variable.trim();
        }
        return transferNumber.isEmpty() ? null : transferNumber;
    }

    /** The {@code tools} offered on a turn; null when there are none. */
    private ArrayNode toolsFor(String transferTo) {
        ArrayNode offered = Json.mapper().createArrayNode();
        if (endCallEnabled) {
            offered.add(BuiltinTools.endCall());
        }
        if (transferTo != null) {
            offered.add(BuiltinTools.transferCall());
        }
        if (tools != null) {
            for (ToolSpec spec : tools.specs()) {
                offered.add(spec.toolEntry());
            }
        }
        return offered.isEmpty() ? null : offered;
    }

    /** The chat messages of a turn: the system prompt, then the transcript. */
    private ArrayNode messagesFor(Turn turn) {
        ArrayNode messages = Json.mapper().createArrayNode();
        String prompt = substitute(systemPrompt, turn.dynamicVariables());
        if (!prompt.isBlank()) {
            messages.addObject().put("role", "system").put("content", prompt);
        }
        for (Turn.Utterance utterance : turn.transcript()) {
            String role = Turn.Utterance.AGENT.equals(utterance.role()) ? "assistant" : "user";
            messages.addObject().put("role", role).put("content", utterance.content());
        }
        return messages;
    }

    /** The JSON body of a chat completions request; {@code wordsOnly} sends {@code tool_choice: none}. */
    private byte[] requestBody(ArrayNode messages, ArrayNode offered, boolean wordsOnly) {
        ObjectNode body = Json.mapper().createObjectNode();
        body.put("model", model);
        body.put("stream", true);
        body.put("max_tokens", maxTokens);
        body.set("messages", messages);
        if (offered != null) {
            body.set("tools", offered);
            if (wordsOnly) {
                body.put("tool_choice", "none");
            }
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

    /**
     * One turn's generation: a chat completions request, and after each round of tool calls the follow-up request.
     *
     * <p>Threads: each step runs on the HTTP client's threads, one at a time (a request starts only after the
     * previous step finished), so the counters need no lock; {@link #current} is set by one step and read by the
     * cancelling thread, hence volatile.
     */
    private final class TurnRun {

        final Turn turn;
        final Consumer<AgentEvent> sink;
        final CompletableFuture<Void> result = new CompletableFuture<>();
        final ArrayNode messages;
        final String transferTo;
        final ArrayNode offered;
        int rounds;
        int toolCalls;
        volatile boolean spoke;
        /** Stops the step under way (a stream or a tool call). */
        volatile Runnable current = () -> { };

        TurnRun(Turn turn, Consumer<AgentEvent> sink) {
            this.turn = turn;
            this.sink = sink;
            this.messages = messagesFor(turn);
            this.transferTo = transferNumberFor(turn);
            this.offered = toolsFor(transferTo);
        }

        void start() {
            result.whenComplete((ignored, error) -> {
                if (error != null) {
                    // Our own failure or the caller's cancellation/time limit: stop the stream or the tool call.
                    current.run();
                }
            });
            request();
        }

        /** Passes an event on, unless the turn is over. */
        void emit(AgentEvent event) {
            if (result.isDone()) {
                return;
            }
            if (event instanceof AgentEvent.Text) {
                spoke = true;
            }
            sink.accept(event);
        }

        void holdIfSilent() {
            if (!spoke && !holdingLine.isBlank()) {
                emit(AgentEvent.text(holdingLine));
            }
        }

        /** Runs a step's work, failing the turn instead of losing an exception on a callback thread. */
        void guarded(Runnable step) {
            try {
                step.run();
            } catch (RuntimeException e) {
                result.completeExceptionally(e instanceof AgentBackendException ? e
                        : new AgentBackendException("agent backend turn failed: " + e, e));
            }
        }

        void become(Runnable stop) {
            current = stop;
            if (result.isCompletedExceptionally()) {
                stop.run();
            }
        }

        void request() {
            if (result.isDone()) {
                return;
            }
            HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                    .header("Content-Type", "application/json")
                    .header("Accept", "text/event-stream")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(requestBody(messages, offered, rounds >= maxRounds)));
            if (!apiKey.isEmpty()) {
                request.header("Authorization", "Bearer " + apiKey);
            }
            SseSubscriber events = new SseSubscriber(this);
            CompletableFuture<HttpResponse<Void>> exchange = http.sendAsync(request.build(), info -> {
                if (info.statusCode() / 100 != 2) {
                    events.done.completeExceptionally(new AgentBackendException("agent backend answered HTTP "
                            + info.statusCode() + " for call " + turn.callId() + " response " + turn.responseId()));
                    return BodySubscribers.discarding();
                }
                return BodySubscribers.fromLineSubscriber(events);
            });
            become(() -> {
                events.cancel();
                exchange.cancel(true);
            });
            exchange.whenComplete((response, error) -> {
                if (error != null) {
                    Throwable cause = error instanceof CompletionException && error.getCause() != null
                            ? error.getCause() : error;
                    events.done.completeExceptionally(new AgentBackendException("agent backend request to " + uri
                            + " failed: " + cause, cause));
                } else {
                    events.streamEnded();
                }
            });
            events.done.whenComplete((round, error) -> {
                if (error != null) {
                    result.completeExceptionally(error);
                } else {
                    guarded(() -> afterRound(events.text.toString(), round.calls()));
                }
            });
        }

        void afterRound(String said, List<ToolCallAssembler.Call> calls) {
            if (result.isDone()) {
                return;
            }
            if (calls.isEmpty()) {
                result.complete(null);
                return;
            }
            if (rounds >= maxRounds) {
                LOG.warn("call {} response {}: the LLM called tools after {} tool rounds; the calls are dropped",
                        turn.callId(), turn.responseId(), rounds);
                result.complete(null);
                return;
            }
            for (ToolCallAssembler.Call call : calls) {
                if (offeredBuiltin(call.name())) {
                    String message = messageOf(call.arguments());
                    if (!message.isBlank()) {
                        emit(AgentEvent.text(message));
                    }
                    emit(BuiltinTools.END_CALL.equals(call.name()) ? new AgentEvent.EndCall()
                            : new AgentEvent.Transfer(transferTo, null));
                    result.complete(null);
                    return;
                }
            }
            rounds++;
            holdIfSilent();
            ObjectNode assistant = messages.addObject().put("role", "assistant");
            if (said.isEmpty()) {
                assistant.putNull("content");
            } else {
                assistant.put("content", said);
            }
            ArrayNode toolCallsMessage = assistant.putArray("tool_calls");
            List<PendingCall> pending = new java.util.ArrayList<>();
            for (ToolCallAssembler.Call call : calls) {
                PendingCall p = new PendingCall("cg_" + turn.responseId() + "_" + (++toolCalls), call.name(),
                        argumentsOf(call.arguments()), call.arguments());
                pending.add(p);
                toolCallsMessage.addObject().put("id", p.id).put("type", "function").putObject("function")
                        .put("name", p.name).put("arguments", p.arguments == null ? "{}" : p.arguments.toString());
            }
            runTools(pending, 0);
        }

        private boolean offeredBuiltin(String name) {
            return BuiltinTools.END_CALL.equals(name) && endCallEnabled
                    || BuiltinTools.TRANSFER_CALL.equals(name) && transferTo != null;
        }

        /** Runs the round's calls one after the other (their frames in order), then asks the LLM again. */
        void runTools(List<PendingCall> pending, int i) {
            if (result.isDone()) {
                return;
            }
            if (i == pending.size()) {
                request();
                return;
            }
            PendingCall call = pending.get(i);
            ToolSpec spec = tools == null ? null : tools.spec(call.name);
            String shownName = call.name.isEmpty() ? "unnamed" : call.name;
            String shownArguments = call.arguments == null ? "{}" : call.arguments.toString();
            emit(new AgentEvent.ToolInvocation(call.id, shownName, shownArguments, spec == null ? 0 : spec.timeoutMs()));
            CompletableFuture<ToolRunner.Outcome> outcome;
            if (spec == null) {
                LOG.info("call {} response {}: the LLM called the tool '{}', which is not offered", turn.callId(),
                        turn.responseId(), shownName);
                outcome = CompletableFuture.completedFuture(new ToolRunner.Outcome("no tool named '" + shownName
                        + "' is available", false));
            } else if (call.arguments == null) {
                LOG.info("call {} response {}: the LLM's arguments for '{}' are not a JSON object", turn.callId(),
                        turn.responseId(), shownName);
                outcome = CompletableFuture.completedFuture(new ToolRunner.Outcome("the arguments for '" + shownName
                        + "' were not a JSON object", false));
            } else {
                outcome = tools.run(call.name, turn.callId(), turn.responseId(), call.id, call.arguments);
            }
            CompletableFuture<ToolRunner.Outcome> running = outcome;
            become(() -> running.cancel(true));
            running.thenAccept(done -> guarded(() -> {
                emit(new AgentEvent.ToolResult(call.id, done.content(), done.successful()));
                messages.addObject().put("role", "tool").put("tool_call_id", call.id).put("content", done.content());
                runTools(pending, i + 1);
            }));
        }
    }

    /** A tool call with callguard's id; {@code arguments} null when the LLM's were not a JSON object. */
    private record PendingCall(String id, String name, JsonNode arguments, String raw) {
    }

    /** The arguments as a JSON object ({@code ""} reads as none), or null when they are not one. */
    private static JsonNode argumentsOf(String text) {
        if (text.isBlank()) {
            return Json.mapper().createObjectNode();
        }
        try {
            JsonNode node = Json.mapper().readTree(text);
            return node != null && node.isObject() ? node : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** A built-in tool's {@code message}; empty when missing or the arguments are not JSON. */
    private static String messageOf(String arguments) {
        JsonNode node = argumentsOf(arguments);
        return node == null ? "" : node.path(BuiltinTools.MESSAGE).asText("").trim();
    }

    /** Reads one completion's SSE lines; only {@code data:} fields matter here (comments, ids, event names not). */
    private final class SseSubscriber implements Flow.Subscriber<String> {

        /** Completes with the round's tool calls after {@code [DONE]}, or fails. */
        final CompletableFuture<ToolCallAssembler> done = new CompletableFuture<>();
        /** The words of this completion. */
        final StringBuilder text = new StringBuilder();
        private final TurnRun run;
        private final ToolCallAssembler assembler = new ToolCallAssembler();
        private Flow.Subscription subscription;
        private boolean cancelled;
        private boolean finishReasonSeen;

        SseSubscriber(TurnRun run) {
            this.run = run;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            boolean cancelNow;
            synchronized (this) {
                subscription = s;
                cancelNow = cancelled || run.result.isDone();
            }
            if (cancelNow) {
                s.cancel();
            } else {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(String line) {
            if (done.isDone() || run.result.isDone() || !line.startsWith("data:")) {
                return;
            }
            String data = line.substring("data:".length()).trim();
            if (data.isEmpty()) {
                return;
            }
            if (DONE.equals(data)) {
                done.complete(assembler);
                return;
            }
            try {
                JsonNode event = Json.mapper().readTree(data);
                JsonNode error = event.get("error");
                if (error != null && !error.isNull()) {
                    done.completeExceptionally(new AgentBackendException("agent backend streamed an error: "
                            + abbreviate(error.toString())));
                    return;
                }
                JsonNode choice = event.path("choices").path(0);
                JsonNode delta = choice.path("delta");
                String content = delta.path("content").asText("");
                if (!content.isEmpty()) {
                    text.append(content);
                    run.emit(AgentEvent.text(content));
                }
                for (String name : assembler.accept(delta.get("tool_calls"))) {
                    if (!run.offeredBuiltin(name)) {
                        // Said as soon as the call is known, while its arguments still stream.
                        run.holdIfSilent();
                    }
                }
                if (choice.hasNonNull("finish_reason")) {
                    finishReasonSeen = true;
                }
            } catch (IOException e) {
                done.completeExceptionally(new AgentBackendException("agent backend streamed malformed JSON: "
                        + abbreviate(data), e));
            } catch (RuntimeException e) {
                done.completeExceptionally(new AgentBackendException("agent backend event not handled: " + e, e));
            }
        }

        @Override
        public void onError(Throwable error) {
            done.completeExceptionally(new AgentBackendException("agent backend stream failed: " + error, error));
        }

        @Override
        public void onComplete() {
            // Completion is decided in streamEnded(), once the exchange is over.
        }

        void streamEnded() {
            if (done.isDone()) {
                return;
            }
            if (finishReasonSeen) {
                LOG.debug("agent backend stream ended without [DONE] after a finish_reason; accepted");
                done.complete(assembler);
            } else {
                done.completeExceptionally(new AgentBackendException("agent backend stream ended before [DONE]"));
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
