package io.callguard.schemas;

import java.util.Objects;

/**
 * One record per finished, expired or rejected call, on {@code callguard.call-archive} keyed by call id.
 *
 * @param schemaVersion     always {@link #SCHEMA_VERSION} when written by this code
 * @param callId            the call
 * @param reason            ended, expired or rejected
 * @param archivedAtMs      when the processor archived it
 * @param durationMs        the call's duration: Retell's {@code duration_ms} when known, else first to last event
 * @param turnCount         turns requested
 * @param fallbacks         fallback answers sent
 * @param duplicatesDropped duplicate deliveries dropped
 * @param reconnects        socket reconnects
 * @param finalState        the call's state when archived
 */
public record CallArchive(
        int schemaVersion,
        String callId,
        ArchiveReason reason,
        long archivedAtMs,
        long durationMs,
        int turnCount,
        long fallbacks,
        long duplicatesDropped,
        long reconnects,
        CallState finalState) {

    public static final int SCHEMA_VERSION = 1;

    public CallArchive {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(finalState, "finalState");
    }
}
