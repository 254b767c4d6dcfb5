package io.callguard.egress;

import io.callguard.common.MetricTags;
import io.callguard.schemas.AgentResponse;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Names of every metric the egress records, Micrometer style (exported to Prometheus as
 * {@code callguard_turn_latency_seconds} and so on), with their tag keys and values.
 */
public final class EgressMetrics {

    /** Gauge: call sockets held by this node right now. */
    public static final String SOCKET_CONNECTIONS = "callguard.socket.connections";
    /** Counter: old sockets closed because a newer socket of the same call replaced them. */
    public static final String SOCKET_SUPERSEDED = "callguard.socket.superseded";
    /** Counter, tag {@link #TAG_MODE}: a call got another socket after its first one (or a redial connected). */
    public static final String SOCKET_RECONNECTS = "callguard.socket.reconnects";

    /**
     * Counter, tag {@link #TAG_WHEN}: sockets a draining node dropped (Retell reconnects to another node):
     * {@link #WHEN_BETWEEN_TURNS}, or {@link #WHEN_MID_TURN} when the drain timed out with the turn still open.
     */
    public static final String SOCKET_HANDED_OVER = "callguard.socket.handed-over";
    public static final String TAG_WHEN = "when";
    public static final String WHEN_BETWEEN_TURNS = "between_turns";
    public static final String WHEN_MID_TURN = "mid_turn";

    /** Counter: answers for a response id older than the call's latest request, dropped. */
    public static final String STALE_RESPONSES_DROPPED = "callguard.stale-responses.dropped";
    /** Counter: answers for calls whose socket another edge node holds, dropped. */
    public static final String RESPONSES_NOT_HELD = "callguard.responses.not-held";
    /** Counter, tag {@link #TAG_REASON}: answers dropped for another rule (unrequested id, after the turn completed, duplicate chunk). */
    public static final String RESPONSES_DROPPED = "callguard.responses.dropped";
    /** Counter: records on the responses topic that could not be read. */
    public static final String RESPONSES_INVALID = "callguard.responses.invalid";
    /**
     * Counter: owed answers re-sent on a new socket after a reconnect (whole answer or the part so far), including
     * those of a call that moved here from another node, kept from the records this node saw for it there.
     */
    public static final String RESPONSES_RESENT = "callguard.responses.resent";
    /**
     * Counter: turns asked right as a call's socket opened on this node for the first time (the call moved here
     * mid-turn), bridged at once rather than at the budget.
     */
    public static final String TURNS_TAKEN_OVER = "callguard.turns.taken-over";

    /** Counter, tag {@link #TAG_REASON}: fallbacks the edge itself sent. */
    public static final String FALLBACKS = "callguard.fallbacks";
    /** Timer, tag {@link #TAG_KIND}: budget start to the complete frame on the socket. */
    public static final String TURN_LATENCY = "callguard.turn.latency";
    /** Timer, tag {@link #TAG_KIND}: budget start to the first chunk of a streamed answer. */
    public static final String TURN_FIRST_CHUNK_LATENCY = "callguard.turn.first-chunk.latency";
    /**
     * Timer, tag {@link #TAG_KIND} (of the first frame: filler, generated, cached, fallback): budget start to the
     * turn's first non-empty frame on the socket, whatever it carries; what a caller hears as latency.
     */
    public static final String TURN_FIRST_WORDS_LATENCY = "callguard.turn.first-words.latency";
    /**
     * Counter, tags {@link #TAG_OUTCOME} ({@link #OUTCOME_WHOLE}, {@link #OUTCOME_BRIDGED}, {@link #OUTCOME_CLOSED})
     * and {@link #TAG_REASON} (the closing line's reason, {@link #closingReasonTag}; {@link #REASON_NONE} otherwise):
     * turns completed on the socket.
     */
    public static final String TURN_OUTCOMES = "callguard.turn.outcomes";
    /** {@link #TURN_OUTCOMES} outcome: the answer with no filler before it. */
    public static final String OUTCOME_WHOLE = "whole";
    /** {@link #TURN_OUTCOMES} outcome: a filler (the responder's or the edge's), then the answer. */
    public static final String OUTCOME_BRIDGED = "bridged";
    /** {@link #TURN_OUTCOMES} outcome: ended by a closing line (kind fallback). */
    public static final String OUTCOME_CLOSED = "closed";
    /** {@link #TAG_REASON} of a turn outcome that is not a closing line. */
    public static final String REASON_NONE = "none";
    /** Counter, tag {@link #TAG_KIND}: complete answers sent after the budget had run out. */
    public static final String TURN_OVER_BUDGET = "callguard.turn.over-budget";

    /**
     * Counter, tag {@link #TAG_TYPE} ({@code tool_call_invocation}, {@code tool_call_result}, {@code update_agent},
     * {@code metadata}): frames other than speech an answer carried, written to the socket.
     */
    public static final String AGENT_FRAMES_SENT = "callguard.agent-frames.sent";
    /** Counter, tag {@link #TAG_REASON} ({@link #REASON_INVALID}): frames of an answer that could not be sent. */
    public static final String AGENT_FRAMES_DROPPED = "callguard.agent-frames.dropped";
    /**
     * Counter, tags {@link #TAG_ACTION} ({@link #ACTION_END_CALL}, {@link #ACTION_TRANSFER}, {@link #ACTION_DIGIT})
     * and {@link #TAG_SCOPE} ({@link #SCOPE_TURN}, {@link #SCOPE_INTERRUPT}): after-speech actions put on a complete
     * frame (a re-sent complete frame counts again).
     */
    public static final String ACTIONS_SENT = "callguard.actions.sent";
    /** Counter: {@code agent_interrupt} frames (chunks) written. */
    public static final String INTERRUPTS_SENT = "callguard.interrupts.sent";

    /** Counter, tag {@link #TAG_OUTCOME}: dial-out connection attempts. */
    public static final String DIALOUT_ATTEMPTS = "callguard.dialout.attempts";
    /** Counter: dial-outs abandoned after {@code dialout.max-attempts} failed attempts in a row. */
    public static final String DIALOUT_EXHAUSTED = "callguard.dialout.exhausted";

    public static final String TAG_KIND = "kind";
    public static final String TAG_REASON = "reason";
    public static final String TAG_MODE = "mode";
    public static final String TAG_OUTCOME = "outcome";

    public static final String TAG_TYPE = "type";
    public static final String TAG_ACTION = "action";
    public static final String TAG_SCOPE = "scope";

    /** {@link #TAG_ACTION} values of {@link #ACTIONS_SENT}. */
    public static final String ACTION_END_CALL = "end_call";
    public static final String ACTION_TRANSFER = "transfer";
    public static final String ACTION_DIGIT = "digit";
    /** {@link #TAG_SCOPE} values of {@link #ACTIONS_SENT}. */
    public static final String SCOPE_TURN = "turn";
    public static final String SCOPE_INTERRUPT = "interrupt";
    /** {@link #AGENT_FRAMES_DROPPED} reason: an {@code agent_config} Retell would refuse (mistyped, out of range). */
    public static final String REASON_INVALID = "invalid";
    /** {@link #RESPONSES_DROPPED} reason: an interrupt chunk for an older interrupt id than the call's latest. */
    public static final String REASON_STALE_INTERRUPT = "stale_interrupt";
    /**
     * {@link #RESPONSES_DROPPED} reason: an interrupt or call-level record for a call whose socket is detached here
     * (they belong to the moment: not held for a reconnect).
     */
    public static final String REASON_NO_SOCKET = "no_socket";

    /** {@link #TAG_REASON} of a fallback the edge watchdog sent because the budget ran out. */
    public static final String REASON_EDGE_TIMEOUT = "edge_timeout";
    /** {@link #TAG_REASON} of a begin message the edge closed with the busy line (the call was known refused). */
    public static final String REASON_BUSY = "busy";
    /** {@link #TAG_REASON} of a chunk that arrived after its turn was complete. */
    public static final String REASON_AFTER_COMPLETE = "after_complete";
    /** {@link #TAG_REASON} of an answer for a response id the current socket has not requested. */
    public static final String REASON_UNREQUESTED = "unrequested";
    /** {@link #TAG_REASON} of a chunk whose index was already delivered. */
    public static final String REASON_DUPLICATE_CHUNK = "duplicate_chunk";
    /** {@link #RESPONSES_DROPPED} reason: a filler that came after the turn's first words or the edge's filler. */
    public static final String REASON_LATE_FILLER = "late_filler";
    /**
     * Counter, tag {@link #TAG_AT} ({@link #AT_BEGIN}, {@link #AT_RECONNECT}): busy lines (with {@code end_call}) the
     * edge said itself as a socket's begin message, the call being known refused from the shared call state: on the
     * call's first begin, or on a later socket's (a reconnect after id 0 completed). Not on the responses topic.
     */
    public static final String EDGE_BUSY = "callguard.edge.busy";
    public static final String TAG_AT = "at";
    /** {@link #EDGE_BUSY} at: the call's begin message (id 0 not completed before). */
    public static final String AT_BEGIN = "begin";
    /** {@link #EDGE_BUSY} at: a later socket of the call, after id 0 completed on an earlier one. */
    public static final String AT_RECONNECT = "reconnect";
    /** Counter: fillers the edge watchdog said itself (the budget passed with nothing said). */
    public static final String EDGE_FILLERS = "callguard.edge.fillers";
    /** {@link #TAG_MODE} of a socket Retell dialled in. */
    public static final String MODE_DIAL_IN = "dial_in";
    /** {@link #TAG_MODE} of a socket callguard dialled out. */
    public static final String MODE_DIAL_OUT = "dial_out";
    /** {@link #TAG_OUTCOME} values of {@link #DIALOUT_ATTEMPTS}. */
    public static final String OUTCOME_CONNECTED = "connected";
    public static final String OUTCOME_FAILED = "failed";

    /** {@link #TAG_REASON} of a closing line whose record gave no reason. */
    public static final String REASON_UNKNOWN = "unknown";
    /**
     * The closing-line reasons that get their own {@link #TAG_REASON} on {@link #TURN_OUTCOMES}: the responder's
     * ({@link AgentResponse#REASONS}) and the edge's own ({@link #REASON_EDGE_TIMEOUT}, {@link #REASON_BUSY}).
     */
    public static final Set<String> CLOSING_REASONS = Stream.concat(AgentResponse.REASONS.stream(),
            Stream.of(REASON_EDGE_TIMEOUT, REASON_BUSY)).collect(Collectors.toUnmodifiableSet());

    private EgressMetrics() {
    }

    /**
     * The {@link #TAG_REASON} of a closing line: its reason when one of {@link #CLOSING_REASONS},
     * {@link #REASON_UNKNOWN} when it has none, else {@link MetricTags#OTHER} (the reason is read off a topic, so
     * anyone who can write there would otherwise choose the series).
     */
    public static String closingReasonTag(String reason) {
        return reason == null || reason.isEmpty() ? REASON_UNKNOWN : MetricTags.oneOf(reason, CLOSING_REASONS);
    }
}
