package io.callguard.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** How an {@link AgentResponse} was produced. */
public enum ResponseKind {
    /** The agent backend generated it for this turn. */
    GENERATED,
    /** Served from the response cache. */
    CACHED,
    /** A configured fallback line: the backend failed, was slow, or was shed. */
    FALLBACK,
    /** The polite busy line for a call refused for capacity. */
    BUSY,
    /**
     * A short line that bridges a slow start ({@code turn.filler-messages}), never complete: the turn's own
     * answer (or its closing line) follows in the same response.
     */
    FILLER,
    /** The hold line a queued call hears ({@code capacity.hold-message}) while it waits for a capacity slot. */
    HOLD;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
