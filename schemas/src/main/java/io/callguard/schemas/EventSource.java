package io.callguard.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** Where a {@link CallEvent} entered callguard. */
public enum EventSource {
    /** A Retell webhook POST. */
    WEBHOOK,
    /** A frame on Retell's custom-LLM WebSocket. */
    SOCKET;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
