package io.callguard.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** Where a call stands in callguard's eyes. */
public enum CallStatus {
    /** Seen, waiting for a capacity slot. */
    QUEUED,
    /** Admitted and not yet ended. */
    ACTIVE,
    /** Retell reported the call over. */
    ENDED,
    /**
     * Closed by callguard without Retell saying the call is over: no event within the call TTL, or its socket
     * lost for longer than {@code capacity.socket-lost-grace-ms} (the archive reason tells which).
     */
    EXPIRED,
    /** Refused for capacity (queue full or queue timeout). */
    REJECTED;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
