package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * Every webhook and socket event, as received, on {@code callguard.call-events} keyed by call id.
 *
 * @param schemaVersion  always {@link #SCHEMA_VERSION} when written by this code
 * @param eventId        unique per delivery (a UUID), so two deliveries of one event are told apart
 * @param callId         Retell's call id; the record key
 * @param source         webhook or socket
 * @param type           the webhook {@code event} or the socket {@code interaction_type}, as Retell sent it
 * @param idempotencyKey the key duplicates share (see {@code io.callguard.retell.IdempotencyKeys}); null when the event is
 *                       not deduplicated (latest wins, e.g. {@code transcript_updated})
 * @param receivedAtMs   when the edge received it, ms since the epoch (the start of a turn's budget)
 * @param responseId     the socket {@code response_id}, when there is one
 * @param edgeNode       id of the edge node that received it (the node that holds the call's socket)
 * @param payload        the parsed body or frame, unchanged
 */
public record CallEvent(
        int schemaVersion,
        String eventId,
        String callId,
        EventSource source,
        String type,
        String idempotencyKey,
        long receivedAtMs,
        Long responseId,
        String edgeNode,
        JsonNode payload) {

    public static final int SCHEMA_VERSION = 1;

    /**
     * callguard's own socket event type (not Retell's): the edge accepted a socket for the call. Payload:
     * {@code connection_id} (the socket), {@code begin} ({@value #BEGIN_OWED}: nothing was said yet and the pipeline
     * owes the begin message (the responder says the greeting, the hold or busy line, or the backend's own once the
     * call's admission is known), the edge bridging it with the greeting at the budget; {@value #BEGIN_SENT}:
     * the edge said the begin message itself, a greeting, an empty one on a reconnect, or the busy line).
     */
    public static final String TYPE_SOCKET_OPENED = "socket_opened";
    /**
     * callguard's own socket event type: a socket of the call closed, by either side. Payload: {@code connection_id},
     * {@code code} (the close code), {@code reason}.
     */
    public static final String TYPE_SOCKET_CLOSED = "socket_closed";
    public static final String BEGIN_OWED = "owed";
    public static final String BEGIN_SENT = "sent";

    public CallEvent {
        Objects.requireNonNull(eventId, "eventId");
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(payload, "payload");
    }
}
