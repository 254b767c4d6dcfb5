package io.callguard.retell.webhook;

import java.util.Set;

/** The {@code event} names of Retell's webhooks, and which of them are lifecycle and transfer events. */
public final class WebhookEvent {

    /** The body field that names the event. */
    public static final String FIELD = "event";

    public static final String CALL_STARTED = "call_started";
    public static final String CALL_ENDED = "call_ended";
    public static final String CALL_ANALYZED = "call_analyzed";
    /** Many per call, the latest wins: not deduplicated. */
    public static final String TRANSCRIPT_UPDATED = "transcript_updated";
    public static final String TRANSFER_STARTED = "transfer_started";
    public static final String TRANSFER_BRIDGED = "transfer_bridged";
    public static final String TRANSFER_CANCELLED = "transfer_cancelled";
    public static final String TRANSFER_ENDED = "transfer_ended";
    /** The inbound-call webhook: no call id yet, and it expects a {@code call_inbound} answer. */
    public static final String CALL_INBOUND = "call_inbound";

    /** Call lifecycle events, once per call each (deduplicated by event and call id). */
    public static final Set<String> LIFECYCLE = Set.of(CALL_STARTED, CALL_ENDED, CALL_ANALYZED);
    /** Transfer events (deduplicated by event, call id, start timestamp and destination). */
    public static final Set<String> TRANSFERS = Set.of(TRANSFER_STARTED, TRANSFER_BRIDGED, TRANSFER_CANCELLED,
            TRANSFER_ENDED);
    /** Every event above. */
    public static final Set<String> ALL = Set.of(CALL_STARTED, CALL_ENDED, CALL_ANALYZED, TRANSCRIPT_UPDATED,
            TRANSFER_STARTED, TRANSFER_BRIDGED, TRANSFER_CANCELLED, TRANSFER_ENDED, CALL_INBOUND);

    private static final String TRANSFER_PREFIX = "transfer_";

    private WebhookEvent() {
    }

    /** Whether {@code event} is a transfer event, including {@code transfer_*} types Retell adds later. */
    public static boolean isTransfer(String event) {
        return event != null && event.startsWith(TRANSFER_PREFIX);
    }
}
