package io.callguard.processor.responder;

import java.util.Locale;

/** Why the responder answered a turn with a fallback line; the {@code reason} of the AgentResponse. */
public enum FallbackReason {
    /** The backend did not finish before the turn's deadline, or the turn was already past it. */
    TIMEOUT,
    /** The circuit breaker is open: the backend was not called. */
    CIRCUIT_OPEN,
    /** Too many turns were generating at once: the backend was not called. */
    BULKHEAD_FULL,
    /** The backend failed and no retry fitted in the budget, or retries ran out. */
    ERROR;

    /** The value written in {@code AgentResponse.reason} and in metric tags. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
