package io.callguard.processor.responder.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.Json;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.timelimiter.TimeLimiter;
import io.github.resilience4j.timelimiter.TimeLimiterConfig;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs operator-defined tools: one HTTP POST per call to the tool's {@code url}, within the tool's own time limit
 * (a resilience4j {@link TimeLimiter}) and behind the tool's own {@link CircuitBreaker}.
 *
 * <p>The body is {@code {"call_id", "response_id", "tool_call_id", "name", "arguments": {...}}}; the header
 * {@value #IDEMPOTENCY_KEY} is {@code <call_id>:<response_id>:<tool_call_id>}, so an endpoint that remembers keys
 * runs a side effect once even when the same turn is asked again. What happens to each outcome:
 * <ul>
 *   <li>2xx: successful, the body (text, or JSON as its text) is the content, cut at {@value #MAX_CONTENT_CHARS}
 *       characters;</li>
 *   <li>another status, a time-out, a connection failure: failed, with a short error as the content, and a
 *       failure for the breaker;</li>
 *   <li>breaker open: failed at once, the endpoint not called;</li>
 *   <li>the returned future cancelled by the caller: the exchange is cancelled (its connection closed), and the
 *       breaker counts nothing.</li>
 * </ul>
 * The returned future never fails otherwise.
 */
public final class ToolRunner {

    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    /** Prefix of each tool breaker's name (then the tool's name): the {@code name} tag of its metrics. */
    public static final String BREAKER_PREFIX = "agent-tool-";
    static final int MAX_CONTENT_CHARS = 16_000;

    private static final Logger LOG = LoggerFactory.getLogger(ToolRunner.class);

    /** What a tool call came to: the content for the LLM and for Retell's {@code tool_call_result}. */
    public record Outcome(String content, boolean successful) {
    }

    private final HttpClient http;
    private final ScheduledExecutorService scheduler;
    private final Map<String, Tool> tools;

    private record Tool(ToolSpec spec, CircuitBreaker breaker, TimeLimiter limiter) {
    }

    /**
     * @param breakers  settings of every tool's breaker (each tool gets its own instance)
     * @param meters    where the breakers' metrics go; null for none
     * @param scheduler runs the time limits
     */
    public ToolRunner(List<ToolSpec> specs, CircuitBreakerConfig breakers, HttpClient http,
            ScheduledExecutorService scheduler, MeterRegistry meters) {
        this.http = Objects.requireNonNull(http, "http");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        CircuitBreakerRegistry registry = CircuitBreakerRegistry.of(breakers);
        this.tools = specs.stream().collect(Collectors.toUnmodifiableMap(ToolSpec::name, spec -> new Tool(spec,
                registry.circuitBreaker(BREAKER_PREFIX + spec.name()),
                TimeLimiter.of(TimeLimiterConfig.custom().timeoutDuration(Duration.ofMillis(spec.timeoutMs()))
                        .cancelRunningFuture(true).build()))));
        if (meters != null) {
            TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(registry).bindTo(meters);
        }
    }

    /** Breaker settings: count-based, opening on the failure rate only (a slow tool is bounded by its limit). */
    public static CircuitBreakerConfig breakerConfig(float failureRateThreshold, int slidingWindowSize,
            int minimumCalls, long waitInOpenMs, Clock clock) {
        return CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(slidingWindowSize)
                .minimumNumberOfCalls(minimumCalls)
                .failureRateThreshold(failureRateThreshold)
                .waitDurationInOpenState(Duration.ofMillis(waitInOpenMs))
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .clock(clock)
                .build();
    }

    /** The spec of a configured tool, or null. */
    public ToolSpec spec(String name) {
        Tool tool = tools.get(name);
        return tool == null ? null : tool.spec();
    }

    /** The configured tools. */
    public List<ToolSpec> specs() {
        return tools.values().stream().map(Tool::spec).sorted(java.util.Comparator.comparing(ToolSpec::name))
                .toList();
    }

    /** The breaker of a configured tool (tests and metrics). */
    public CircuitBreaker breaker(String name) {
        return tools.get(name).breaker();
    }

    /**
     * Calls a configured tool. Must not block.
     *
     * @param arguments the arguments, a JSON object
     * @throws IllegalArgumentException when no tool has that name
     */
    public CompletableFuture<Outcome> run(String name, String callId, long responseId, String toolCallId,
            JsonNode arguments) {
        Tool tool = tools.get(name);
        if (tool == null) {
            throw new IllegalArgumentException("no tool named " + name);
        }
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        if (!tool.breaker().tryAcquirePermission()) {
            outcome.complete(new Outcome("tool " + name + " is unavailable (circuit open)", false));
            return outcome;
        }
        HttpRequest request = HttpRequest.newBuilder(tool.spec().url())
                .header("Content-Type", "application/json")
                .header(IDEMPOTENCY_KEY, callId + ":" + responseId + ":" + toolCallId)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body(name, callId, responseId, toolCallId, arguments)))
                .build();
        long start = System.nanoTime();
        CompletableFuture<HttpResponse<String>> exchange = new CompletableFuture<>();
        CompletableFuture<HttpResponse<String>> limited = tool.limiter().executeCompletionStage(scheduler, () -> {
            CompletableFuture<HttpResponse<String>> sent =
                    http.sendAsync(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            sent.whenComplete((response, error) -> {
                if (error != null) {
                    exchange.completeExceptionally(error);
                } else {
                    exchange.complete(response);
                }
            });
            exchange.whenComplete((response, error) -> {
                if (error != null) {
                    sent.cancel(true);
                }
            });
            return exchange;
        }).toCompletableFuture();
        limited.whenComplete((response, error) -> {
            long nanos = System.nanoTime() - start;
            if (outcome.isDone()) {
                // Cancelled by the caller: nothing to judge the tool by.
                tool.breaker().releasePermission();
                return;
            }
            Outcome result = judge(tool, response, error);
            if (result.successful()) {
                tool.breaker().onSuccess(nanos, TimeUnit.NANOSECONDS);
            } else {
                tool.breaker().onError(nanos, TimeUnit.NANOSECONDS, new IOException(result.content()));
            }
            outcome.complete(result);
        });
        outcome.whenComplete((ignored, error) -> {
            if (error != null) {
                exchange.cancel(true);
            }
        });
        return outcome;
    }

    private static Outcome judge(Tool tool, HttpResponse<String> response, Throwable error) {
        String name = tool.spec().name();
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            if (cause instanceof TimeoutException || cause instanceof CancellationException) {
                LOG.info("tool {} timed out after {} ms", name, tool.spec().timeoutMs());
                return new Outcome("tool " + name + " timed out after " + tool.spec().timeoutMs() + " ms", false);
            }
            LOG.info("tool {} failed: {}", name, cause.toString());
            return new Outcome("tool " + name + " could not be reached", false);
        }
        if (response.statusCode() / 100 != 2) {
            LOG.info("tool {} answered HTTP {}", name, response.statusCode());
            return new Outcome("tool " + name + " failed with HTTP " + response.statusCode(), false);
        }
        String body = response.body() == null ? "" : response.body();
        return new Outcome(body.length() <= MAX_CONTENT_CHARS ? body : body.substring(0, MAX_CONTENT_CHARS), true);
    }

    private static byte[] body(String name, String callId, long responseId, String toolCallId, JsonNode arguments) {
        ObjectNode body = Json.mapper().createObjectNode()
                .put("call_id", callId)
                .put("response_id", responseId)
                .put("tool_call_id", toolCallId)
                .put("name", name);
        body.set("arguments", arguments);
        try {
            return Json.mapper().writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize a tool call", e);
        }
    }
}
