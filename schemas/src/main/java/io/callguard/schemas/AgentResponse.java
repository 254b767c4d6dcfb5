package io.callguard.schemas;

import java.util.List;
import java.util.Set;
import java.util.Objects;

/**
 * An answer (or one chunk of it) owed to Retell for a turn, on {@code callguard.responses} keyed by call id.
 *
 * @param schemaVersion       always {@link #SCHEMA_VERSION} when written by this code
 * @param callId              the call
 * @param responseId          Retell's {@code response_id} this answers (0 for the begin message)
 * @param kind                generated, cached, fallback, busy or filler
 * @param reason              why a fallback or busy answer was chosen ({@code timeout}, {@code circuit_open},
 *                            {@code bulkhead_full}, {@code error}, {@code stall},
 *                            {@code max_answer}, {@code capacity}, ...); null otherwise
 * @param content             the text to speak (may be empty)
 * @param contentComplete     true on the last chunk of the answer
 * @param endCall             hang up after speaking, when true
 * @param chunkIndex          0-based position of this chunk within the answer
 * @param requestReceivedAtMs when the edge received the request this answers (budget start)
 * @param createdAtMs         when this record was produced
 * @param edgeNode            the edge node that holds the call's socket, when known
 * @param transferNumber      transfer the call to this number once the answer is spoken (version 2); null: no
 * @param showTransfereeAsCaller with a transfer: show the caller's number to the transferee (version 2)
 * @param digitToPress        press this DTMF digit once the answer is spoken (version 2); null: no
 * @param noInterruptionAllowed the caller cannot interrupt this record's content (version 2); null: absent
 * @param scope               {@value #SCOPE_TURN} (null in version 1 records: the same), {@value #SCOPE_INTERRUPT}
 *                            (an {@code agent_interrupt} chunk: the agent speaks unprompted; {@code responseId} is
 *                            then the call's latest response id when it was produced, for information) or
 *                            {@value #SCOPE_CALL} (frames outside any turn: {@code update_agent}, {@code metadata})
 * @param interruptId         the {@code interrupt_id}, with scope {@value #SCOPE_INTERRUPT}; null otherwise
 * @param frames              non-speech frames sent, in order, before this record's content (tool calls and
 *                            their results, agent updates, metadata); empty in version 1 records
 * @param quietUntilMs        the answer may be quiet (no chunk) until this epoch ms without counting as a stall:
 *                            a tool it invoked runs up to its own time limit; null: the usual stall limit
 */
public record AgentResponse(
        int schemaVersion,
        String callId,
        long responseId,
        ResponseKind kind,
        String reason,
        String content,
        boolean contentComplete,
        Boolean endCall,
        int chunkIndex,
        long requestReceivedAtMs,
        long createdAtMs,
        String edgeNode,
        String transferNumber,
        Boolean showTransfereeAsCaller,
        String digitToPress,
        Boolean noInterruptionAllowed,
        String scope,
        Long interruptId,
        List<AgentFrame> frames,
        Long quietUntilMs) {

    /** Version 2 adds the actions other than end_call, agent interrupts, frames and quiet periods. */
    public static final int SCHEMA_VERSION = 2;

    /** The {@code reason} of a busy answer to a refused call whose rejection reason is not known. */
    public static final String REASON_CAPACITY = "capacity";
    /**
     * Every {@code reason} the responder writes: why a closing line was said (the responder's fallback reasons) and
     * why a busy line was (the call's rejection reason, or {@value #REASON_CAPACITY}). Readers that count by reason
     * (metric tags, dashboards) count any other value as one "other", so a record on the topic cannot grow them.
     */
    public static final Set<String> REASONS = Set.of("timeout", "circuit_open", "bulkhead_full", "error", "stall",
            "max_answer", "admission_unknown", REASON_CAPACITY, CallState.REJECTED_QUEUE_FULL,
            CallState.REJECTED_QUEUE_TIMEOUT);

    /** A record of a turn's answer ({@code response} frames), the default. */
    public static final String SCOPE_TURN = "turn";
    /** A chunk of an {@code agent_interrupt}. */
    public static final String SCOPE_INTERRUPT = "interrupt";
    /** Frames that belong to the call, not to a turn. */
    public static final String SCOPE_CALL = "call";

    public AgentResponse {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(content, "content");
        if (responseId < 0) {
            throw new IllegalArgumentException("responseId must be >= 0, was " + responseId);
        }
        scope = scope == null ? SCOPE_TURN : scope;
        if (!SCOPE_TURN.equals(scope) && !SCOPE_INTERRUPT.equals(scope) && !SCOPE_CALL.equals(scope)) {
            throw new IllegalArgumentException("unknown scope: " + scope);
        }
        if (SCOPE_INTERRUPT.equals(scope) != (interruptId != null)) {
            throw new IllegalArgumentException("interruptId is set exactly when scope is interrupt");
        }
        if (interruptId != null && interruptId < 0) {
            throw new IllegalArgumentException("interruptId must be >= 0, was " + interruptId);
        }
        frames = frames == null ? List.of() : List.copyOf(frames);
    }

    /** A record of a turn's answer with no action but {@code end_call}, no frames: what version 1 could say. */
    public AgentResponse(int schemaVersion, String callId, long responseId, ResponseKind kind, String reason,
            String content, boolean contentComplete, Boolean endCall, int chunkIndex, long requestReceivedAtMs,
            long createdAtMs, String edgeNode) {
        this(schemaVersion, callId, responseId, kind, reason, content, contentComplete, endCall, chunkIndex,
                requestReceivedAtMs, createdAtMs, edgeNode, null, null, null, null, SCOPE_TURN, null, List.of(), null);
    }

    /** Whether this record is part of a turn's answer (not an interrupt, not call-level frames). */
    public boolean inTurn() {
        return SCOPE_TURN.equals(scope);
    }

    /** A copy with the after-speech actions set (each null for none). */
    public AgentResponse withActions(Boolean endCall, String transferNumber, Boolean showTransfereeAsCaller,
            String digitToPress) {
        return new AgentResponse(schemaVersion, callId, responseId, kind, reason, content, contentComplete, endCall,
                chunkIndex, requestReceivedAtMs, createdAtMs, edgeNode, transferNumber, showTransfereeAsCaller,
                digitToPress, noInterruptionAllowed, scope, interruptId, frames, quietUntilMs);
    }

    /** A copy with {@code no_interruption_allowed} set (null for absent). */
    public AgentResponse withNoInterruptionAllowed(Boolean noInterruption) {
        return new AgentResponse(schemaVersion, callId, responseId, kind, reason, content, contentComplete, endCall,
                chunkIndex, requestReceivedAtMs, createdAtMs, edgeNode, transferNumber, showTransfereeAsCaller,
                digitToPress, noInterruption, scope, interruptId, frames, quietUntilMs);
    }

    /** A copy carrying {@code frames} before its content, quiet until {@code quietUntilMs} (null: not). */
    public AgentResponse withFrames(List<AgentFrame> newFrames, Long quietUntil) {
        return new AgentResponse(schemaVersion, callId, responseId, kind, reason, content, contentComplete, endCall,
                chunkIndex, requestReceivedAtMs, createdAtMs, edgeNode, transferNumber, showTransfereeAsCaller,
                digitToPress, noInterruptionAllowed, scope, interruptId, newFrames, quietUntil);
    }

    /** A copy in another scope: {@value #SCOPE_INTERRUPT} with its id, or {@value #SCOPE_CALL} (id null). */
    public AgentResponse withScope(String newScope, Long newInterruptId) {
        return new AgentResponse(schemaVersion, callId, responseId, kind, reason, content, contentComplete, endCall,
                chunkIndex, requestReceivedAtMs, createdAtMs, edgeNode, transferNumber, showTransfereeAsCaller,
                digitToPress, noInterruptionAllowed, newScope, newInterruptId, frames, quietUntilMs);
    }
}
