package io.callguard.processor;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import java.util.UUID;
import java.util.function.Consumer;

/** Retell-shaped call events for tests, each delivery with its own event id. */
final class TestEvents {

    private TestEvents() {
    }

    /** A webhook whose call object has {@code call_id} plus whatever {@code call} adds. */
    static CallEvent webhook(String callId, String event, long receivedAtMs, Consumer<ObjectNode> call) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", event);
        ObjectNode callObject = body.putObject("call").put("call_id", callId);
        call.accept(callObject);
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, EventSource.WEBHOOK,
                event, IdempotencyKeys.forWebhook(event, callId, body), receivedAtMs, null, "edge-a", body);
    }

    static CallEvent callStarted(String callId, long receivedAtMs) {
        return webhook(callId, "call_started", receivedAtMs, call -> call.put("agent_id", "agent_1")
                .put("agent_version", 3).put("call_type", "phone_call").put("direction", "inbound")
                .put("from_number", "+15550001").put("to_number", "+15550002").put("call_status", "ongoing")
                .put("start_timestamp", 1_700_000_000_000L));
    }

    static CallEvent callEnded(String callId, long receivedAtMs) {
        return webhook(callId, "call_ended", receivedAtMs, call -> {
            call.put("agent_id", "agent_1").put("agent_version", 3).put("call_type", "phone_call")
                    .put("direction", "inbound").put("from_number", "+15550001").put("to_number", "+15550002")
                    .put("call_status", "ended").put("start_timestamp", 1_700_000_000_000L)
                    .put("end_timestamp", 1_700_000_060_000L).put("duration_ms", 60_000L)
                    .put("disconnection_reason", "user_hangup");
            call.putObject("metadata").put("customer", "c-1");
            call.putObject("retell_llm_dynamic_variables").put("name", "José");
            transcript(call.putArray("transcript_object"), 4);
        });
    }

    static CallEvent callAnalyzed(String callId, long receivedAtMs) {
        return webhook(callId, "call_analyzed", receivedAtMs, call -> {
            call.put("agent_id", "agent_1").put("call_status", "ended").put("end_timestamp", 1_700_000_060_000L)
                    .put("disconnection_reason", "user_hangup");
            call.putObject("call_analysis").put("call_summary", "The caller asked about opening hours.");
        });
    }

    static CallEvent transcriptUpdated(String callId, long receivedAtMs, int entries) {
        return webhook(callId, "transcript_updated", receivedAtMs,
                call -> transcript(call.putArray("transcript_object"), entries));
    }

    /** A socket frame; {@code responseId} null for frames without one ({@code update_only}, {@code call_details}). */
    static CallEvent socket(String callId, String type, Long responseId, long receivedAtMs, int transcriptEntries,
                            Consumer<ObjectNode> frame) {
        ObjectNode body = Json.mapper().createObjectNode().put("interaction_type", type);
        if (responseId != null) {
            body.put("response_id", responseId);
        }
        if (transcriptEntries >= 0) {
            transcript(body.putArray("transcript"), transcriptEntries);
        }
        frame.accept(body);
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, EventSource.SOCKET,
                type, IdempotencyKeys.forSocket(type, callId, responseId), receivedAtMs, responseId, "edge-a", body);
    }

    static CallEvent responseRequired(String callId, long responseId, long receivedAtMs, int transcriptEntries) {
        return socket(callId, "response_required", responseId, receivedAtMs, transcriptEntries, frame -> {
        });
    }

    /** The edge accepted a socket of the call ({@code begin} owed, as a first open says). */
    static CallEvent socketOpened(String callId, String connectionId, long receivedAtMs) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", connectionId)
                .put("begin", CallEvent.BEGIN_OWED);
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, receivedAtMs, null, "edge-a", payload);
    }

    /** A socket of the call closed abnormally (1006), as Retell's side dropping it looks. */
    static CallEvent socketClosed(String callId, String connectionId, long receivedAtMs) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", connectionId).put("code", 1006)
                .put("reason", "");
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_CLOSED, null, receivedAtMs, null, "edge-a", payload);
    }

    /** The same delivery again, as Retell retries it: same key and content, a new event id. */
    static CallEvent redelivery(CallEvent event) {
        return new CallEvent(event.schemaVersion(), UUID.randomUUID().toString(), event.callId(), event.source(),
                event.type(), event.idempotencyKey(), event.receivedAtMs() + 1, event.responseId(), event.edgeNode(),
                event.payload());
    }

    private static void transcript(ArrayNode array, int entries) {
        for (int i = 0; i < entries; i++) {
            array.addObject().put("role", i % 2 == 0 ? "agent" : "user").put("content", "line " + i);
        }
    }
}
