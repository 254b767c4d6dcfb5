package io.callguard.egress.internal;

import static io.callguard.egress.EgressMetrics.*;

import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.ResponseKind;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The egress's meters, registered once; names come from {@link io.callguard.egress.EgressMetrics}. */
public final class EgressMeters {

    private final MeterRegistry registry;
    private final Map<ResponseKind, Timer> turnLatency = new EnumMap<>(ResponseKind.class);
    private final Map<ResponseKind, Timer> firstChunkLatency = new EnumMap<>(ResponseKind.class);
    private final Map<ResponseKind, Timer> firstWordsLatency = new EnumMap<>(ResponseKind.class);
    private final Map<ResponseKind, Counter> overBudget = new EnumMap<>(ResponseKind.class);
    private final Counter stale;
    private final Counter notHeld;
    private final Counter invalid;
    private final Counter resent;
    private final Counter takenOver;
    private final Counter superseded;
    private final Counter edgeTimeoutFallbacks;
    private final Counter edgeFillers;
    private final Counter edgeBusyAtBegin;
    private final Counter edgeBusyAtReconnect;
    private final Counter dialOutExhausted;
    private final Map<String, Counter> agentFramesSent = new HashMap<>();
    private final Counter agentFramesInvalid;
    private final Counter interruptsSent;

    public EgressMeters(MeterRegistry registry) {
        this.registry = registry;
        for (ResponseKind kind : ResponseKind.values()) {
            turnLatency.put(kind, latencyTimer(TURN_LATENCY, "Budget start to the complete answer on the socket",
                    kind));
            firstChunkLatency.put(kind, latencyTimer(TURN_FIRST_CHUNK_LATENCY,
                    "Budget start to the first chunk of a streamed answer on the socket", kind));
            firstWordsLatency.put(kind, latencyTimer(TURN_FIRST_WORDS_LATENCY,
                    "Budget start to the turn's first non-empty frame on the socket (filler or words)", kind));
            overBudget.put(kind, Counter.builder(TURN_OVER_BUDGET).tag(TAG_KIND, kind.wireName())
                    .description("Complete answers sent after the turn budget").register(registry));
        }
        stale = registry.counter(STALE_RESPONSES_DROPPED);
        notHeld = registry.counter(RESPONSES_NOT_HELD);
        invalid = registry.counter(RESPONSES_INVALID);
        resent = registry.counter(RESPONSES_RESENT);
        takenOver = registry.counter(TURNS_TAKEN_OVER);
        superseded = registry.counter(SOCKET_SUPERSEDED);
        edgeTimeoutFallbacks = registry.counter(FALLBACKS, TAG_REASON, REASON_EDGE_TIMEOUT);
        edgeFillers = registry.counter(EDGE_FILLERS);
        edgeBusyAtBegin = registry.counter(EDGE_BUSY, TAG_AT, AT_BEGIN);
        edgeBusyAtReconnect = registry.counter(EDGE_BUSY, TAG_AT, AT_RECONNECT);
        dialOutExhausted = registry.counter(DIALOUT_EXHAUSTED);
        for (String type : List.of(AgentFrame.TOOL_CALL_INVOCATION, AgentFrame.TOOL_CALL_RESULT,
                AgentFrame.UPDATE_AGENT, AgentFrame.METADATA)) {
            agentFramesSent.put(type, registry.counter(AGENT_FRAMES_SENT, TAG_TYPE, type));
        }
        agentFramesInvalid = registry.counter(AGENT_FRAMES_DROPPED, TAG_REASON, REASON_INVALID);
        interruptsSent = registry.counter(INTERRUPTS_SENT);
        registry.counter(TURN_OUTCOMES, TAG_OUTCOME, OUTCOME_WHOLE, TAG_REASON, REASON_NONE);
        registry.counter(TURN_OUTCOMES, TAG_OUTCOME, OUTCOME_BRIDGED, TAG_REASON, REASON_NONE);
    }

    private Timer latencyTimer(String name, String description, ResponseKind kind) {
        return Timer.builder(name).tag(TAG_KIND, kind.wireName()).description(description)
                .publishPercentiles(0.5, 0.99, 0.999).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** A complete frame went out; over budget is counted only when {@code countOverBudget}. */
    void completed(ResponseKind kind, long startMs, long sentAtMs, long budgetMs, boolean countOverBudget) {
        if (startMs <= 0) {
            return;
        }
        long elapsed = Math.max(0, sentAtMs - startMs);
        turnLatency.get(kind).record(Duration.ofMillis(elapsed));
        if (countOverBudget && elapsed > budgetMs) {
            overBudget.get(kind).increment();
        }
    }

    /** A turn's first non-empty frame went out; {@code kind} is what it carried. */
    void firstWords(ResponseKind kind, long startMs, long sentAtMs) {
        if (startMs > 0) {
            firstWordsLatency.get(kind).record(Duration.ofMillis(Math.max(0, sentAtMs - startMs)));
        }
    }

    /**
     * A turn's complete frame went out: a closing line (fallback or busy kind) counts as closed with its reason, an
     * answer as bridged when a filler came first, else whole. The begin message ({@code startMs} 0) is no turn.
     */
    void outcome(ResponseKind kind, boolean fillerSaid, String reason, long startMs) {
        if (startMs <= 0) {
            return;
        }
        if (kind == ResponseKind.FALLBACK || kind == ResponseKind.BUSY) {
            registry.counter(TURN_OUTCOMES, TAG_OUTCOME, OUTCOME_CLOSED, TAG_REASON, closingReasonTag(reason))
                    .increment();
        } else {
            registry.counter(TURN_OUTCOMES, TAG_OUTCOME, fillerSaid ? OUTCOME_BRIDGED : OUTCOME_WHOLE,
                    TAG_REASON, REASON_NONE).increment();
        }
    }

    void firstChunk(ResponseKind kind, long startMs, long sentAtMs) {
        if (startMs > 0) {
            firstChunkLatency.get(kind).record(Duration.ofMillis(Math.max(0, sentAtMs - startMs)));
        }
    }

    /** A frame of {@code type} (one of {@link AgentFrame}'s four; nothing else is counted) was written. */
    void agentFrameSent(String type) {
        Counter counter = agentFramesSent.get(type);
        if (counter != null) {
            counter.increment();
        }
    }

    void agentFrameInvalid() {
        agentFramesInvalid.increment();
    }

    /** An action went out; both tags are this package's constants, never input. */
    void actionSent(String action, String scope) {
        registry.counter(ACTIONS_SENT, TAG_ACTION, action, TAG_SCOPE, scope).increment();
    }

    void interruptSent() {
        interruptsSent.increment();
    }

    void edgeTimeoutFallback() {
        edgeTimeoutFallbacks.increment();
    }

    /** The edge said the busy line itself as a socket's begin: the call's first begin, or a later socket's. */
    void edgeBusy(boolean firstBegin) {
        (firstBegin ? edgeBusyAtBegin : edgeBusyAtReconnect).increment();
    }

    void edgeFiller() {
        edgeFillers.increment();
    }

    void stale() {
        stale.increment();
    }

    void notHeld() {
        notHeld.increment();
    }

    void dropped(String reason) {
        registry.counter(RESPONSES_DROPPED, TAG_REASON, reason).increment();
    }

    public void invalid() {
        invalid.increment();
    }

    void resent() {
        resent.increment();
    }

    void takenOver() {
        takenOver.increment();
    }

    void superseded() {
        superseded.increment();
    }

    void handedOver(String when) {
        registry.counter(SOCKET_HANDED_OVER, TAG_WHEN, when).increment();
    }

    public void reconnect(String mode) {
        registry.counter(SOCKET_RECONNECTS, TAG_MODE, mode).increment();
    }

    public void dialOutAttempt(String outcome) {
        registry.counter(DIALOUT_ATTEMPTS, TAG_OUTCOME, outcome).increment();
    }

    public void dialOutExhausted() {
        dialOutExhausted.increment();
    }
}
