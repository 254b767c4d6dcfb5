package io.callguard.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** Why a call was archived. */
public enum ArchiveReason {
    /** Retell reported it ended. */
    ENDED,
    /** No event arrived within the call TTL. */
    EXPIRED,
    /** Refused for capacity. */
    REJECTED;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
