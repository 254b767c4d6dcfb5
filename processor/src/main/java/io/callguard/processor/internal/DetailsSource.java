package io.callguard.processor.internal;

import java.util.Optional;

/**
 * The events that report Retell's call object, in the order their values win: a field reported by a
 * later lifecycle event replaces the same field from an earlier one, whatever the arrival order.
 * Each is deduplicated, so each contributes at most one set of details per call.
 * {@code transcript_updated} and transfers also carry a call object but are left out: they repeat, and
 * two of them could only be ordered by arrival.
 */
public enum DetailsSource {
    /** The socket's {@code call_details} frame, sent when the socket opens. */
    CALL_DETAILS("call_details"),
    CALL_STARTED("call_started"),
    CALL_ENDED("call_ended"),
    CALL_ANALYZED("call_analyzed");

    private final String eventType;

    DetailsSource(String eventType) {
        this.eventType = eventType;
    }

    /** The source for an event type, if that type reports a call object. */
    public static Optional<DetailsSource> of(String eventType) {
        for (DetailsSource source : values()) {
            if (source.eventType.equals(eventType)) {
                return Optional.of(source);
            }
        }
        return Optional.empty();
    }

    /** Key of one call's details from this source in the details store. */
    public String storeKey(String callId) {
        return callId + '|' + eventType;
    }
}
