package io.callguard.processor.responder;

import java.util.Locale;

/** Why the responder ended a turn with a closing line; the {@code reason} of the AgentResponse. */
public enum FallbackReason {
    /** No words of the answer by the first-words deadline (every attempt's first chunk timed out or failed). */
    TIMEOUT,
    /** The circuit breaker is open: the backend was not called. */
    CIRCUIT_OPEN,
    /** Too many turns were generating at once: the backend was not called. */
    BULKHEAD_FULL,
    /** The backend failed and no retry fitted before the first-words deadline, or retries ran out. */
    ERROR,
    /** The answer's words stopped for longer than {@code turn.stall-ms}. */
    STALL,
    /** The answer was still streaming at {@code turn.max-answer-ms}. */
    MAX_ANSWER,
    /**
     * The call's admission (active, queued or rejected) was still unknown at the first-words deadline: the backend
     * was not called for a call that may not hold a slot. Said with the timeout line.
     */
    ADMISSION_UNKNOWN;

    /** The value written in {@code AgentResponse.reason} and in metric tags. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
