package io.callguard.schemas;

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
        String edgeNode) {

    public static final int SCHEMA_VERSION = 1;

    public AgentResponse {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(content, "content");
        if (responseId < 0) {
            throw new IllegalArgumentException("responseId must be >= 0, was " + responseId);
        }
    }
}
