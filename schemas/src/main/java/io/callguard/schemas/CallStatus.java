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
    /** No event within the call TTL; closed by callguard. */
    EXPIRED,
    /** Refused for capacity (queue full or queue timeout). */
    REJECTED;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
