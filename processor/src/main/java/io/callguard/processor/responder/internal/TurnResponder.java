package io.callguard.processor.responder.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.common.CommonConfig;
import io.callguard.common.SpokenText;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.FallbackReason;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.ResponderMetrics;
import io.callguard.processor.responder.Turn;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
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
 * <p>The budget guards the first words; nothing healthy is cut. Per turn ({@code response_required} /
 * {@code reminder_required} from the socket), with every deadline counted from the edge's receipt and met
 * {@code responder.delivery-margin-ms} early (the edge watchdog acts at the deadlines themselves):
 * <ol>
 *   <li>A response id not newer than the latest seen for the call is ignored (stale or duplicate). A newer
 *       one cancels the call's in-flight generation; nothing more is sent for the older id.</li>
 *   <li>A cached answer under the turn's {@link ResponseCache#key}: sent whole, kind cached. Bulkhead full: the
 *       bulkhead-full line at once. The bulkhead is held for the whole turn, retries included.</li>
 *   <li>Per attempt: circuit breaker open, the circuit-open line (backend not called); otherwise the backend
 *       streams, and its first chunk must come within {@code responder.first-chunk-timeout-ms}
 *       (resilience4j time limiter on the first chunk, not on the answer). A failed or timed-out attempt is
 *       retried after a randomized exponential backoff while none of its words were streamed and another attempt
 *       can start before the first-words deadline.</li>
 *   <li>At {@code turn.budget-ms} with no words: a filler line ({@code turn.filler-messages}, rotated per call),
 *       kind filler, not complete; the answer continues the same response when it comes.</li>
 *   <li>Once words flow the answer streams to its end, however long, coalesced
 *       ({@code responder.chunk-coalesce-ms}); a success ends with the final {@code content_complete} record
 *       carrying what was still unsent (a fast answer is that one record), and the answer is cached.</li>
 *   <li>A closing line (kind fallback, joined to what was said with clean spacing and punctuation) ends the turn
 *       only when: no words by {@code turn.first-words-deadline-ms} (timeout), the backend failed with no retry
 *       left (error), a pause between chunks passed {@code turn.stall-ms} (stall), or the answer passed
 *       {@code turn.max-answer-ms} (max_answer).</li>
 * </ol>
 * Every answered turn ends with exactly one {@code content_complete:true} record.
 *
 * <p>The circuit breaker judges the backend's health per turn, not per attempt and never by answer length: a
 * success is recorded with the first chunk's latency as its duration (slow means a late first chunk); a failure
 * is an error, a first-chunk time-out or a stall, recorded once for the turn when no retry saved it; a retried
 * attempt releases its permission unrecorded, so a turn a retry saved is no reason to open; a cancelled turn
 * or one cut at the hard cap proves nothing and is not recorded.
 *
 * <p>Admission decides the turn path, from the call's status on call-state ({@link #handleState}; with
 * {@code admissionGated} false, as in tests of the turn logic alone, every call counts as active):
 * <ul>
 *   <li>active: turns go to the backend as above. A begin message owed by the edge ({@code socket_opened} with
 *       begin {@code owed}) is the backend's own when it says one, else {@code socket.greeting}, as response 0.</li>
 *   <li>queued: the backend is never called. The owed begin and every turn get the hold line
 *       ({@code capacity.hold-message}, kind hold, complete); {@code capacity.hold-repeat-ms} after the hold line
 *       was last said it is said again as an agent interrupt. Admitted from the queue, the agent's begin message
 *       (as above) comes as an agent interrupt, then turns go to the backend.</li>
 *   <li>rejected: the busy line ({@code capacity.busy-message}, kind busy) with {@code end_call}, on the waiting
 *       begin or turn, else as an agent interrupt; every later turn gets the same. Nothing else is said.</li>
 *   <li>not known yet (the decision is in flight on call-state): the begin or turn waits for it until its
 *       first-words deadline; a turn is bridged with a filler at the budget as usual; still unknown then, it is
 *       closed with the timeout line, reason {@code admission_unknown}.</li>
 * </ul>
 * Every interrupt id sent for a call (the responder's own: hold, busy, the begin after the queue; and each new id of a
 * backend's) is the milliseconds since the call's first event, or one more than the call's last when that is
 * higher (see nextInterruptId): they always
 * increase, also across a move of the call's partition to another member (the edge drops a lower id than the last).
 * A backend's interrupts, updates and metadata reach only an admitted call, as do {@code call_details} (held until
 * the admission) and {@code update_only}.
 *
 * <p>A socket that moved (a reconnect, perhaps to another edge node, which reads no state of its own): the call's
 * sockets are known from its {@code socket_opened} events, read in order, and from call-state (connection id,
 * reconnects), so the responder tells a reconnect where an edge could not:
 * <ul>
 *   <li>an owed begin of a socket that is not the call's first (another socket or a turn is known) is an empty
 *       begin, not the greeting (the busy line for a rejected call);</li>
 *   <li>the answer of the latest turn still being written when the new socket opens is re-sent as one record (what
 *       was said of it, under the last chunk index written), so the new socket hears it and the rest follows
 *       ({@link AnswerSoFar}); a complete one is re-sent only when Retell asks for the turn again on the new socket
 *       (it deduplicates the turn otherwise: asked again with no move, nothing is said).</li>
 * </ul>
 */
public final class TurnResponder implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TurnResponder.class);

    public static final String RESPONSE_REQUIRED = InteractionType.RESPONSE_REQUIRED;
    public static final String REMINDER_REQUIRED = InteractionType.REMINDER_REQUIRED;
    public static final String CALL_DETAILS = InteractionType.CALL_DETAILS;
    public static final String UPDATE_ONLY = InteractionType.UPDATE_ONLY;
    public static final String CALL_STARTED = WebhookEvent.CALL_STARTED;
    public static final String CALL_ENDED = WebhookEvent.CALL_ENDED;

    /** Calls tracked at once (latest response id, agent, in-flight turn); the least recently active goes first. */
    public static final int MAX_TRACKED_CALLS = 100_000;

    private final AgentBackend backend;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Consumer<AgentResponse> sink;
    /** The primary backend's resilience: its breaker, and the turn's bulkhead and retry. */
    private final BackendResilience resilience;
    private final Guarded primary;
    /** The fallback backend, or null without one. */
    private final Guarded fallback;
    private final long hedgeDelayMs;
    private final LatencyWindow primaryFirstChunks = new LatencyWindow(200);
    private final LatencyWindow fallbackFirstChunks = new LatencyWindow(200);
    private final ResponseCache cache;
    private final long marginMs;
    private final long budgetMs;
    private final long firstWordsDeadlineMs;
    private final long stallMs;
    private final long maxAnswerMs;
    private final long firstChunkTimeoutMs;
    private final long coalesceMs;
    private final List<String> fillers;
    private final Map<FallbackReason, String> fallbackLines = new EnumMap<>(FallbackReason.class);
    private final LinkedHashMap<String, CallTrack> calls = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CallTrack> eldest) {
            return size() > MAX_TRACKED_CALLS;
        }
    };
    /** Whether turns wait for the call's admission; false: every call counts as active (no call-state feed). */
    private final boolean admissionGated;
    private final String greeting;
    private final String holdLine;
    private final String busyLine;
    private final long holdRepeatMs;
    private volatile boolean closed;

    /**
     * A responder without a call-state feed: every call counts as admitted.
     *
     * @param config    checked against {@code common} by {@link ResponderConfig#checkAgainst} at load
     * @param backend   generates answers; not closed here
     * @param scheduler runs time limits and retry backoffs; not shut down here
     * @param clock     the time of budgets, the breaker and the cache
     * @param sink      receives every record to write, in order per turn; must not block for long
     */
    public TurnResponder(ResponderConfig config, CommonConfig common, AgentBackend backend,
            ScheduledExecutorService scheduler, Clock clock, MeterRegistry meters, Consumer<AgentResponse> sink) {
        this(config, common, backend, null, scheduler, clock, meters, sink);
    }

    /**
     * @param fallbackBackend the fallback backend ({@code agent.fallback.*}), or null for none; not closed here
     */
    public TurnResponder(ResponderConfig config, CommonConfig common, AgentBackend backend,
            AgentBackend fallbackBackend, ScheduledExecutorService scheduler, Clock clock, MeterRegistry meters,
            Consumer<AgentResponse> sink) {
        this(config, common, backend, fallbackBackend, scheduler, clock, meters, sink, false);
    }

    /**
     * @param admissionGated true: a call's turns follow its admission, learnt through {@link #handleState} (the
     *                       responder role feeds it call-state); false: every call counts as active
     */
    public TurnResponder(ResponderConfig config, CommonConfig common, AgentBackend backend,
            AgentBackend fallbackBackend, ScheduledExecutorService scheduler, Clock clock, MeterRegistry meters,
            Consumer<AgentResponse> sink, boolean admissionGated) {
        Objects.requireNonNull(common, "common");
        this.admissionGated = admissionGated;
        this.greeting = config.socketGreeting();
        this.holdLine = config.holdMessage();
        this.busyLine = config.busyMessage();
        this.holdRepeatMs = config.holdRepeatMs();
        // Registered at 0 so the dashboard shows hold and busy counts before the first.
        for (String at : List.of(ResponderMetrics.AT_BEGIN, ResponderMetrics.AT_TURN, ResponderMetrics.AT_REPEAT)) {
            meters.counter(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT, at);
        }
        for (String at : List.of(ResponderMetrics.AT_BEGIN, ResponderMetrics.AT_TURN, ResponderMetrics.AT_INTERRUPT)) {
            meters.counter(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT, at);
        }
        this.backend = Objects.requireNonNull(backend, "backend");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.marginMs = config.deliveryMarginMs();
        this.budgetMs = common.turnBudgetMs();
        this.firstWordsDeadlineMs = common.turnFirstWordsDeadlineMs();
        this.stallMs = common.turnStallMs();
        this.maxAnswerMs = common.turnMaxAnswerMs();
        this.firstChunkTimeoutMs = config.firstChunkTimeoutMs();
        this.fillers = common.turnFillerMessages().stream()
                .map(SpokenText::filler).toList();
        this.coalesceMs = config.chunkCoalesceMs();
        this.resilience = new BackendResilience(config, clock, meters);
        this.primary = new Guarded(backend, resilience);
        this.fallback = fallbackBackend == null ? null : new Guarded(fallbackBackend,
                new BackendResilience(config, clock, meters, BackendResilience.FALLBACK_NAME));
        this.hedgeDelayMs = config.hedgeDelayMs();
        // Registered at 0 so dashboards can chart hedges per backend before the first race.
        for (Guarded g : fallback == null ? List.of(primary) : List.of(primary, fallback)) {
            meters.counter(ResponderMetrics.HEDGES_STARTED, ResponderMetrics.TAG_BACKEND, g.name());
            meters.counter(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND, g.name());
        }
        this.cache = config.cacheEnabled() ? new ResponseCache(config.cacheMaxEntries(), config.cacheTtlMs(),
                config.cacheTailKeyAgents(), clock) : null;
        for (FallbackReason reason : FallbackReason.values()) {
            fallbackLines.put(reason, config.fallbackMessage(reason, common));
        }
        eachBackend(b -> b.unprompted(this::unprompted));
    }

    /** Takes one call event: answers turns, learns call context, forgets ended calls. Never blocks on the backend. */
    public void handle(CallEvent event) {
        if (closed) {
            return;
        }
        String type = event.type();
        if (event.source() == EventSource.WEBHOOK && CALL_ENDED.equals(type)) {
            forget(event.callId());
            eachBackend(b -> b.callEnded(event.callId()));
            return;
        }
        if ((event.source() == EventSource.SOCKET && CALL_DETAILS.equals(type))
                || (event.source() == EventSource.WEBHOOK && CALL_STARTED.equals(type))) {
            learn(event);
        } else if (event.source() == EventSource.SOCKET
                && (RESPONSE_REQUIRED.equals(type) || REMINDER_REQUIRED.equals(type))) {
            requested(event);
        } else if (event.source() == EventSource.SOCKET && CallEvent.TYPE_SOCKET_OPENED.equals(type)) {
            opened(event);
        }
        if (event.source() == EventSource.SOCKET && (CALL_DETAILS.equals(type) || UPDATE_ONLY.equals(type))) {
            forward(event);
        }
    }

    /**
     * Passes {@code call_details} and {@code update_only} to the backends of an admitted call only: a socket backend
     * opens its upstream for what it is given, and a queued or refused call must reach no backend. A queued call's
     * (or one not decided yet) latest {@code call_details} is kept and forwarded when it is admitted; its
     * {@code update_only} frames are dropped (every later turn carries the whole transcript).
     */
    private void forward(CallEvent event) {
        String type = event.type();
        synchronized (calls) {
            CallTrack track = track(event.callId());
            if (track.status != CallStatus.ACTIVE) {
                if (CALL_DETAILS.equals(type) && track.status != CallStatus.REJECTED) {
                    track.heldCallDetails = event.payload();
                } else {
                    meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "not_admitted")
                            .increment();
                }
                return;
            }
        }
        eachBackend(b -> b.callEvent(event.callId(), type, event.payload()));
    }

    private void eachBackend(Consumer<AgentBackend> hook) {
        for (AgentBackend b : fallback == null ? List.of(backend) : List.of(backend, fallback.backend())) {
            try {
                hook.accept(b);
            } catch (RuntimeException e) {
                LOG.warn("agent backend hook failed: {}", e.toString());
            }
        }
    }

    /**
     * A socket of the call opened. When the edge left the begin message to the pipeline (begin {@code owed}), it is
     * answered by the call's admission: the agent's begin message (the backend's own, when it says one, else
     * {@code socket.greeting}) for an active call, the hold line for a queued one, the busy line with
     * {@code end_call} for a rejected one; unknown yet, it waits for the decision (see {@link AdmissionWait}). The
     * edge bridges a late begin with the greeting at the budget and completes it at the first-words deadline.
     */
    private void opened(CallEvent event) {
        boolean owed = CallEvent.BEGIN_OWED.equals(event.payload().path("begin").asText());
        String connection = event.payload().path("connection_id").asText(null);
        CallStatus status;
        AdmissionWait wait = null;
        boolean reconnect;
        AnswerSoFar owedAnswer;
        int generation;
        synchronized (calls) {
            CallTrack track = track(event.callId());
            track.edgeNode = event.edgeNode();
            track.onSocket = true;
            status = track.status;
            reconnect = track.socketOpened(connection, event.receivedAtMs()) || latestResponseId(track) > 0;
            generation = track.socketGeneration;
            owedAnswer = reconnect ? track.answer : null;
            if (!owed || reconnect) {
                if (status == CallStatus.QUEUED && track.holdTimer == null) {
                    // A queued call's socket came back: it hears it is still waiting at the next repeat.
                    armHoldRepeat(event.callId(), track);
                }
            } else if (status == null) {
                wait = new AdmissionWait(event, 0, true);
                AdmissionWait previous = track.waiting;
                track.waiting = wait;
                if (previous != null) {
                    previous.abandon();
                }
            }
        }
        if (owed && reconnect) {
            answerReconnectBegin(event, status);
        } else if (wait != null) {
            wait.start();
        } else if (owed) {
            answerBegin(event, status, "", 0);
        }
        if (owedAnswer != null) {
            // The turn the old socket was owed is still being written: the new socket hears what was said of it,
            // and the chunks still to come follow. A complete answer is re-sent only when Retell asks again.
            resend(event.callId(), owedAnswer, generation, false, event.edgeNode(), ResponderMetrics.AT_RECONNECT);
        }
    }

    /**
     * An owed begin of a socket that is not the call's first (another socket or a turn is known: an edge that could
     * not tell, such as another edge node than the call's last): an empty begin, so the caller is not greeted again
     * mid-call; the busy line with {@code end_call} for a rejected call; nothing for an ended one.
     */
    private void answerReconnectBegin(CallEvent event, CallStatus status) {
        if (status == CallStatus.REJECTED) {
            sayBusy(event, 0, ResponderMetrics.AT_BEGIN, "", 0);
            return;
        }
        if (status == CallStatus.ENDED || status == CallStatus.EXPIRED) {
            return;
        }
        LOG.debug("call {}: begin of a reconnect owed by edge {}: empty, not the greeting", event.callId(),
                event.edgeNode());
        meters.counter(ResponderMetrics.RECONNECT_BEGINS).increment();
        write(new AgentResponse(AgentResponse.SCHEMA_VERSION, event.callId(), 0, ResponseKind.GENERATED, null, "",
                true, null, 0, event.receivedAtMs(), clock.millis(), event.edgeNode()));
    }

    /** Re-sends a turn's answer so far to the call's socket of {@code generation}, when there is anything to send. */
    private void resend(String callId, AnswerSoFar answer, int generation, boolean includeComplete, String edgeNode,
            String at) {
        answer.catchUp(generation, includeComplete, callId, edgeNode, clock.millis()).ifPresent(record -> {
            LOG.info("call {} response {}: {} answer re-sent to its new socket (on edge {})", callId,
                    record.responseId(), record.contentComplete() ? "whole" : "partial", edgeNode);
            meters.counter(ResponderMetrics.ANSWERS_RESENT, ResponderMetrics.TAG_AT, at).increment();
            write(record);
        });
    }

    /** Answers an owed begin message by the call's known status; {@code heard} and {@code chunk} of a wait. */
    private void answerBegin(CallEvent event, CallStatus status, CharSequence heard, int chunk) {
        switch (status) {
            case ACTIVE -> sayBegin(event.callId(), event.receivedAtMs(), event.edgeNode(), false);
            case QUEUED -> sayHold(event, 0, ResponderMetrics.AT_BEGIN, heard, chunk);
            case REJECTED -> sayBusy(event, 0, ResponderMetrics.AT_BEGIN, heard, chunk);
            default -> {
                // Ended or expired while the socket opened: nothing is owed to it.
            }
        }
    }

    /**
     * The agent's begin message: the backend's own when it says one, else {@code socket.greeting}; as response 0,
     * or as an agent interrupt when the call was admitted from the queue (response 0 was the hold line).
     */
    private void sayBegin(String callId, long receivedAtMs, String edgeNode, boolean asInterrupt) {
        Turn call;
        Long interruptId = null;
        long responseId = 0;
        synchronized (calls) {
            CallTrack track = track(callId);
            call = new Turn(callId, 0, CallEvent.TYPE_SOCKET_OPENED, List.of(), track.agentId,
                    track.dynamicVariables, track.agentVersion);
            if (asInterrupt) {
                interruptId = nextInterruptId(track);
                responseId = latestResponseId(track);
            }
        }
        if (backend.saysBeginMessage()) {
            new BeginRun(callId, receivedAtMs, edgeNode, responseId, interruptId).start(call);
            return;
        }
        AgentResponse record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId,
                ResponseKind.GENERATED, null, greeting, true, null, 0, receivedAtMs, clock.millis(), edgeNode);
        write(interruptId == null ? record : record.withScope(AgentResponse.SCOPE_INTERRUPT, interruptId));
    }

    /**
     * The begin message from a backend that says one: its events as response 0 records (or as the chunks of an agent
     * interrupt), then the complete one.
     */
    private final class BeginRun {
        private final String callId;
        private final long receivedAtMs;
        private final String edgeNode;
        private final long responseId;
        /** The interrupt id when said as an agent interrupt; null for response 0. */
        private final Long interruptId;
        private final Actions actions = new Actions();
        private int nextChunk;
        private boolean done;

        BeginRun(String callId, long receivedAtMs, String edgeNode, long responseId, Long interruptId) {
            this.callId = callId;
            this.receivedAtMs = receivedAtMs;
            this.edgeNode = edgeNode;
            this.responseId = responseId;
            this.interruptId = interruptId;
        }

        void start(Turn call) {
            CompletableFuture<Void> future;
            try {
                future = backend.begin(call, this::onEvent);
            } catch (RuntimeException e) {
                future = CompletableFuture.failedFuture(e);
            }
            future.whenComplete((ignored, error) -> finish(error));
        }

        synchronized void onEvent(AgentEvent e) {
            if (done || closed) {
                return;
            }
            if (e instanceof AgentEvent.Text text && !text.text().isEmpty()) {
                write(record(text.text(), false).withNoInterruptionAllowed(text.noInterruptionAllowed() ? true : null));
            } else if (!actions.take(e)) {
                AgentFrame frame = frameOf(e);
                if (frame != null) {
                    write(record("", false).withFrames(List.of(frame), null));
                }
            }
        }

        synchronized void finish(Throwable error) {
            if (done || closed) {
                return;
            }
            done = true;
            if (error != null) {
                meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "begin_failed")
                        .increment();
                if (interruptId == null) {
                    // The edge bridged with the greeting at the budget and completes the begin message itself.
                    LOG.info("call {}: the agent's begin message failed ({}); the edge's greeting stands", callId,
                            unwrap(error).toString());
                    return;
                }
                // No edge greeting stands behind an interrupt: the greeting ends it (after what was said, if any).
                LOG.info("call {}: the agent's begin message after the queue failed ({}); the greeting ends it",
                        callId, unwrap(error).toString());
                write(record(nextChunk == 0 ? greeting : "", true));
                return;
            }
            write(actions.applyTo(record("", true)));
        }

        private AgentResponse record(String content, boolean complete) {
            AgentResponse record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId,
                    ResponseKind.GENERATED, null, content, complete, null, nextChunk++, receivedAtMs, clock.millis(),
                    edgeNode);
            return interruptId == null ? record : record.withScope(AgentResponse.SCOPE_INTERRUPT, interruptId);
        }
    }

    /** The frame an agent event is on the wire, for the events that are frames; null otherwise. */
    private static AgentFrame frameOf(AgentEvent e) {
        if (e instanceof AgentEvent.ToolInvocation invocation) {
            return AgentFrame.toolCallInvocation(invocation.toolCallId(), invocation.name(), invocation.arguments());
        } else if (e instanceof AgentEvent.ToolResult result) {
            return AgentFrame.toolCallResult(result.toolCallId(), result.content(), result.successful());
        } else if (e instanceof AgentEvent.UpdateAgent update) {
            return AgentFrame.updateAgent(update.agentConfig());
        } else if (e instanceof AgentEvent.Metadata metadata) {
            return AgentFrame.metadata(metadata.metadata());
        }
        return null;
    }

    /**
     * What a backend says outside any turn: an {@code agent_interrupt} chunk (scope interrupt, chunks numbered per
     * interrupt id), or an agent update or metadata (scope call). Tool frames and actions outside a turn are dropped.
     */
    private void unprompted(String callId, AgentEvent e) {
        if (closed || callId == null || e == null) {
            return;
        }
        long now = clock.millis();
        AgentResponse record;
        synchronized (calls) {
            CallTrack track = admissionGated ? calls.get(callId) : track(callId);
            if (track == null || track.status != CallStatus.ACTIVE || track.moved) {
                // A call not admitted (queued, refused, not decided), or one whose partition another member took:
                // the backend has nothing to say to its caller.
                LOG.debug("call {}: {} of the backend dropped: the call is not admitted here", callId,
                        e.getClass().getSimpleName());
                meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "not_admitted")
                        .increment();
                return;
            }
            long latest = latestResponseId(track);
            if (e instanceof AgentEvent.Interrupt interrupt) {
                if (track.interruptId >= 0 && interrupt.interruptId() < track.interruptId) {
                    // An older interrupt than the backend's latest: Retell would discard it anyway.
                    meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "stale_interrupt")
                            .increment();
                    return;
                }
                if (interrupt.interruptId() != track.interruptId) {
                    track.interruptId = interrupt.interruptId();
                    track.interruptChunk = 0;
                    // Past every interrupt id sent for the call, the responder's own included (see nextInterruptId).
                    track.interruptWireId = nextInterruptId(track);
                }
                long wireId = track.interruptWireId;
                record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, latest, ResponseKind.GENERATED, null,
                        interrupt.content(), interrupt.contentComplete(), null, track.interruptChunk++, now, now,
                        track.edgeNode)
                        .withScope(AgentResponse.SCOPE_INTERRUPT, wireId);
                if (interrupt.contentComplete()) {
                    record = record.withActions(interrupt.endCall(), interrupt.transferNumber(), null,
                            interrupt.digitToPress());
                }
                record = record.withNoInterruptionAllowed(interrupt.noInterruptionAllowed());
            } else if (e instanceof AgentEvent.UpdateAgent || e instanceof AgentEvent.Metadata) {
                record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, latest, ResponseKind.GENERATED, null,
                        "", false, null, track.callFrames++, now, now, track.edgeNode)
                        .withScope(AgentResponse.SCOPE_CALL, null).withFrames(List.of(frameOf(e)), null);
            } else {
                LOG.debug("call {}: {} outside a turn dropped", callId, e.getClass().getSimpleName());
                meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "outside_turn")
                        .increment();
                return;
            }
        }
        write(record);
    }

    private void write(AgentResponse record) {
        if (record.inTurn() && record.responseId() > 0) {
            AnswerSoFar answer;
            synchronized (calls) {
                CallTrack track = calls.get(record.callId());
                answer = track == null ? null : track.answer;
            }
            if (answer != null) {
                answer.add(record);
            }
        }
        try {
            sink.accept(record);
        } catch (RuntimeException e) {
            LOG.warn("call {} response {}: could not hand over an answer record: {}", record.callId(),
                    record.responseId(), e.toString());
        }
    }

    private void learn(CallEvent event) {
        JsonNode call = event.payload().path("call");
        String agentId = call.path("agent_id").isTextual() ? call.path("agent_id").asText() : null;
        Map<String, String> variables = new LinkedHashMap<>();
        call.path("retell_llm_dynamic_variables").properties()
                .forEach(e -> variables.put(e.getKey(), e.getValue().asText()));
        synchronized (calls) {
            CallTrack track = track(event.callId());
            if (agentId != null) {
                track.agentId = agentId;
            }
            if (call.path("agent_version").canConvertToInt() && call.path("agent_version").isIntegralNumber()) {
                track.agentVersion = call.path("agent_version").asInt();
            }
            if (!variables.isEmpty()) {
                track.dynamicVariables = Map.copyOf(variables);
            }
        }
    }

    /**
     * Takes one call-state record of the call (null: a tombstone): learns its context (agent id and version,
     * dynamic variables, latest response id, rejection reason) and acts on a change of its admission: a waiting
     * begin or turn is answered; admitted from the queue, the agent's begin message is said as an interrupt;
     * rejected, the busy line with {@code end_call} is said as an interrupt when nothing waited; ended or expired,
     * the call is forgotten. An interrupt is said only to a call on the line: one a socket event was read for here,
     * or, read back by a rebuild, whose call-state names its socket open (a connection id, no
     * {@code socket_lost_at_ms}); a call known by its webhooks alone hears nothing. Admitted, the call's held
     * {@code call_details} go to the backends first. A live state does not put a call on the line by itself: its
     * socket event is read after it (a poll's states go first), and answers the owed begin by the state.
     */
    public void handleState(String callId, CallState state) {
        handleState(callId, state, false);
    }

    /**
     * {@link #handleState(String, CallState)}, for a state read back by a rebuild ({@code rebuilt}: its partition was
     * just assigned here, the call's socket events were read by another member or before a restart).
     */
    public void handleState(String callId, CallState state, boolean rebuilt) {
        if (closed || callId == null) {
            return;
        }
        if (state == null || state.status() == CallStatus.ENDED || state.status() == CallStatus.EXPIRED) {
            if (forget(callId)) {
                eachBackend(b -> b.callEnded(callId));
            }
            return;
        }
        CallStatus now = state.status();
        CallStatus before;
        AdmissionWait wait;
        TurnRun inFlight = null;
        boolean onSocket;
        String edgeNode;
        JsonNode callDetails = null;
        synchronized (calls) {
            CallTrack track = track(callId);
            if (state.agentId() != null) {
                track.agentId = state.agentId();
            }
            if (state.agentVersion() != null) {
                track.agentVersion = state.agentVersion();
            }
            Map<String, String> variables = textValues(state.dynamicVariables());
            if (!variables.isEmpty()) {
                track.dynamicVariables = variables;
            }
            if (state.latestResponseId() != null) {
                track.stateResponseId = Math.max(track.stateResponseId, state.latestResponseId());
            }
            if (track.idEpochMs == Long.MIN_VALUE && state.firstEventAtMs() > 0) {
                track.idEpochMs = state.firstEventAtMs();
            }
            if (state.rejectionReason() != null) {
                track.rejectionReason = state.rejectionReason();
            }
            track.socketKnown(state.connectionId(),
                    state.socketOpenedAtMs() == null ? Long.MIN_VALUE : state.socketOpenedAtMs(), state.reconnects() > 0);
            if (state.connectionId() != null) {
                // On the line by call-state (a rebuild reads no socket event): its socket open and not lost. A lost
                // socket counts only when it is the latest known: call-state lags the events of a newer one.
                if (state.socketLostAtMs() == null) {
                    track.onSocket |= rebuilt;
                } else if (state.connectionId().equals(track.connectionId)) {
                    track.onSocket = false;
                }
            }
            before = track.status;
            if (before == now) {
                return;
            }
            track.status = now;
            if (now == CallStatus.ACTIVE) {
                callDetails = track.heldCallDetails;
            }
            track.heldCallDetails = null;
            wait = track.waiting;
            track.waiting = null;
            if (now != CallStatus.QUEUED) {
                cancelHoldRepeat(track);
            } else if (track.onSocket && track.holdTimer == null) {
                armHoldRepeat(callId, track);
            }
            if (now == CallStatus.REJECTED) {
                inFlight = track.inFlight;
                track.inFlight = null;
            }
            onSocket = track.onSocket;
            edgeNode = track.edgeNode;
        }
        LOG.debug("call {}: admission {} -> {}", callId, before, now);
        if (callDetails != null) {
            // Held while the call was not admitted: the backends get it before its begin message or first turn.
            JsonNode details = callDetails;
            eachBackend(b -> b.callEvent(callId, CALL_DETAILS, details));
        }
        if (wait != null) {
            wait.decided(now);
            return;
        }
        if (inFlight != null) {
            inFlight.abandon(ResponderMetrics.OUTCOME_REJECTED);
        }
        if (!onSocket) {
            return;
        }
        if (now == CallStatus.ACTIVE && before == CallStatus.QUEUED) {
            sayBegin(callId, clock.millis(), edgeNode, true);
        } else if (now == CallStatus.REJECTED) {
            sayBusyInterrupt(callId);
        }
    }

    private static Map<String, String> textValues(JsonNode object) {
        if (object == null || !object.isObject() || object.isEmpty()) {
            return Map.of();
        }
        Map<String, String> values = new LinkedHashMap<>();
        object.properties().forEach(e -> values.put(e.getKey(), e.getValue().asText()));
        return Map.copyOf(values);
    }

    /**
     * The call's track, made when new, or anew when the call's partition moved away and came back (what was known
     * then is stale; its open turn, if any, goes on). Guarded by {@code calls}.
     */
    private CallTrack track(String callId) {
        CallTrack known = calls.get(callId);
        if (known != null && !known.moved) {
            return known;
        }
        CallTrack track = new CallTrack();
        track.status = admissionGated ? null : CallStatus.ACTIVE;
        if (known != null) {
            track.inFlight = known.inFlight;
            track.waiting = known.waiting;
            track.lastInterruptId = known.lastInterruptId;
            track.idEpochMs = known.idEpochMs;
        }
        calls.put(callId, track);
        return track;
    }

    /**
     * The calls' partition went to another member (a rebalance, a drain): what this member knew of them is dropped,
     * and their hold repeats stop, so the new owner, which rebuilds them from call-state, is the only one to speak to
     * them. A turn still generating (or waiting for its admission) here is finished here, its answer still sent; the
     * backends are told ({@link AgentBackend#callMoved}) of the calls with none.
     *
     * @return how many of the calls were known here
     */
    public int forgetMoved(java.util.Collection<String> callIds) {
        List<String> idle = new ArrayList<>();
        synchronized (calls) {
            for (String callId : callIds) {
                CallTrack track = calls.get(callId);
                if (track == null) {
                    continue;
                }
                cancelHoldRepeat(track);
                if (track.inFlight == null && track.waiting == null) {
                    calls.remove(callId);
                    idle.add(callId);
                } else {
                    track.moved = true;
                }
            }
        }
        for (String callId : idle) {
            eachBackend(b -> b.callMoved(callId));
        }
        LOG.debug("responder forgot {} call(s) of partitions another member took", idle.size());
        return idle.size();
    }

    /** The latest response id known of the call, for an interrupt's record (information only). Under {@code calls}. */
    private static long latestResponseId(CallTrack track) {
        return Math.max(0, Math.max(track.latestResponseId, track.stateResponseId));
    }

    /**
     * A new interrupt id for the call, above every id sent for it by this member and, time-based, above those another
     * member sent before the call's partition moved here: the edge drops an interrupt id below the call's latest, so a
     * new owner counting from 0 would go unheard. The time is milliseconds since the call's first event (from
     * call-state, the same on every member), when that is higher than the last id plus one: numbers a 32-bit reader
     * takes (24 days of call), where a wall clock's milliseconds would not fit the integer a strict reader of
     * Retell's frames may parse them into (a frame Retell cannot read is dropped silently). Until the call's state is
     * known, ids count up from the last. Under {@code calls}.
     */
    private long nextInterruptId(CallTrack track) {
        long sinceStart = track.idEpochMs == Long.MIN_VALUE ? 0 : Math.max(0, clock.millis() - track.idEpochMs);
        long id = Math.max(track.lastInterruptId + 1, sinceStart);
        track.lastInterruptId = id;
        return id;
    }


    /** (Re)starts the hold repeat: the hold line again {@code capacity.hold-repeat-ms} from now. Under {@code calls}. */
    private void armHoldRepeat(String callId, CallTrack track) {
        cancelHoldRepeat(track);
        if (!closed) {
            track.holdTimer = scheduler.schedule(() -> repeatHold(callId), holdRepeatMs, TimeUnit.MILLISECONDS);
        }
    }

    private static void cancelHoldRepeat(CallTrack track) {
        if (track.holdTimer != null) {
            track.holdTimer.cancel(false);
            track.holdTimer = null;
        }
    }

    /** The hold repeat fell due: said as an agent interrupt while the call is still queued, then re-armed. */
    private void repeatHold(String callId) {
        AgentResponse record;
        synchronized (calls) {
            CallTrack track = calls.get(callId);
            if (track != null) {
                track.holdTimer = null;
            }
            if (closed || track == null || track.status != CallStatus.QUEUED || !track.onSocket || track.moved) {
                return;
            }
            long now = clock.millis();
            record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, latestResponseId(track),
                    ResponseKind.HOLD, null, holdLine, true, null, 0, now, now, track.edgeNode)
                    .withScope(AgentResponse.SCOPE_INTERRUPT, nextInterruptId(track));
            armHoldRepeat(callId, track);
        }
        meters.counter(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT, ResponderMetrics.AT_REPEAT).increment();
        write(record);
    }

    /** The hold line as the complete answer of a queued call's begin (id 0) or turn, after what was said. */
    private void sayHold(CallEvent event, long responseId, String at, CharSequence heard, int chunk) {
        synchronized (calls) {
            CallTrack track = track(event.callId());
            armHoldRepeat(event.callId(), track);
        }
        meters.counter(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT, at).increment();
        answerLine(event, responseId, ResponseKind.HOLD, null, SpokenText.joinClosing(heard, holdLine), chunk, false);
    }

    /** The busy line with {@code end_call} as the complete answer of a rejected call's begin or turn. */
    private void sayBusy(CallEvent event, long responseId, String at, CharSequence heard, int chunk) {
        String reason;
        synchronized (calls) {
            reason = busyReason(track(event.callId()));
        }
        meters.counter(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT, at).increment();
        answerLine(event, responseId, ResponseKind.BUSY, reason, SpokenText.joinClosing(heard, busyLine), chunk, true);
    }

    /** The busy line with {@code end_call} as an agent interrupt: no begin or turn of the call is open. */
    private void sayBusyInterrupt(String callId) {
        AgentResponse record;
        synchronized (calls) {
            CallTrack track = track(callId);
            long now = clock.millis();
            record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, latestResponseId(track),
                    ResponseKind.BUSY, busyReason(track), busyLine, true, Boolean.TRUE, 0, now, now, track.edgeNode)
                    .withScope(AgentResponse.SCOPE_INTERRUPT, nextInterruptId(track));
        }
        meters.counter(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT, ResponderMetrics.AT_INTERRUPT).increment();
        write(record);
    }

    private static String busyReason(CallTrack track) {
        return track.rejectionReason == null ? AgentResponse.REASON_CAPACITY : track.rejectionReason;
    }

    /** One complete record that answers a begin or turn with a line, not from the backend. */
    private void answerLine(CallEvent event, long responseId, ResponseKind kind, String reason, String content,
            int chunk, boolean endCall) {
        if (responseId > 0) {
            turnOutcome(kind.wireName());
        }
        write(new AgentResponse(AgentResponse.SCHEMA_VERSION, event.callId(), responseId, kind, reason, content, true,
                endCall ? Boolean.TRUE : null, chunk, event.receivedAtMs(), clock.millis(), event.edgeNode()));
    }

    /**
     * A begin message or turn that came before its call's admission was known (the socket_opened or call_started
     * that decides it is still in the processor). It waits for the decision until its first-words deadline (less
     * the margin); a turn is bridged with a filler at the budget. Decided in time, it is answered by the status;
     * else closed with the timeout line, reason {@code admission_unknown}: the backend is never called for a call
     * that may hold no slot. State guarded by {@code this}; lock order: a wait, then {@code calls}.
     */
    private final class AdmissionWait {
        private final CallEvent event;
        private final long responseId;
        private final boolean begin;
        private final long fillerAtMs;
        private final long giveUpAtMs;
        private final StringBuilder heard = new StringBuilder();
        private int nextChunk;
        private boolean done;
        private ScheduledFuture<?> timer;

        AdmissionWait(CallEvent event, long responseId, boolean begin) {
            this.event = event;
            this.responseId = responseId;
            this.begin = begin;
            // The begin message is bridged by the edge (with the greeting), a turn here, as a backend's would be.
            this.fillerAtMs = begin ? Long.MAX_VALUE : event.receivedAtMs() + budgetMs - marginMs;
            this.giveUpAtMs = event.receivedAtMs() + firstWordsDeadlineMs - marginMs;
        }

        synchronized void start() {
            onTimer();
        }

        synchronized void onTimer() {
            timer = null;
            if (done) {
                return;
            }
            long now = clock.millis();
            if (now >= fillerAtMs && heard.length() == 0) {
                String line = nextFiller(event.callId());
                heard.append(line);
                meters.counter(ResponderMetrics.FILLERS).increment();
                write(record(ResponseKind.FILLER, null, line, false));
            }
            if (now >= giveUpAtMs) {
                giveUp();
                return;
            }
            long at = heard.length() == 0 ? Math.min(fillerAtMs, giveUpAtMs) : giveUpAtMs;
            timer = scheduler.schedule(this::onTimer, Math.max(0, at - now), TimeUnit.MILLISECONDS);
        }

        private void giveUp() {
            finish();
            LOG.info("call {} response {}: closing line admission_unknown (no admission by the first-words deadline)",
                    event.callId(), responseId);
            meters.counter(ResponderMetrics.ADMISSION_WAITS, ResponderMetrics.TAG_RESULT,
                    ResponderMetrics.RESULT_UNKNOWN).increment();
            meters.counter(ResponderMetrics.FALLBACKS, ResponderMetrics.TAG_REASON,
                    FallbackReason.ADMISSION_UNKNOWN.wireName()).increment();
            if (!begin) {
                turnOutcome(ResponseKind.FALLBACK.wireName());
            }
            // The begin's bridge (the edge's greeting) stands: it is only completed.
            String line = begin ? "" : SpokenText.joinClosing(heard, fallbackLines.get(FallbackReason.ADMISSION_UNKNOWN));
            write(record(ResponseKind.FALLBACK, FallbackReason.ADMISSION_UNKNOWN.wireName(), line, true));
        }

        /** The call's admission came: the wait is answered by it (unless it already ended). */
        void decided(CallStatus status) {
            synchronized (this) {
                if (done) {
                    return;
                }
                finish();
            }
            meters.counter(ResponderMetrics.ADMISSION_WAITS, ResponderMetrics.TAG_RESULT, status.wireName())
                    .increment();
            if (begin) {
                answerBegin(event, status, heard, nextChunk);
                return;
            }
            switch (status) {
                case ACTIVE -> {
                    TurnRun run;
                    synchronized (calls) {
                        CallTrack track = track(event.callId());
                        if (track.latestResponseId != responseId) {
                            return;
                        }
                        run = startingRun(event, responseId, track);
                    }
                    run.startAfterWait(heard, nextChunk);
                }
                case QUEUED -> sayHold(event, responseId, ResponderMetrics.AT_TURN, heard, nextChunk);
                case REJECTED -> sayBusy(event, responseId, ResponderMetrics.AT_TURN, heard, nextChunk);
                default -> {
                }
            }
        }

        /** Superseded by a newer turn, the call ended or shutdown: nothing more is said for it. */
        synchronized void abandon() {
            if (!done) {
                finish();
                if (!begin) {
                    turnOutcome(ResponderMetrics.OUTCOME_SUPERSEDED);
                }
            }
        }

        private void finish() {
            done = true;
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
            synchronized (calls) {
                CallTrack track = calls.get(event.callId());
                if (track != null && track.waiting == this) {
                    track.waiting = null;
                }
            }
        }

        private AgentResponse record(ResponseKind kind, String reason, String content, boolean complete) {
            return new AgentResponse(AgentResponse.SCHEMA_VERSION, event.callId(), responseId, kind, reason, content,
                    complete, null, nextChunk++, event.receivedAtMs(), clock.millis(), event.edgeNode());
        }
    }

    /** Forgets an ended call: its turn is abandoned, its wait and hold repeats stop. True when it was tracked. */
    private boolean forget(String callId) {
        CallTrack track;
        synchronized (calls) {
            track = calls.remove(callId);
            if (track != null) {
                cancelHoldRepeat(track);
            }
        }
        if (track == null) {
            return false;
        }
        if (track.waiting != null) {
            track.waiting.abandon();
        }
        if (track.inFlight != null) {
            track.inFlight.abandon(CALL_ENDED);
        }
        return true;
    }

    private void requested(CallEvent event) {
        long responseId = responseIdOf(event);
        if (responseId < 0) {
            LOG.warn("turn request without a valid response_id dropped: call {} event {}", event.callId(),
                    event.eventId());
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "invalid_turn").increment();
            return;
        }
        TurnRun run = null;
        TurnRun previous = null;
        AdmissionWait wait = null;
        AdmissionWait superseded = null;
        CallStatus status = null;
        AnswerSoFar askedAgain = null;
        int generation = 0;
        boolean stale;
        synchronized (calls) {
            CallTrack track = track(event.callId());
            stale = responseId <= track.latestResponseId;
            if (stale) {
                LOG.debug("stale turn ignored: call {} response {} (latest {})", event.callId(), responseId,
                        track.latestResponseId);
                turnOutcome(ResponderMetrics.OUTCOME_STALE);
                if (responseId == track.latestResponseId && track.answer != null
                        && track.answer.responseId() == responseId) {
                    // Asked again: on a new socket (it moved since the turn was asked) the answer is owed there.
                    askedAgain = track.answer;
                    generation = track.socketGeneration;
                }
            } else {
                track.latestResponseId = responseId;
                track.answer = new AnswerSoFar(responseId, event.receivedAtMs(), track.socketGeneration);
                track.onSocket = true;
                if (event.edgeNode() != null) {
                    track.edgeNode = event.edgeNode();
                }
                status = track.status;
                superseded = track.waiting;
                track.waiting = null;
                previous = track.inFlight;
                track.inFlight = null;
                if (status == CallStatus.ACTIVE) {
                    run = startingRun(event, responseId, track);
                } else if (status == null) {
                    wait = new AdmissionWait(event, responseId, false);
                    track.waiting = wait;
                }
            }
        }
        if (stale) {
            if (askedAgain != null) {
                resend(event.callId(), askedAgain, generation, true, event.edgeNode(), ResponderMetrics.AT_ASKED_AGAIN);
            }
            return;
        }
        if (superseded != null) {
            superseded.abandon();
        }
        if (previous != null) {
            previous.abandon(ResponderMetrics.OUTCOME_SUPERSEDED);
        }
        if (run != null) {
            run.start();
        } else if (wait != null) {
            wait.start();
        } else if (status == CallStatus.QUEUED) {
            sayHold(event, responseId, ResponderMetrics.AT_TURN, "", 0);
        } else if (status == CallStatus.REJECTED) {
            sayBusy(event, responseId, ResponderMetrics.AT_TURN, "", 0);
        }
    }

    /** The run of an admitted call's turn, with the call's context as known now; the call's in-flight turn. */
    private TurnRun startingRun(CallEvent event, long responseId, CallTrack track) {
        Turn turn = new Turn(event.callId(), responseId, event.type(), transcriptOf(event.payload()),
                track.agentId, track.dynamicVariables, track.agentVersion, event.payload());
        TurnRun run = new TurnRun(event, turn);
        track.inFlight = run;
        return run;
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

    /**
     * Turns (and owed begin messages) this responder still has to answer: generating, or waiting for the call's
     * admission. What a draining responder waits for before it closes.
     */
    public int openTurns() {
        synchronized (calls) {
            return (int) calls.values().stream().filter(t -> t.inFlight != null || t.waiting != null).count();
        }
    }

    public CircuitBreaker circuitBreaker() {
        return resilience.circuitBreaker();
    }

    /** The fallback backend's circuit breaker, when there is one. */
    public Optional<CircuitBreaker> fallbackCircuitBreaker() {
        return Optional.ofNullable(fallback).map(f -> f.resilience().circuitBreaker());
    }

    /**
     * How long a primary attempt runs alone before the fallback races it: {@code responder.hedge.delay-ms} when
     * fixed; adaptive (0), the primary's observed first-chunk p90, but no later than the filler less the
     * fallback's median first chunk (so the race can still beat the filler), and at least 50 ms. Before 20
     * observations, half of the time to the filler.
     */
    long hedgeDelay() {
        if (hedgeDelayMs > 0) {
            return hedgeDelayMs;
        }
        long window = budgetMs - marginMs;
        long p90 = primaryFirstChunks.quantile(0.9, window / 2);
        long fallbackMedian = fallbackFirstChunks.quantile(0.5, 0);
        return Math.max(50, Math.min(p90, window - fallbackMedian));
    }

    private void observePrimaryFirstChunk(long ms) {
        primaryFirstChunks.add(ms);
    }

    private void observeFallbackFirstChunk(long ms) {
        fallbackFirstChunks.add(ms);
    }

    /** The latest first-chunk latencies of one backend, for the adaptive hedge delay. Thread-safe. */
    static final class LatencyWindow {
        static final int MIN_SAMPLES = 20;
        private final long[] samples;
        private int next;
        private int count;

        LatencyWindow(int size) {
            samples = new long[size];
        }

        synchronized void add(long ms) {
            samples[next] = ms;
            next = (next + 1) % samples.length;
            count = Math.min(count + 1, samples.length);
        }

        /** The q-quantile of the window, or {@code whenFew} before {@link #MIN_SAMPLES} samples. */
        synchronized long quantile(double q, long whenFew) {
            if (count < MIN_SAMPLES) {
                return whenFew;
            }
            long[] sorted = java.util.Arrays.copyOf(samples, count);
            java.util.Arrays.sort(sorted);
            return sorted[Math.min(count - 1, (int) Math.ceil(q * count) - 1)];
        }
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
        List<AdmissionWait> waits = new ArrayList<>();
        synchronized (calls) {
            for (CallTrack track : calls.values()) {
                if (track.inFlight != null) {
                    inFlight.add(track.inFlight);
                }
                if (track.waiting != null) {
                    waits.add(track.waiting);
                }
                cancelHoldRepeat(track);
            }
            calls.clear();
        }
        inFlight.forEach(run -> run.abandon("closed"));
        waits.forEach(AdmissionWait::abandon);
    }

    /** What is known of one call. Guarded by {@code calls}. */
    private static final class CallTrack {
        long latestResponseId = -1;
        String agentId;
        Map<String, String> dynamicVariables = Map.of();
        TurnRun inFlight;
        /** The next filler line's index, so a caller does not hear the same filler twice in a row. */
        int nextFiller;
        /** The edge node that holds the call's socket, from its latest socket event. */
        String edgeNode;
        /** The latest agent interrupt's id and its next chunk index. */
        long interruptId = -1;
        int interruptChunk;
        /** The next call-scope record's index. */
        int callFrames;
        /** The call's admission from call-state; null while unknown. */
        CallStatus status;
        /** Why it was rejected (call-state's rejection reason), for the busy record. */
        String rejectionReason;
        Integer agentVersion;
        /** The highest response id call-state knows of (it may be ahead of the turns read here). */
        long stateResponseId = -1;
        /**
         * Someone is on the line to hear an interrupt: a socket event of the call was read here, or call-state names
         * its socket open (a connection id and no socket_lost_at), as after a rebuild.
         */
        boolean onSocket;
        /** The call's partition went to another member: nothing more is said for it here (its open turn ends). */
        boolean moved;
        /** The latest {@code call_details} of a call not admitted yet, forwarded to the backends at its admission. */
        JsonNode heldCallDetails;
        /** The begin message or turn waiting for the call's admission; null when none. */
        AdmissionWait waiting;
        /** The next hold repeat while queued; null when none is due. */
        ScheduledFuture<?> holdTimer;
        /** The highest interrupt id sent for the call; the responder's own take the next one. */
        long lastInterruptId = -1;
        /** The call's first event (call-state's firstEventAtMs), the origin of its time-based interrupt ids. */
        long idEpochMs = Long.MIN_VALUE;
        /** The wire id of the backend's latest interrupt ({@link #interruptId}). */
        long interruptWireId;
        /** The call's latest socket known (its socket_opened, or call-state's connection id); null when none. */
        String connectionId;
        /** When the edge received that socket's opening; {@code Long.MIN_VALUE} when not known. */
        long connectionOpenedAtMs = Long.MIN_VALUE;
        /** Counts the call's sockets as they became known; a turn's answer is addressed to one generation. */
        int socketGeneration;
        /** More than one socket of the call is known (call-state counted a reconnect). */
        boolean severalSockets;
        /** What was written for the latest turn, to catch a moved socket up; null before the first turn. */
        AnswerSoFar answer;

        /**
         * Records that the socket {@code connection} opened (null when the event names none).
         *
         * @return true when it is not the call's first socket: another was known, or call-state counted a reconnect
         */
        boolean socketOpened(String connection, long openedAtMs) {
            boolean another = connectionId != null && !connectionId.equals(connection);
            socketKnown(connection, openedAtMs, false);
            return another || severalSockets;
        }

        /**
         * What call-state (or a socket event) says of the call's sockets: {@code connection} opened at
         * {@code openedAtMs} ({@code Long.MIN_VALUE}: not known). An older socket than the one known changes nothing:
         * call-state lags the events, so a state written before the latest socket opened still names the one before.
         */
        void socketKnown(String connection, long openedAtMs, boolean reconnected) {
            severalSockets |= reconnected;
            if (connection == null || connection.equals(connectionId)
                    || (connectionId != null && openedAtMs < connectionOpenedAtMs)) {
                return;
            }
            connectionId = connection;
            connectionOpenedAtMs = openedAtMs;
            socketGeneration++;
        }
    }

    private String nextFiller(String callId) {
        synchronized (calls) {
            CallTrack track = calls.get(callId);
            int index = track == null ? 0 : track.nextFiller++;
            return fillers.get(Math.floorMod(index, fillers.size()));
        }
    }


    /** The phases of one turn; {@link TurnRun#moveTo} is the one place a phase changes. */
    private enum Phase {
        /** No words yet, the budget not passed. */
        WAITING,
        /** The filler was sent; still no words of the answer. */
        BRIDGED,
        /** The answer's words are flowing. */
        STREAMING,
        /** Completed or abandoned; nothing more is sent. */
        DONE
    }

    /** One backend with the resilience4j instances that judge it. */
    private record Guarded(AgentBackend backend, BackendResilience resilience) {
        String name() {
            return resilience.name();
        }
    }

    /** One call to one backend for a turn; guarded by its TurnRun. */
    private static final class Attempt {
        final int id;
        final Guarded guarded;
        final long startMs;
        final boolean hedge;
        final CompletableFuture<Void> firstChunk = new CompletableFuture<>();
        CompletableFuture<Void> call;
        long firstChunkMs = -1;
        boolean permissionHeld = true;

        Attempt(int id, Guarded guarded, long startMs, boolean hedge) {
            this.id = id;
            this.guarded = guarded;
            this.startMs = startMs;
            this.hedge = hedge;
        }

        /** Gives the breaker permission back unjudged: the attempt proved nothing (cancelled, or a retry may save it). */
        void release() {
            if (permissionHeld) {
                permissionHeld = false;
                guarded.resilience().circuitBreaker().releasePermission();
            }
        }

        void recordSuccess(long nowMs) {
            if (permissionHeld) {
                permissionHeld = false;
                guarded.resilience().circuitBreaker().onSuccess(firstChunkMs >= 0 ? firstChunkMs : nowMs - startMs,
                        TimeUnit.MILLISECONDS);
            }
        }

        void recordFailure(long nowMs, Throwable cause) {
            if (permissionHeld) {
                permissionHeld = false;
                guarded.resilience().circuitBreaker().onError(firstChunkMs >= 0 ? firstChunkMs : nowMs - startMs,
                        TimeUnit.MILLISECONDS, cause);
            }
        }

        /** Ends the first-chunk wait as failed (the limiter counts it so), then stops the call. */
        void fail(Throwable cause) {
            firstChunk.completeExceptionally(cause);
            cancel();
        }

        /** Stops the backend call (its HTTP stream closed) and the first-chunk limiter. */
        void cancel() {
            firstChunk.complete(null);
            if (call != null && !call.isDone()) {
                call.cancel(true);
            }
        }
    }

    /** One turn being answered. State guarded by {@code this}; lock order: a TurnRun, then {@code calls}. */
    private final class TurnRun {

        private final CallEvent event;
        private final Turn turn;
        private final long fillerAtMs;
        private final long giveUpAtMs;
        private final long capAtMs;
        private final String cacheKey;
        private Phase phase = Phase.WAITING;
        /** Everything sent for this turn so far (filler and words): what a closing line must follow. */
        private final StringBuilder heard = new StringBuilder();
        /** The winning attempt's whole answer so far (what is cached on success). */
        private final StringBuilder streamed = new StringBuilder();
        /** Chunks not yet written: they go out together when the coalescing timer fires or the answer ends. */
        private final StringBuilder pending = new StringBuilder();
        private ScheduledFuture<?> flushTimer;
        private ScheduledFuture<?> turnTimer;
        private long turnTimerAtMs = Long.MAX_VALUE;
        private ScheduledFuture<?> hedgeTimer;
        private int nextChunkIndex;
        private boolean firstWordsRecorded;
        private long lastChunkAtMs;
        private int attemptCount;
        /** Attempts running now: one, or two while a hedge races the primary. */
        private final List<Attempt> running = new ArrayList<>(2);
        /** The attempt whose words are spoken, once one streamed; null before. */
        private Attempt winner;
        /** The last attempt that failed on the primary: the retry goes to the fallback. */
        private boolean primaryFailed;
        /** A failed attempt whose retry is pending; it still holds its breaker permission. Null otherwise. */
        private Attempt retried;
        private Throwable retriedCause;
        private long retriedAtMs;
        private boolean bulkheadHeld;
        /** The after-speech actions the winning attempt asked for; they ride on the complete record. */
        private Actions actions = new Actions();
        /** A tool runs until this epoch ms (its time limit): no stall and no give-up before; 0 when none runs. */
        private long quietUntilMs;
        /** A frame (a tool call, an agent update) of the winning attempt went out: it cannot be retried. */
        private boolean framesSent;
        private ScheduledFuture<?> retryTimer;
        private Retry.AsyncContext<Void> retryContext;

        TurnRun(CallEvent event, Turn turn) {
            this.event = event;
            this.turn = turn;
            long received = event.receivedAtMs();
            this.fillerAtMs = received + budgetMs - marginMs;
            this.giveUpAtMs = received + firstWordsDeadlineMs - marginMs;
            this.capAtMs = received + maxAnswerMs - marginMs;
            this.cacheKey = cache == null ? null : cache.key(turn);
        }

        private void moveTo(Phase next) {
            phase = next;
        }

        synchronized void start() {
            if (phase == Phase.DONE) {
                return;
            }
            long now = clock.millis();
            if (now >= giveUpAtMs) {
                close(FallbackReason.TIMEOUT, "already past its first-words deadline when consumed");
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
                close(FallbackReason.BULKHEAD_FULL, "bulkhead full");
                return;
            }
            bulkheadHeld = true;
            retryContext = resilience.retry().asyncContext();
            if (phase == Phase.WAITING && now >= fillerAtMs) {
                bridge();
            }
            attempt();
            if (phase != Phase.DONE) {
                scheduleTurnTimer();
            }
        }

        /**
         * Starts the turn after it waited for its call's admission: what the wait said (a filler, its chunks) is
         * this turn's, so the closing line follows it and no second filler is said.
         */
        synchronized void startAfterWait(CharSequence said, int chunks) {
            heard.append(said);
            nextChunkIndex = chunks;
            if (said.length() > 0) {
                firstWordsRecorded = true;
                moveTo(Phase.BRIDGED);
            }
            start();
        }

        /** Starts the next attempt: on the primary, or on the fallback while the primary is open or just failed. */
        synchronized void attempt() {
            retryTimer = null;
            if (phase == Phase.DONE) {
                return;
            }
            long now = clock.millis();
            if (now >= giveUpAtMs) {
                close(FallbackReason.TIMEOUT, "no time left for an attempt before the first-words deadline");
                return;
            }
            boolean preferFallback = primaryFailed && fallback != null;
            Guarded first = preferFallback ? fallback : primary;
            Guarded second = preferFallback ? primary : fallback;
            Guarded chosen = null;
            boolean inherited = false;
            if (retried != null && retried.guarded == first) {
                // A retry on the same backend keeps the failed attempt's permission: one judgement per turn, and a
                // half-open breaker's trial is decided by this turn, not lost to another turn taking the slot.
                chosen = first;
                inherited = true;
            } else {
                if (retried != null) {
                    // Failing over to the other backend: the failed attempt is held against its own backend now.
                    retried.recordFailure(retriedAtMs, retriedCause);
                    retried = null;
                }
                if (first.resilience().circuitBreaker().tryAcquirePermission()) {
                    chosen = first;
                } else if (second != null && second.resilience().circuitBreaker().tryAcquirePermission()) {
                    chosen = second;
                }
            }
            if (chosen == null) {
                close(FallbackReason.CIRCUIT_OPEN, "circuit breaker " + primary.resilience().circuitBreaker().getState()
                        + (fallback != null ? ", fallback's " + fallback.resilience().circuitBreaker().getState() : ""));
                return;
            }
            // Retries only start when none of the answer's words were written: an earlier attempt's are dropped.
            streamed.setLength(0);
            pending.setLength(0);
            actions = new Actions();
            quietUntilMs = 0;
            if (inherited) {
                // The permission moves from the failed attempt to this one; nothing is recorded for the first.
                // Before the launch: a backend that fails at once re-enters failAttempt inside it.
                retried.permissionHeld = false;
                retried = null;
            }
            Attempt attempt = launch(chosen, now, false);
            if (chosen == primary && fallback != null && hedgeDelayMs >= 0) {
                long delay = hedgeDelay();
                hedgeTimer = scheduler.schedule(() -> hedge(attempt), delay, TimeUnit.MILLISECONDS);
            }
        }

        private Attempt launch(Guarded guarded, long now, boolean hedge) {
            Attempt attempt = new Attempt(++attemptCount, guarded, now, hedge);
            running.add(attempt);
            CompletableFuture<Void> call;
            try {
                call = guarded.backend().generate(turn, event -> onEvent(attempt, event));
            } catch (RuntimeException e) {
                call = CompletableFuture.failedFuture(e);
            }
            attempt.call = call;
            call.whenComplete((ignored, error) -> onAttemptDone(attempt, error));
            guarded.resilience().firstChunkLimiter()
                    .executeCompletionStage(scheduler, () -> attempt.firstChunk)
                    .whenComplete((ignored, error) -> {
                        if (error != null && unwrap(error) instanceof TimeoutException) {
                            onFirstChunkTimeout(attempt);
                        }
                    });
            return attempt;
        }

        /** The hedge delay is up: when the primary attempt has no first chunk yet, the fallback races it. */
        synchronized void hedge(Attempt primaryAttempt) {
            hedgeTimer = null;
            if (phase == Phase.DONE || winner != null || !running.contains(primaryAttempt)
                    || primaryAttempt.firstChunkMs >= 0) {
                return;
            }
            if (!fallback.resilience().circuitBreaker().tryAcquirePermission()) {
                return;
            }
            meters.counter(ResponderMetrics.HEDGES_STARTED, ResponderMetrics.TAG_BACKEND, fallback.name()).increment();
            launch(fallback, clock.millis(), true);
        }

        /**
         * One event of an attempt. Any event wins the race; only words move the turn to streaming (a tool invoked
         * before any word still lets the filler bridge). Actions are kept for the complete record; frames go out
         * at once, after the words before them.
         */
        synchronized void onEvent(Attempt attempt, AgentEvent event) {
            if (phase == Phase.DONE || !running.contains(attempt) || event == null) {
                return;
            }
            if (event instanceof AgentEvent.Text text && text.text().isEmpty()) {
                return;
            }
            if (event instanceof AgentEvent.Interrupt) {
                LOG.debug("call {} response {}: an interrupt inside a turn is not relayed", turn.callId(),
                        turn.responseId());
                return;
            }
            if (winner == null) {
                win(attempt);
            } else if (winner != attempt) {
                return;
            }
            long now = clock.millis();
            if (event instanceof AgentEvent.Text text) {
                onText(attempt, text, now);
            } else if (!actions.take(event)) {
                if (event instanceof AgentEvent.ToolInvocation invocation) {
                    quietUntilMs = invocation.timeLimitMs() > 0 ? now + invocation.timeLimitMs() : 0;
                } else if (event instanceof AgentEvent.ToolResult) {
                    quietUntilMs = 0;
                }
                emitFrame(frameOf(event), now);
            }
        }

        private void onText(Attempt attempt, AgentEvent.Text text, long now) {
            String chunk = text.text();
            lastChunkAtMs = now;
            if (phase != Phase.STREAMING) {
                moveTo(Phase.STREAMING);
                scheduleTurnTimer();
            }
            streamed.append(chunk);
            if (text.noInterruptionAllowed()) {
                // Its own record: the flag holds for exactly these words.
                flushPending();
                emitRecord(ResponseKind.GENERATED, null, chunk, false, List.of(), Boolean.TRUE);
                return;
            }
            if (coalesceMs == 0) {
                emit(ResponseKind.GENERATED, null, chunk, false);
                return;
            }
            pending.append(chunk);
            if (flushTimer == null) {
                flushTimer = scheduler.schedule(() -> flush(attempt), coalesceMs, TimeUnit.MILLISECONDS);
            }
        }

        /** A non-speech frame: the words before it go first, then a record carrying it (and the quiet period). */
        private void emitFrame(AgentFrame frame, long now) {
            flushPending();
            framesSent = true;
            lastChunkAtMs = now;
            emitRecord(ResponseKind.GENERATED, null, "", false, List.of(frame), null);
            if (phase == Phase.STREAMING) {
                scheduleTurnTimer();
            } else if (quietUntilMs > 0) {
                scheduleTurnTimer();
            }
        }

        /** The first chunk of the race: this attempt is spoken; every other one is cancelled, unjudged. */
        private void win(Attempt attempt) {
            winner = attempt;
            attempt.firstChunkMs = clock.millis() - attempt.startMs;
            attempt.firstChunk.complete(null);
            meters.timer(ResponderMetrics.FIRST_CHUNK_LATENCY, ResponderMetrics.TAG_BACKEND, attempt.guarded.name())
                    .record(attempt.firstChunkMs, TimeUnit.MILLISECONDS);
            if (attempt.guarded == primary) {
                observePrimaryFirstChunk(attempt.firstChunkMs);
            } else {
                observeFallbackFirstChunk(attempt.firstChunkMs);
            }
            boolean raced = running.size() > 1;
            if (hedgeTimer != null) {
                hedgeTimer.cancel(false);
                hedgeTimer = null;
            }
            for (Attempt other : List.copyOf(running)) {
                if (other != attempt) {
                    running.remove(other);
                    other.release();
                    other.cancel();
                }
            }
            if (raced) {
                meters.counter(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND, attempt.guarded.name())
                        .increment();
            }
        }

        /** Writes the chunks coalesced since the first unsent one, as one record. */
        synchronized void flush(Attempt attempt) {
            flushTimer = null;
            if (phase == Phase.DONE || winner != attempt || pending.length() == 0) {
                return;
            }
            emit(ResponseKind.GENERATED, null, pending.toString(), false);
            pending.setLength(0);
        }

        synchronized void onFirstChunkTimeout(Attempt attempt) {
            if (phase == Phase.DONE || !running.contains(attempt) || attempt.firstChunkMs >= 0) {
                return;
            }
            failAttempt(attempt, new FirstChunkTimeoutException(attempt.guarded.resilience().firstChunkTimeoutMs()));
        }

        synchronized void onAttemptDone(Attempt attempt, Throwable error) {
            if (phase == Phase.DONE || !running.contains(attempt)) {
                return;
            }
            Throwable cause = unwrap(error);
            if (cause != null) {
                failAttempt(attempt, cause);
                return;
            }
            if (winner == null) {
                // An empty answer: it wins, with nothing to say.
                win(attempt);
            } else if (winner != attempt) {
                return;
            }
            running.remove(attempt);
            long now = clock.millis();
            attempt.recordSuccess(now);
            retryContext.onComplete();
            if (cacheKey != null && streamed.length() > 0 && actions.none() && !framesSent) {
                // Only plain words are cached: an answer that hangs up, transfers or used a tool is this turn's.
                cache.put(cacheKey, streamed.toString());
            }
            // The chunks still pending ride on the content_complete record: a fast answer is one record.
            complete(ResponseKind.GENERATED, null, pending.toString());
        }

        /** An attempt failed (an error, or no first chunk in time): retried when nothing of it was spoken. */
        private void failAttempt(Attempt attempt, Throwable cause) {
            running.remove(attempt);
            long now = clock.millis();
            attempt.fail(cause);
            if (attempt.guarded == primary) {
                primaryFailed = true;
            }
            if (winner == null && !running.isEmpty()) {
                // Its rival still races: the turn may yet be saved, so this one is not held against its backend.
                attempt.release();
                return;
            }
            cancelFlush();
            boolean wordsSent = winner == attempt && (streamed.length() > pending.length() || framesSent);
            // A failed attempt's unwritten chunks are never said: the retry or the closing line replaces them.
            pending.setLength(0);
            winner = null;
            if (hedgeTimer != null) {
                hedgeTimer.cancel(false);
                hedgeTimer = null;
            }
            boolean timedOut = cause instanceof FirstChunkTimeoutException;
            String refusal = null;
            if (wordsSent) {
                refusal = framesSent ? "a frame of the answer (a tool call) was already sent"
                        : "part of the answer was already streamed";
            } else if (now + resilience.worstCaseBackoffMs(attemptCount) >= giveUpAtMs) {
                refusal = "no time left for another attempt before the first-words deadline";
            }
            long backoffMs = retryContext.onError(refusal == null ? cause
                    : new BackendResilience.NotRetriedException(refusal, cause));
            if (backoffMs < 0) {
                attempt.recordFailure(now, cause);
                FallbackReason reason = !wordsSent && timedOut ? FallbackReason.TIMEOUT : FallbackReason.ERROR;
                close(reason, "attempt " + attempt.id + " (" + attempt.guarded.name() + ") failed (" + cause + ")"
                        + (refusal != null ? "; not retried: " + refusal : "; no attempts left"));
                return;
            }
            // A retry may still save the turn: this attempt is not held against the backend yet. It keeps its
            // permission for the retry, which records the turn's one outcome (or records this failure on failover).
            retried = attempt;
            retriedCause = cause;
            retriedAtMs = now;
            LOG.debug("call {} response {}: attempt {} ({}) failed ({}), retrying in {} ms", turn.callId(),
                    turn.responseId(), attempt.id, attempt.guarded.name(), cause.toString(), backoffMs);
            if (phase == Phase.STREAMING) {
                moveTo(heard.length() > 0 ? Phase.BRIDGED : Phase.WAITING);
                scheduleTurnTimer();
            }
            retryTimer = scheduler.schedule(this::attempt, backoffMs, TimeUnit.MILLISECONDS);
        }

        /** The one timer of the turn's own deadlines: filler, first-words give-up, stall, hard cap. */
        private void scheduleTurnTimer() {
            long at = switch (phase) {
                case WAITING -> fillerAtMs;
                case BRIDGED -> giveUpAt();
                case STREAMING -> Math.min(stallAt(), capAtMs);
                case DONE -> Long.MAX_VALUE;
            };
            if (at == turnTimerAtMs && turnTimer != null) {
                return;
            }
            if (turnTimer != null && at > turnTimerAtMs) {
                // A later deadline: the timer already set fires first and re-arms itself then.
                return;
            }
            if (turnTimer != null) {
                turnTimer.cancel(false);
            }
            turnTimerAtMs = at;
            turnTimer = at == Long.MAX_VALUE ? null
                    : scheduler.schedule(this::onTurnTimer, Math.max(0, at - clock.millis()), TimeUnit.MILLISECONDS);
        }

        synchronized void onTurnTimer() {
            turnTimer = null;
            turnTimerAtMs = Long.MAX_VALUE;
            if (phase == Phase.DONE) {
                return;
            }
            long now = clock.millis();
            if (phase == Phase.WAITING && now >= fillerAtMs) {
                bridge();
            }
            if (phase == Phase.BRIDGED && now >= giveUpAt()) {
                giveUp(FallbackReason.TIMEOUT, "no words by the first-words deadline",
                        new FirstChunkTimeoutException(now - event.receivedAtMs()));
                return;
            }
            if (phase == Phase.STREAMING && now >= stallAt()) {
                flushPending();
                giveUp(FallbackReason.STALL, "no chunk for " + (now - lastChunkAtMs) + " ms",
                        new StallException(now - lastChunkAtMs));
                return;
            }
            if (now >= capAtMs) {
                flushPending();
                // The hard cap says nothing about the backend's health: released, not recorded.
                running.forEach(Attempt::release);
                close(FallbackReason.MAX_ANSWER, "still streaming at the hard cap");
                return;
            }
            scheduleTurnTimer();
        }

        /** The first-words give-up: the deadline, or later while a tool runs within its own time limit. */
        private long giveUpAt() {
            return quietUntilMs > 0 ? Math.max(giveUpAtMs, quietUntilMs - marginMs) : giveUpAtMs;
        }

        /** When the words count as stalled: the stall limit after the last event, or the running tool's limit. */
        private long stallAt() {
            long stall = lastChunkAtMs + stallMs - marginMs;
            return quietUntilMs > 0 ? Math.max(stall, quietUntilMs - marginMs) : stall;
        }

        /** Ends the turn at a deadline while attempts may run: the one judged (the winner, else the oldest) fails. */
        private void giveUp(FallbackReason reason, String why, Throwable cause) {
            Attempt judged = winner != null ? winner : running.isEmpty() ? null : running.get(0);
            if (judged != null) {
                judged.recordFailure(clock.millis(), cause);
                retryContext.onError(new BackendResilience.NotRetriedException(why, cause));
            }
            close(reason, why);
        }

        private void bridge() {
            String line = nextFiller(turn.callId());
            emit(ResponseKind.FILLER, null, line, false);
            meters.counter(ResponderMetrics.FILLERS).increment();
            moveTo(Phase.BRIDGED);
        }

        private void flushPending() {
            cancelFlush();
            if (pending.length() > 0) {
                emit(ResponseKind.GENERATED, null, pending.toString(), false);
                pending.setLength(0);
            }
        }

        /** Ends the turn with the reason's closing line, after whatever the caller already heard. */
        private void close(FallbackReason reason, String why) {
            if (phase == Phase.DONE) {
                return;
            }
            if (retried != null) {
                // The turn ends on a failure while a retry was due: the failed attempt is this turn's judgement.
                retried.recordFailure(retriedAtMs, retriedCause);
                retried = null;
            }
            LOG.info("call {} response {}: closing line {} ({})", turn.callId(), turn.responseId(), reason.wireName(),
                    why);
            meters.counter(ResponderMetrics.FALLBACKS, ResponderMetrics.TAG_REASON, reason.wireName()).increment();
            complete(ResponseKind.FALLBACK, reason, SpokenText.joinClosing(heard, fallbackLines.get(reason)));
        }

        private void complete(ResponseKind kind, FallbackReason reason, String content) {
            emit(kind, reason == null ? null : reason.wireName(), content, true);
            Timer.builder(ResponderMetrics.TURN_LATENCY)
                    .tag(ResponderMetrics.TAG_KIND, kind.wireName())
                    .publishPercentiles(0.5, 0.99)
                    .publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(1))
                    .maximumExpectedValue(Duration.ofSeconds(60))
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
            if (phase == Phase.DONE) {
                return;
            }
            LOG.debug("call {} response {}: generation cancelled ({})", turn.callId(), turn.responseId(), outcome);
            turnOutcome(outcome);
            finish();
        }

        private void finish() {
            moveTo(Phase.DONE);
            cancelFlush();
            for (ScheduledFuture<?> timer : new ScheduledFuture<?>[] {turnTimer, retryTimer, hedgeTimer}) {
                if (timer != null) {
                    timer.cancel(false);
                }
            }
            turnTimer = null;
            retryTimer = null;
            hedgeTimer = null;
            // Still running when the turn ended (cancelled, superseded, cut): proved nothing about the backend.
            if (retried != null) {
                retried.release();
                retried = null;
            }
            for (Attempt attempt : running) {
                attempt.release();
                attempt.cancel();
            }
            running.clear();
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
            emitRecord(kind, reason, content, contentComplete, List.of(), null);
        }

        /**
         * Writes one record of the turn. The complete record carries the actions (the egress applies Retell's
         * precedence: end_call, then transfer, then digit); a record with frames carries the running tool's quiet
         * period.
         */
        private void emitRecord(ResponseKind kind, String reason, String content, boolean contentComplete,
                                List<AgentFrame> frames, Boolean noInterruption) {
            long now = clock.millis();
            AgentResponse response = new AgentResponse(AgentResponse.SCHEMA_VERSION, turn.callId(), turn.responseId(),
                    kind, reason, content, contentComplete, null, nextChunkIndex++, event.receivedAtMs(), now,
                    event.edgeNode());
            if (contentComplete) {
                response = actions.applyTo(response);
            }
            if (!frames.isEmpty()) {
                response = response.withFrames(frames, quietUntilMs > 0 ? quietUntilMs : null);
            }
            if (noInterruption != null) {
                response = response.withNoInterruptionAllowed(noInterruption);
            }
            heard.append(content);
            if (!firstWordsRecorded && !content.isEmpty()) {
                firstWordsRecorded = true;
                Timer.builder(ResponderMetrics.FIRST_WORDS_LATENCY)
                        .tag(ResponderMetrics.TAG_KIND, kind.wireName())
                        .publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofMillis(1))
                        .maximumExpectedValue(Duration.ofSeconds(60))
                        .register(meters)
                        .record(Math.max(0, now - event.receivedAtMs()), TimeUnit.MILLISECONDS);
            }
            write(response);
        }
    }

    /** The after-speech actions an answer asked for: end_call, or the first transfer, or the first digit. */
    private static final class Actions {
        boolean endCall;
        String transferNumber;
        Boolean showTransfereeAsCaller;
        String digit;

        /** Records {@code e} when it is an action (end_call, a transfer, a digit); false for any other event. */
        boolean take(AgentEvent e) {
            if (e instanceof AgentEvent.EndCall) {
                endCall = true;
            } else if (e instanceof AgentEvent.Transfer t) {
                if (transferNumber == null) {
                    transferNumber = t.number();
                    showTransfereeAsCaller = t.showTransfereeAsCaller();
                }
            } else if (e instanceof AgentEvent.PressDigit d) {
                if (digit == null) {
                    digit = d.digit();
                }
            } else {
                return false;
            }
            return true;
        }

        boolean none() {
            return !endCall && transferNumber == null && digit == null;
        }

        /** The complete record carrying the actions asked for (the egress applies Retell's precedence), if any. */
        AgentResponse applyTo(AgentResponse complete) {
            return none() ? complete : complete.withActions(endCall ? Boolean.TRUE : null, transferNumber,
                    showTransfereeAsCaller, digit);
        }
    }

    /** An attempt had no first chunk within {@code responder.first-chunk-timeout-ms}, or none by the deadline. */
    static final class FirstChunkTimeoutException extends TimeoutException {
        FirstChunkTimeoutException(long afterMs) {
            super("no first chunk after " + afterMs + " ms");
        }
    }

    /** The answer's chunks stopped for longer than {@code turn.stall-ms}. */
    static final class StallException extends TimeoutException {
        StallException(long forMs) {
            super("no chunk for " + forMs + " ms");
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
