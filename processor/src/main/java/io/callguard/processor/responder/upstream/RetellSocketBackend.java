package io.callguard.processor.responder.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.AgentBackendException;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.Turn;
import io.github.resilience4j.core.IntervalFunction;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code retell-socket} agent backend: callguard in front of a team's existing custom-LLM WebSocket server,
 * unmodified. For each call it opens one socket to {@code agent.upstream.url-template} and plays Retell's side of
 * the protocol (retell-protocol.md section 2): it forwards {@code call_details} and {@code update_only}, sends
 * {@code response_required} / {@code reminder_required} with the whole transcript, keeps the socket alive with
 * pings when the upstream's config asks for {@code auto_reconnect}, and relays what the upstream sends as
 * {@link AgentEvent}s.
 *
 * <p>What happens to each frame the upstream sends:
 * <ul>
 *   <li>{@code config}: decides whether {@code call_details} is sent (now, or when it arrives), whether pings
 *       are sent every 2 s (no frame at all for 5 s then counts as a dead upstream) and whether requests keep their
 *       {@code transcript_with_tool_calls}; none within {@code CONFIG_WAIT_MS}: Retell's defaults (all three off);</li>
 *   <li>{@code response} for the open turn's id: {@link AgentEvent.Text} (non-empty content), then
 *       {@link AgentEvent.EndCall}, {@link AgentEvent.Transfer}, {@link AgentEvent.PressDigit} for its flags;
 *       {@code content_complete:true} completes the turn. {@code response_id} 0 goes to {@link #begin}'s sink (kept
 *       until {@code begin} is called, when it comes first). Any other id is stale: dropped and counted;</li>
 *   <li>{@code tool_call_invocation} / {@code tool_call_result}: events of the open turn (dropped without one);</li>
 *   <li>{@code agent_interrupt}: {@link AgentEvent.Interrupt} on the {@link #unprompted} channel;</li>
 *   <li>{@code update_agent} / {@code metadata}: the open turn's events, or unprompted without an open turn;</li>
 *   <li>{@code ping_pong}: a reply to a ping of ours is taken as such; one of the upstream's own is echoed;</li>
 *   <li>unknown types, unknown fields, unparsable or oversized frames: dropped (fields: ignored), counted, logged
 *       at debug; the socket stays open, as with Retell.</li>
 * </ul>
 *
 * <p>When the upstream closes its socket with 1000, a server's deliberate hang-up in Retell's protocol, the call
 * ends: the open turn (or begin message) completes with {@link AgentEvent.EndCall} after what was said (none when it
 * already carried an end_call or a transfer), between turns an {@link AgentEvent.Interrupt} with end_call goes to the
 * unprompted channel, nothing reconnects, and a later turn of the call is answered with end_call alone.
 *
 * <p>Requests and {@code update_only} go to the upstream as Retell sent them (whole utterances with their
 * {@code words[]}, unknown fields kept), but {@code transcript_with_tool_calls} only to an upstream whose config asked
 * for it: the edge asks Retell for it on every upstream's behalf ({@code socket.transcript-with-tool-calls}).
 *
 * <p>When the upstream drops (any other close, error, dead pings) the call reconnects with randomized exponential backoff,
 * at most {@code agent.upstream.reconnect.max-attempts} times per turn, and re-sends {@code call_details} (when
 * the new socket's config asks for it) and the open request, same {@code response_id} and whole transcript, so
 * nothing is lost. When the attempts are spent the open turn fails with {@link AgentBackendException}, for the
 * responder's breaker and fallback; the next turn connects again.
 *
 * <p>Thread-safety: each call's state is guarded by the call's own lock; sinks are called under it, in frame
 * order, on the HTTP client's or the scheduler's threads, and must not block. The URL is never logged whole (a
 * secret may be in its query string).
 */
public final class RetellSocketBackend implements AgentBackend {

    private static final Logger LOG = LoggerFactory.getLogger(RetellSocketBackend.class);
    /** Randomization of each reconnect backoff around its nominal value. */
    static final double BACKOFF_RANDOMIZATION = 0.5;
    private static final long CLOSE_TIMEOUT_MS = 5_000;

    private final ResponderConfig config;
    private final HttpClient http;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final IntervalFunction backoff;
    /** The executor this backend made for the HTTP client, shut down by {@link #close()}; null when given one. */
    private final ExecutorService ownExecutor;
    private final Counters counters = new Counters();
    /** Guarded by itself: calls by recency of use, oldest first. */
    private final LinkedHashMap<String, UpstreamCall> calls = new LinkedHashMap<>(16, 0.75f, true);
    /** Guarded by {@link #calls}: ids of calls that ended, so a late event does not open a socket again. */
    private final LinkedHashMap<String, Boolean> ended = new LinkedHashMap<>();
    private volatile BiConsumer<String, AgentEvent> unprompted;
    private volatile boolean closed;

    /**
     * A backend with its own HTTP client threads, stopped by {@link #close()}.
     *
     * @param scheduler runs pings, the dead-upstream timer and reconnect backoffs; owned by the caller
     */
    public RetellSocketBackend(ResponderConfig config, ScheduledExecutorService scheduler) {
        this(config, scheduler, Clock.systemUTC(), null);
    }

    /**
     * A backend on given threads and clock.
     *
     * @param executor runs the WebSocket client's callbacks (and so the sinks); null makes one, owned by this backend
     * @param clock    the timestamps of pings
     */
    public RetellSocketBackend(ResponderConfig config, ScheduledExecutorService scheduler, Clock clock,
            ExecutorService executor) {
        this.config = Objects.requireNonNull(config, "config");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.ownExecutor = executor == null ? Executors.newCachedThreadPool(daemonThreads()) : null;
        this.http = HttpClient.newBuilder()
                .executor(executor == null ? ownExecutor : executor)
                .connectTimeout(Duration.ofMillis(config.upstreamConnectTimeoutMs()))
                .build();
        this.backoff = IntervalFunction.ofExponentialRandomBackoff(config.upstreamReconnectInitialBackoffMs(), 2.0,
                BACKOFF_RANDOMIZATION, config.upstreamReconnectMaxBackoffMs());
    }

    @Override
    public boolean saysBeginMessage() {
        return true;
    }

    @Override
    public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> sink) {
        UpstreamCall call = call(turn.callId());
        if (call == null) {
            return CompletableFuture.failedFuture(new AgentBackendException("call " + turn.callId()
                    + " has ended or the backend is closed"));
        }
        return call.generate(turn, sink);
    }

    @Override
    public CompletableFuture<Void> begin(Turn first, Consumer<AgentEvent> sink) {
        UpstreamCall call = call(first.callId());
        if (call == null) {
            return CompletableFuture.completedFuture(null);
        }
        return call.begin(sink);
    }

    /** {@code call_details} and {@code update_only} are forwarded (opening the socket if needed); others ignored. */
    @Override
    public void callEvent(String callId, String interactionType, JsonNode payload) {
        if (!UpstreamCall.FORWARDED.contains(interactionType) || payload == null) {
            return;
        }
        UpstreamCall call = call(callId);
        if (call != null) {
            call.callEvent(interactionType, payload);
        }
    }

    /** Closes the call's socket with 1000 and forgets the call; a later event for it opens nothing. */
    @Override
    public void callEnded(String callId) {
        UpstreamCall call;
        synchronized (calls) {
            call = calls.remove(callId);
            ended.put(callId, Boolean.TRUE);
            trim(ended);
        }
        if (call != null) {
            call.end("call ended");
        }
    }

    /** Closes the call's socket with 1000 and forgets the call; unlike an end, a later event for it opens one again. */
    @Override
    public void callMoved(String callId) {
        UpstreamCall call;
        synchronized (calls) {
            call = calls.remove(callId);
        }
        if (call != null) {
            call.end("call moved to another responder");
        }
    }

    @Override
    public void unprompted(BiConsumer<String, AgentEvent> sink) {
        this.unprompted = sink;
    }

    /** Closes every call's socket with 1000 and stops this backend's own threads. */
    @Override
    public void close() {
        closed = true;
        List<UpstreamCall> open;
        synchronized (calls) {
            open = new ArrayList<>(calls.values());
            calls.clear();
        }
        open.forEach(call -> call.end("backend closed"));
        if (ownExecutor != null) {
            ownExecutor.shutdown();
            try {
                if (!ownExecutor.awaitTermination(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                    ownExecutor.shutdownNow();
                }
            } catch (InterruptedException e) {
                ownExecutor.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** What this backend dropped or did, for tests and diagnostics. */
    public Counters counters() {
        return counters;
    }

    /** Calls with an upstream socket (open, opening or reconnecting) tracked now. */
    public int trackedCalls() {
        synchronized (calls) {
            return calls.size();
        }
    }

    /** The call's state, created (and its socket opened) on first use; null once it ended or when closed. */
    private UpstreamCall call(String callId) {
        UpstreamCall evicted = null;
        UpstreamCall call;
        synchronized (calls) {
            if (closed || ended.containsKey(callId)) {
                return null;
            }
            call = calls.get(callId);
            if (call == null) {
                call = new UpstreamCall(callId, uri(callId), this);
                calls.put(callId, call);
                if (calls.size() > config.upstreamMaxCalls()) {
                    Iterator<UpstreamCall> oldest = calls.values().iterator();
                    evicted = oldest.next();
                    oldest.remove();
                }
            }
        }
        if (evicted != null) {
            counters.evictedCalls.increment();
            LOG.info("upstream socket of call {} closed: more than {} calls tracked ({})", evicted.callId(),
                    config.upstreamMaxCalls(), ResponderConfig.UPSTREAM_MAX_CALLS_CONFIG);
            evicted.end("too many calls");
        }
        return call;
    }

    private URI uri(String callId) {
        String segment = URLEncoder.encode(callId, StandardCharsets.UTF_8).replace("+", "%20");
        return URI.create(config.upstreamUrlTemplate().replace(ResponderConfig.UPSTREAM_CALL_ID_PLACEHOLDER, segment));
    }

    private void trim(Map<String, Boolean> recent) {
        Iterator<String> oldest = recent.keySet().iterator();
        while (recent.size() > config.upstreamMaxCalls() && oldest.hasNext()) {
            oldest.next();
            oldest.remove();
        }
    }

    // What the calls share.

    ResponderConfig config() {
        return config;
    }

    HttpClient http() {
        return http;
    }

    ScheduledExecutorService scheduler() {
        return scheduler;
    }

    Clock clock() {
        return clock;
    }

    /** The wait before reconnect number {@code attempt} (1 for the first). */
    long backoffMs(int attempt) {
        return backoff.apply(attempt);
    }

    /** Passes an event said outside any turn on, or drops and counts it when no one listens. */
    void unprompted(String callId, AgentEvent event) {
        BiConsumer<String, AgentEvent> sink = unprompted;
        if (sink == null) {
            counters.droppedFrames.increment();
            LOG.debug("call {}: no unprompted channel set, dropped {}", callId, event.getClass().getSimpleName());
            return;
        }
        sink.accept(callId, event);
    }

    private static java.util.concurrent.ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "callguard-upstream-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Counts of what the backend dropped or did; thread-safe. */
    public static final class Counters {
        final LongAdder staleResponses = new LongAdder();
        final LongAdder droppedFrames = new LongAdder();
        final LongAdder invalidFrames = new LongAdder();
        final LongAdder unknownFrames = new LongAdder();
        final LongAdder reconnects = new LongAdder();
        final LongAdder pingsSent = new LongAdder();
        final LongAdder evictedCalls = new LongAdder();
        final LongAdder hangUps = new LongAdder();

        /** Responses for an id other than the open turn's (or the begin message's), dropped. */
        public long staleResponses() {
            return staleResponses.sum();
        }

        /** Usable frames with nowhere to go (a tool frame outside a turn, no unprompted channel), dropped. */
        public long droppedFrames() {
            return droppedFrames.sum();
        }

        /** Unparsable, mistyped, binary or oversized frames, dropped. */
        public long invalidFrames() {
            return invalidFrames.sum();
        }

        /** Frames of a type this backend does not know, and known frames with unknown fields (kept). */
        public long unknownFrames() {
            return unknownFrames.sum();
        }

        /** Reconnects started after the upstream dropped or could not be reached. */
        public long reconnects() {
            return reconnects.sum();
        }

        /** Keep-alive pings sent. */
        public long pingsSent() {
            return pingsSent.sum();
        }

        /** Calls whose socket was closed because too many calls were tracked. */
        public long evictedCalls() {
            return evictedCalls.sum();
        }

        /** Calls the upstream hung up by closing its socket with 1000 (ended, not reconnected). */
        public long hangUps() {
            return hangUps.sum();
        }

        /**
         * Registers the counts as {@value #METRIC} (tag {@code event}, a fixed set) and the tracked calls as
         * {@value #TRACKED}.
         */
        void bindTo(MeterRegistry meters, RetellSocketBackend backend) {
            Map<String, LongAdder> events = Map.of("stale_response", staleResponses, "dropped_frame", droppedFrames,
                    "invalid_frame", invalidFrames, "unknown_frame", unknownFrames, "reconnect", reconnects,
                    "ping_sent", pingsSent, "evicted_call", evictedCalls, "upstream_hangup", hangUps);
            events.forEach((event, adder) -> FunctionCounter.builder(METRIC, adder, LongAdder::sum)
                    .tag("event", event).description("retell-socket upstream events").register(meters));
            Gauge.builder(TRACKED, backend, RetellSocketBackend::trackedCalls)
                    .description("calls with an upstream socket").register(meters);
        }

        public static final String METRIC = "callguard.upstream.events";
        public static final String TRACKED = "callguard.upstream.calls";
    }

    /** Exports this backend's counters to {@code meters}; once, after construction. */
    public RetellSocketBackend bindTo(MeterRegistry meters) {
        counters.bindTo(meters, this);
        return this;
    }
}
