package io.callguard.processor.responder.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.FallbackReason;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.ResponderMetrics;
import io.callguard.processor.responder.Turn;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.ResponseKind;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.retry.Retry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides the answer to every turn of every call, without Kafka: events in through {@link #handle},
 * answers out through the sink. Thread-safe; {@code handle} never blocks on the backend.
 *
 * <p>Per turn ({@code response_required} / {@code reminder_required} from the socket):
 * <ol>
 *   <li>A response id not newer than the latest seen for the call is ignored (stale or duplicate). A newer
 *       one cancels the call's in-flight generation; nothing more is sent for the older id.</li>
 *   <li>deadline = receivedAtMs + turn.budget-ms - responder.delivery-margin-ms. Already past it: the
 *       timeout fallback at once.</li>
 *   <li>A cached answer for the agent and transcript tail: sent whole, kind cached.</li>
 *   <li>Bulkhead full: the bulkhead-full fallback. It is held for the whole turn, retries included.</li>
 *   <li>Per attempt: circuit breaker open, the circuit-open fallback (backend not called); otherwise the
 *       backend streams chunks under a time limit of the remaining budget; chunks are coalesced
 *       ({@code responder.chunk-coalesce-ms}): those produced within the window of the first unsent one go out
 *       as one record. Success: the final {@code content_complete} record, carrying whatever was still unsent
 *       (a fast answer is that one record), and the answer is cached. A failed attempt's unsent chunks are
 *       dropped. A timeout: the timeout fallback, at the
 *       deadline. An error: retried after a randomized exponential backoff only while no chunk was sent
 *       yet and the worst-case backoff plus as long as the failed attempt took still ends before the
 *       deadline; otherwise the error fallback.</li>
 * </ol>
 * Every answered turn ends with exactly one {@code content_complete:true} record. When a fallback follows
 * chunks already streamed, that record is kind fallback and carries only the fallback line (the chunks
 * were already spoken and cannot be taken back), with the next chunk index.
 */
public final class TurnResponder implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TurnResponder.class);

    public static final String RESPONSE_REQUIRED = InteractionType.RESPONSE_REQUIRED;
    public static final String REMINDER_REQUIRED = InteractionType.REMINDER_REQUIRED;
    public static final String CALL_DETAILS = InteractionType.CALL_DETAILS;
    public static final String CALL_STARTED = WebhookEvent.CALL_STARTED;
    public static final String CALL_ENDED = WebhookEvent.CALL_ENDED;

    /** Calls tracked at once (latest response id, agent, in-flight turn); the least recently active goes first. */
    static final int MAX_TRACKED_CALLS = 100_000;

    private final AgentBackend backend;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Consumer<AgentResponse> sink;
    private final BackendResilience resilience;
    private final ResponseCache cache;
    private final long windowMs;
    private final long coalesceMs;
    private final Map<FallbackReason, String> fallbackLines = new EnumMap<>(FallbackReason.class);
    private final LinkedHashMap<String, CallTrack> calls = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CallTrack> eldest) {
            return size() > MAX_TRACKED_CALLS;
        }
    };
    private volatile boolean closed;

    /**
     * @param config    checked against {@code common} by {@link ResponderConfig#checkAgainst} at load
     * @param backend   generates answers; not closed here
     * @param scheduler runs time limits and retry backoffs; not shut down here
     * @param clock     the time of budgets, the breaker and the cache
     * @param sink      receives every record to write, in order per turn; must not block for long
     */
    public TurnResponder(ResponderConfig config, CommonConfig common, AgentBackend backend,
            ScheduledExecutorService scheduler, Clock clock, MeterRegistry meters, Consumer<AgentResponse> sink) {
        Objects.requireNonNull(common, "common");
        this.backend = Objects.requireNonNull(backend, "backend");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.windowMs = common.turnBudgetMs() - config.deliveryMarginMs();
        this.coalesceMs = config.chunkCoalesceMs();
        this.resilience = new BackendResilience(config, clock, meters);
        this.cache = config.cacheEnabled() ? new ResponseCache(config.cacheMaxEntries(), config.cacheTtlMs(), clock)
                : null;
        for (FallbackReason reason : FallbackReason.values()) {
            fallbackLines.put(reason, config.fallbackMessage(reason, common));
        }
    }

    /** Takes one call event: answers turns, learns call context, forgets ended calls. Never blocks on the backend. */
    public void handle(CallEvent event) {
        if (closed) {
            return;
        }
        String type = event.type();
        if (event.source() == EventSource.WEBHOOK && CALL_ENDED.equals(type)) {
            forget(event.callId());
            return;
        }
        if ((event.source() == EventSource.SOCKET && CALL_DETAILS.equals(type))
                || (event.source() == EventSource.WEBHOOK && CALL_STARTED.equals(type))) {
            learn(event);
        } else if (event.source() == EventSource.SOCKET
                && (RESPONSE_REQUIRED.equals(type) || REMINDER_REQUIRED.equals(type))) {
            requested(event);
        }
    }

    private void learn(CallEvent event) {
        JsonNode call = event.payload().path("call");
        String agentId = call.path("agent_id").isTextual() ? call.path("agent_id").asText() : null;
        Map<String, String> variables = new LinkedHashMap<>();
        call.path("retell_llm_dynamic_variables").properties()
                .forEach(e -> variables.put(e.getKey(), e.getValue().asText()));
        synchronized (calls) {
            CallTrack track = calls.computeIfAbsent(event.callId(), id -> new CallTrack());
            if (agentId != null) {
                track.agentId = agentId;
            }
            if (!variables.isEmpty()) {
                track.dynamicVariables = Map.copyOf(variables);
            }
        }
    }

    private void forget(String callId) {
        TurnRun inFlight;
        synchronized (calls) {
            CallTrack track = calls.remove(callId);
            inFlight = track == null ? null : track.inFlight;
        }
        if (inFlight != null) {
            inFlight.abandon(CALL_ENDED);
        }
    }

    private void requested(CallEvent event) {
        long responseId = responseIdOf(event);
        if (responseId < 0) {
            LOG.warn("turn request without a valid response_id dropped: call {} event {}", event.callId(),
                    event.eventId());
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "invalid_turn").increment();
            return;
        }
        TurnRun run;
        TurnRun previous;
        synchronized (calls) {
            CallTrack track = calls.computeIfAbsent(event.callId(), id -> new CallTrack());
            if (responseId <= track.latestResponseId) {
                LOG.debug("stale turn ignored: call {} response {} (latest {})", event.callId(), responseId,
                        track.latestResponseId);
                turnOutcome(ResponderMetrics.OUTCOME_STALE);
                return;
            }
            track.latestResponseId = responseId;
            Turn turn = new Turn(event.callId(), responseId, event.type(), transcriptOf(event.payload()),
                    track.agentId, track.dynamicVariables);
            run = new TurnRun(event, turn);
            previous = track.inFlight;
            track.inFlight = run;
        }
        if (previous != null) {
            previous.abandon(ResponderMetrics.OUTCOME_SUPERSEDED);
        }
        run.start();
    }

    private static long responseIdOf(CallEvent event) {
        if (event.responseId() != null) {
            return event.responseId();
        }
        JsonNode id = event.payload().path("response_id");
        return id.canConvertToLong() && id.isIntegralNumber() ? id.asLong() : -1;
    }

    private static List<Turn.Utterance> transcriptOf(JsonNode payload) {
        List<Turn.Utterance> transcript = new ArrayList<>();
        for (JsonNode entry : payload.path("transcript")) {
            transcript.add(new Turn.Utterance(entry.path("role").asText(""), entry.path("content").asText("")));
        }
        return transcript;
    }

    private void turnOutcome(String outcome) {
        meters.counter(ResponderMetrics.TURNS, ResponderMetrics.TAG_OUTCOME, outcome).increment();
    }

    /** Turns generating now. */
    public int inFlight() {
        synchronized (calls) {
            return (int) calls.values().stream().filter(t -> t.inFlight != null).count();
        }
    }

    public CircuitBreaker circuitBreaker() {
        return resilience.circuitBreaker();
    }

    public Bulkhead bulkhead() {
        return resilience.bulkhead();
    }

    public Retry retry() {
        return resilience.retry();
    }

    /** The response cache, when enabled. */
    public Optional<ResponseCache> cache() {
        return Optional.ofNullable(cache);
    }

    /** Cancels every in-flight generation; nothing more is sent. The edge's watchdog answers those turns. */
    @Override
    public void close() {
        closed = true;
        List<TurnRun> inFlight = new ArrayList<>();
        synchronized (calls) {
            for (CallTrack track : calls.values()) {
                if (track.inFlight != null) {
                    inFlight.add(track.inFlight);
                }
            }
            calls.clear();
        }
        inFlight.forEach(run -> run.abandon("closed"));
    }

    /** What is known of one call. Guarded by {@code calls}. */
    private static final class CallTrack {
        long latestResponseId = -1;
        String agentId;
        Map<String, String> dynamicVariables = Map.of();
        TurnRun inFlight;
    }

    /** One turn being answered. State guarded by {@code this}; lock order: a TurnRun, then {@code calls}. */
    private final class TurnRun {

        private final CallEvent event;
        private final Turn turn;
        private final long deadlineMs;
        private final String cacheKey;
        /** The attempt's whole answer so far (what is cached on success). */
        private final StringBuilder streamed = new StringBuilder();
        /** Chunks not yet written: they go out together when the coalescing timer fires or the answer ends. */
        private final StringBuilder pending = new StringBuilder();
        private ScheduledFuture<?> flushTimer;
        /** True once a chunk record was written: the caller may be hearing it, so no retry starts over. */
        private boolean chunkSent;
        private boolean done;
        private int nextChunkIndex;
        private int attempts;
        private long attemptStartMs;
        private boolean bulkheadHeld;
        private boolean permissionHeld;
        private CompletableFuture<Void> backendCall;
        private ScheduledFuture<?> retryTimer;
        private Retry.AsyncContext<Void> retryContext;

        TurnRun(CallEvent event, Turn turn) {
            this.event = event;
            this.turn = turn;
            this.deadlineMs = event.receivedAtMs() + windowMs;
            this.cacheKey = cache == null ? null : ResponseCache.key(turn.agentId(), turn.transcript());
        }

        synchronized void start() {
            if (done) {
                return;
            }
            if (clock.millis() >= deadlineMs) {
                fallback(FallbackReason.TIMEOUT, "already past its deadline when consumed");
                return;
            }
            if (cacheKey != null) {
                Optional<String> cached = cache.get(cacheKey);
                meters.counter(ResponderMetrics.CACHE_LOOKUPS, ResponderMetrics.TAG_RESULT,
                        cached.isPresent() ? "hit" : "miss").increment();
                if (cached.isPresent()) {
                    complete(ResponseKind.CACHED, null, cached.get());
                    return;
                }
            }
            if (!resilience.bulkhead().tryAcquirePermission()) {
                fallback(FallbackReason.BULKHEAD_FULL, "bulkhead full");
                return;
            }
            bulkheadHeld = true;
            retryContext = resilience.retry().asyncContext();
            attempt();
        }

        synchronized void attempt() {
            retryTimer = null;
            if (done) {
                return;
            }
            long now = clock.millis();
            long remainingMs = deadlineMs - now;
            if (remainingMs <= 0) {
                fallback(FallbackReason.TIMEOUT, "no budget left for an attempt");
                return;
            }
            if (!resilience.circuitBreaker().tryAcquirePermission()) {
                fallback(FallbackReason.CIRCUIT_OPEN, "circuit breaker " + resilience.circuitBreaker().getState());
                return;
            }
            permissionHeld = true;
            // Retries only start when no chunk was written: whatever an earlier attempt produced is dropped.
            streamed.setLength(0);
            pending.setLength(0);
            int attempt = ++attempts;
            attemptStartMs = now;
            CompletableFuture<Void> call;
            try {
                call = backend.generate(turn, chunk -> onChunk(attempt, chunk));
            } catch (RuntimeException e) {
                call = CompletableFuture.failedFuture(e);
            }
            backendCall = call;
            CompletableFuture<Void> limited = call;
            resilience.timeLimiterFor(remainingMs)
                    .executeCompletionStage(scheduler, () -> limited)
                    .whenComplete((ignored, error) -> onAttemptDone(attempt, error));
        }

        synchronized void onChunk(int attempt, String chunk) {
            if (done || attempt != attempts || chunk == null || chunk.isEmpty()) {
                return;
            }
            streamed.append(chunk);
            if (coalesceMs == 0) {
                emit(ResponseKind.GENERATED, null, chunk, false);
                return;
            }
            pending.append(chunk);
            if (flushTimer == null) {
                flushTimer = scheduler.schedule(() -> flush(attempt), coalesceMs, TimeUnit.MILLISECONDS);
            }
        }

        /** Writes the chunks coalesced since the first unsent one, as one record. */
        synchronized void flush(int attempt) {
            flushTimer = null;
            if (done || attempt != attempts || pending.length() == 0) {
                return;
            }
            emit(ResponseKind.GENERATED, null, pending.toString(), false);
            pending.setLength(0);
        }

        synchronized void onAttemptDone(int attempt, Throwable error) {
            if (attempt != attempts || !permissionHeld) {
                return;
            }
            permissionHeld = false;
            backendCall = null;
            long now = clock.millis();
            long elapsedMs = now - attemptStartMs;
            Throwable cause = unwrap(error);
            CircuitBreaker breaker = resilience.circuitBreaker();
            if (cause == null) {
                breaker.onSuccess(elapsedMs, TimeUnit.MILLISECONDS);
                retryContext.onComplete();
                if (cacheKey != null && streamed.length() > 0) {
                    cache.put(cacheKey, streamed.toString());
                }
                // The chunks still pending ride on the content_complete record: a fast answer is one record.
                complete(ResponseKind.GENERATED, null, pending.toString());
                return;
            }
            breaker.onError(elapsedMs, TimeUnit.MILLISECONDS, cause);
            // A failed attempt's unwritten chunks are never said: the retry or the fallback line replaces them.
            cancelFlush();
            pending.setLength(0);
            if (cause instanceof TimeoutException) {
                retryContext.onError(cause);
                fallback(FallbackReason.TIMEOUT, "backend did not finish within " + elapsedMs + " ms");
                return;
            }
            String refusal = null;
            if (chunkSent) {
                refusal = "part of the answer was already streamed";
            } else if (now + resilience.worstCaseBackoffMs(attempt) + Math.max(elapsedMs, 1) > deadlineMs) {
                refusal = "not enough budget left for another attempt";
            }
            long backoffMs = retryContext.onError(refusal == null ? cause
                    : new BackendResilience.NotRetriedException(refusal, cause));
            if (backoffMs < 0) {
                fallback(FallbackReason.ERROR, "attempt " + attempt + " failed (" + cause + ")"
                        + (refusal != null ? "; not retried: " + refusal : "; no attempts left"));
                return;
            }
            LOG.debug("call {} response {}: attempt {} failed ({}), retrying in {} ms", turn.callId(),
                    turn.responseId(), attempt, cause.toString(), backoffMs);
            retryTimer = scheduler.schedule(this::attempt, backoffMs, TimeUnit.MILLISECONDS);
        }

        private void fallback(FallbackReason reason, String why) {
            if (done) {
                return;
            }
            LOG.info("call {} response {}: fallback {} ({})", turn.callId(), turn.responseId(), reason.wireName(),
                    why);
            meters.counter(ResponderMetrics.FALLBACKS, ResponderMetrics.TAG_REASON, reason.wireName()).increment();
            complete(ResponseKind.FALLBACK, reason, fallbackLines.get(reason));
        }

        private void complete(ResponseKind kind, FallbackReason reason, String content) {
            emit(kind, reason == null ? null : reason.wireName(), content, true);
            Timer.builder(ResponderMetrics.TURN_LATENCY)
                    .tag(ResponderMetrics.TAG_KIND, kind.wireName())
                    .publishPercentiles(0.5, 0.99)
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(1))
                    .maximumExpectedValue(Duration.ofSeconds(10))
                    .register(meters)
                    .record(Math.max(0, clock.millis() - event.receivedAtMs()), TimeUnit.MILLISECONDS);
            turnOutcome(kind.wireName());
            finish();
        }

        private void cancelFlush() {
            if (flushTimer != null) {
                flushTimer.cancel(false);
                flushTimer = null;
            }
        }

        /** Ends the turn without a word: superseded by a newer request, the call ended, or shutdown. */
        synchronized void abandon(String outcome) {
            if (done) {
                return;
            }
            LOG.debug("call {} response {}: generation cancelled ({})", turn.callId(), turn.responseId(), outcome);
            turnOutcome(outcome);
            finish();
        }

        private void finish() {
            done = true;
            cancelFlush();
            if (retryTimer != null) {
                retryTimer.cancel(false);
                retryTimer = null;
            }
            if (permissionHeld) {
                // Cancelled mid-call: the call proved nothing about the backend's health.
                permissionHeld = false;
                resilience.circuitBreaker().releasePermission();
            }
            if (backendCall != null) {
                CompletableFuture<Void> call = backendCall;
                backendCall = null;
                call.cancel(true);
            }
            if (bulkheadHeld) {
                bulkheadHeld = false;
                resilience.bulkhead().onComplete();
            }
            synchronized (calls) {
                CallTrack track = calls.get(turn.callId());
                if (track != null && track.inFlight == this) {
                    track.inFlight = null;
                }
            }
        }

        private void emit(ResponseKind kind, String reason, String content, boolean contentComplete) {
            AgentResponse response = new AgentResponse(AgentResponse.SCHEMA_VERSION, turn.callId(), turn.responseId(),
                    kind, reason, content, contentComplete, null, nextChunkIndex++, event.receivedAtMs(),
                    clock.millis(), event.edgeNode());
            chunkSent |= !contentComplete;
            try {
                sink.accept(response);
            } catch (RuntimeException e) {
                LOG.warn("call {} response {}: could not hand over an answer record: {}", turn.callId(),
                        turn.responseId(), e.toString());
            }
        }

        private static Throwable unwrap(Throwable error) {
            Throwable t = error;
            while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
                t = t.getCause();
            }
            return t;
        }
    }
}
