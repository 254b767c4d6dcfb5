package io.callguard.schemas;

import com.fasterxml.jackson.annotation.JsonValue;

/** Why a call was archived. */
public enum ArchiveReason {
    /** Retell reported it ended. */
    ENDED,
    /** No event arrived within the call TTL. */
    EXPIRED,
    /** Refused for capacity. */
    REJECTED,
    /** Its socket closed and did not come back within {@code capacity.socket-lost-grace-ms}, with no call_ended. */
    SOCKET_LOST;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
