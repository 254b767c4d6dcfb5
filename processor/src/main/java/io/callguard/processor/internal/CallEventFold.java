package io.callguard.processor.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;

/**
 * Folds one applied (not duplicate) event into a call's state, except the call-object fields
 * ({@link CallDetails}) and the status, which the processor decides. Every rule here but the socket's is
 * commutative (flags are or-ed, counts added, timestamps and lengths are min/max), so arrival order does not
 * matter.
 *
 * <p>The socket: the current connection is the one whose {@code socket_opened} was received last at the edge
 * (a superseded socket's opening delivered late by another edge node does not take it back), and opening it
 * clears a lost mark. A {@code socket_closed} of the current connection (or of any, while none was seen open)
 * marks the socket lost since now, processor time; a close of an older, superseded connection changes nothing.
 * One socket's open and close come from one edge node, in order. Every opening of another connection than the
 * current one counts as a reconnect.
 */
public final class CallEventFold {

    public static final String CALL_STARTED = WebhookEvent.CALL_STARTED;
    public static final String CALL_ENDED = WebhookEvent.CALL_ENDED;
    public static final String CALL_ANALYZED = WebhookEvent.CALL_ANALYZED;
    public static final String RESPONSE_REQUIRED = InteractionType.RESPONSE_REQUIRED;
    public static final String REMINDER_REQUIRED = InteractionType.REMINDER_REQUIRED;
    public static final String SOCKET_OPENED = CallEvent.TYPE_SOCKET_OPENED;
    public static final String SOCKET_CLOSED = CallEvent.TYPE_SOCKET_CLOSED;

    private CallEventFold() {
    }

    /**
     * The state after {@code event}.
     *
     * @param prior the state so far, or null for a call's first event (it starts {@code ACTIVE})
     * @param nowMs processor wall-clock time, stored as {@code updatedAtMs}
     */
    public static CallState fold(CallState prior, CallEvent event, long nowMs) {
        long at = event.receivedAtMs();
        CallState base = prior != null ? prior : CallState.initial(event.callId(), CallStatus.ACTIVE, at);
        CallState.Builder next = base.toBuilder()
                .firstEventAtMs(Math.min(base.firstEventAtMs(), at))
                .lastEventAtMs(Math.max(base.lastEventAtMs(), at))
                .eventsApplied(base.eventsApplied() + 1)
                .updatedAtMs(nowMs);
        switch (event.type()) {
            case CALL_STARTED -> next.started(true);
            case CALL_ENDED -> next.ended(true);
            case CALL_ANALYZED -> next.analyzed(true);
            case RESPONSE_REQUIRED, REMINDER_REQUIRED -> next.turnCount(base.turnCount() + 1);
            case SOCKET_OPENED -> socketOpened(base, event, next);
            case SOCKET_CLOSED -> socketClosed(base, event, nowMs, next);
            default -> {
                // Other types (update_only, transcript_updated, transfers, types Retell adds) only count as applied.
            }
        }
        Long responseId = responseId(event);
        if (responseId != null && (base.latestResponseId() == null || responseId > base.latestResponseId())) {
            next.latestResponseId(responseId);
        }
        // The transcript is always the whole conversation so far, so it only grows: the longest one is the
        // latest one, whatever order the events arrive in.
        next.transcriptLength(Math.max(base.transcriptLength(), transcriptLength(event)));
        return next.build();
    }

    private static void socketOpened(CallState base, CallEvent event, CallState.Builder next) {
        String connection = JsonFields.text(event.payload(), "connection_id");
        if (base.connectionId() != null && !base.connectionId().equals(connection)) {
            next.reconnects(base.reconnects() + 1);
        }
        if (base.socketOpenedAtMs() == null || event.receivedAtMs() >= base.socketOpenedAtMs()) {
            next.connectionId(connection).socketOpenedAtMs(event.receivedAtMs()).socketLostAtMs(null);
        }
    }

    private static void socketClosed(CallState base, CallEvent event, long nowMs, CallState.Builder next) {
        String connection = JsonFields.text(event.payload(), "connection_id");
        boolean current = base.connectionId() == null || base.connectionId().equals(connection);
        if (current && base.socketLostAtMs() == null) {
            next.connectionId(connection).socketLostAtMs(nowMs);
        }
    }

    /** The event's call object as {@link CallDetails}, for the events that report one. */
    public static CallDetails details(CallEvent event) {
        return CallDetails.fromCallObject(event.payload().get("call"));
    }

    static Long responseId(CallEvent event) {
        if (event.responseId() != null) {
            return event.responseId() >= 0 ? event.responseId() : null;
        }
        Long fromPayload = JsonFields.longValue(event.payload(), "response_id");
        return fromPayload != null && fromPayload >= 0 ? fromPayload : null;
    }

    /** Entries in the transcript an event carries: a socket frame's {@code transcript}, a webhook call's {@code transcript_object}. */
    static int transcriptLength(CallEvent event) {
        JsonNode payload = event.payload();
        int socket = JsonFields.arraySize(payload, "transcript");
        if (socket >= 0) {
            return socket;
        }
        JsonNode call = payload.get("call");
        int webhook = JsonFields.arraySize(call, "transcript_object");
        if (webhook >= 0) {
            return webhook;
        }
        return Math.max(0, JsonFields.arraySize(call, "transcript"));
    }
}
