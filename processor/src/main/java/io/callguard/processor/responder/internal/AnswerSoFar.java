package io.callguard.processor.responder.internal;

import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import java.util.Optional;

/**
 * What the responder wrote for a call's latest turn, kept as one record so a socket that moved (a reconnect, perhaps
 * to another edge node) can be caught up. Every edge node reads every answer but delivers only what it holds, so the
 * records written while the socket was moving reach nobody: the old node holds them for a socket that will not come
 * back, the new node's socket registered after they passed. Only the words and the actions are kept, as the
 * egress's own catch-up on a reconnect does: tool frames and agent updates belong to their moment.
 *
 * <p>Thread-safe: guarded by its own monitor, taken last (never while holding it does it take another lock).
 */
final class AnswerSoFar {

    private final long responseId;
    private final long requestReceivedAtMs;
    /** The call's socket generation the answer was last addressed to; a newer one means the socket moved since. */
    private int socketGeneration;
    private final StringBuilder content = new StringBuilder();
    private int lastChunk = -1;
    private boolean complete;
    private ResponseKind kind = ResponseKind.FILLER;
    private String reason;
    private Boolean endCall;
    private String transferNumber;
    private Boolean showTransfereeAsCaller;
    private String digitToPress;

    /**
     * @param socketGeneration the call's socket generation when the turn was asked
     */
    AnswerSoFar(long responseId, long requestReceivedAtMs, int socketGeneration) {
        this.responseId = responseId;
        this.requestReceivedAtMs = requestReceivedAtMs;
        this.socketGeneration = socketGeneration;
    }

    long responseId() {
        return responseId;
    }

    /** Adds one record written for the call; other turns', other scopes', repeated chunks and chunks after the end are not the turn's. */
    synchronized void add(AgentResponse record) {
        if (!record.inTurn() || record.responseId() != responseId || complete || record.chunkIndex() <= lastChunk) {
            return;
        }
        content.append(record.content());
        lastChunk = record.chunkIndex();
        if (record.kind() != ResponseKind.FILLER) {
            kind = record.kind();
        }
        if (record.contentComplete()) {
            complete = true;
            reason = record.reason();
            endCall = record.endCall();
            transferNumber = record.transferNumber();
            showTransfereeAsCaller = record.showTransfereeAsCaller();
            digitToPress = record.digitToPress();
        }
    }

    /**
     * The answer so far, for a socket of generation {@code generation}, when it was not addressed to that socket yet
     * and {@code includeComplete} allows it: everything said as one record, under the last chunk index written (an
     * edge that got those chunks drops it as a duplicate; one that got none takes it, and the chunks still to come
     * follow it), complete with the answer's actions when it is complete. Empty when nothing was written, when the
     * answer was already addressed to this generation, or when it is complete and {@code includeComplete} is false.
     *
     * @param includeComplete whether a complete answer is re-sent: only when Retell asked for the turn again on the
     *                        new socket; an answer completed before a reconnect may have been heard on the old one
     */
    synchronized Optional<AgentResponse> catchUp(int generation, boolean includeComplete, String callId,
                                                 String edgeNode, long nowMs) {
        if (lastChunk < 0 || generation == socketGeneration || (complete && !includeComplete)) {
            return Optional.empty();
        }
        socketGeneration = generation;
        AgentResponse record = new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId, kind,
                complete ? reason : null, content.toString(), complete, null, lastChunk, requestReceivedAtMs, nowMs,
                edgeNode);
        return Optional.of(complete ? record.withActions(endCall, transferNumber, showTransfereeAsCaller, digitToPress)
                : record);
    }
}
