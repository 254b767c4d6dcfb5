package io.callguard.processor.internal;

import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
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
    CALL_DETAILS(InteractionType.CALL_DETAILS),
    CALL_STARTED(WebhookEvent.CALL_STARTED),
    CALL_ENDED(WebhookEvent.CALL_ENDED),
    CALL_ANALYZED(WebhookEvent.CALL_ANALYZED);

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
