package io.callguard.schemas;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** One fully populated and one minimal instance of each record type, for tests. */
public final class SampleRecords {

    private SampleRecords() {
    }

    // The shape of retell's IdempotencyKeys, spelled here: schemas, its test jar included, imports no other module.
    private static String webhookKey(String event, String callId) {
        return "transcript_updated".equals(event) ? null : "webhook|" + event + '|' + callId;
    }

    public static CallEvent webhookEvent(String callId, String event) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", event);
        body.putObject("call").put("call_id", callId).put("agent_id", "agent_1").put("call_status", "ongoing");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + callId + "-" + event, callId, EventSource.WEBHOOK,
                event, webhookKey(event, callId), 1_700_000_000_000L, null, "node-a", body);
    }

    public static CallEvent socketEvent(String callId, String type, long responseId) {
        // Parsed from text, as frames arrive: numbers come back as the narrowest JSON node type.
        ObjectNode frame = parse("{\"interaction_type\":\"" + type + "\",\"response_id\":" + responseId
                + ",\"transcript\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "s-" + callId + "-" + responseId, callId, EventSource.SOCKET,
                type, "socket|" + callId + '|' + type + '|' + responseId, 1_700_000_000_100L, responseId, "node-a",
                frame);
    }

    public static AgentResponse response(String callId, long responseId, ResponseKind kind) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId, kind,
                kind == ResponseKind.FALLBACK ? "timeout" : null, "Hello there.", true,
                kind == ResponseKind.BUSY ? Boolean.TRUE : null, 0, 1_700_000_000_100L, 1_700_000_000_105L, "node-a");
    }

    /**
     * A version-2 answer record with every field set: an interrupt chunk (the scope that carries an interrupt id)
     * with each action, every frame type and a quiet period.
     */
    public static AgentResponse fullResponse(String callId) {
        java.util.List<AgentFrame> frames = java.util.List.of(
                AgentFrame.toolCallInvocation("tc-1", "lookup_order", "{\"order_id\":\"A1\"}"),
                AgentFrame.toolCallResult("tc-1", "shipped", Boolean.TRUE),
                AgentFrame.updateAgent(parse("{\"responsiveness\":0.5,\"reminder_max_count\":2}")),
                AgentFrame.metadata(parse("{\"step\":\"lookup\",\"n\":1}")));
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, 4, ResponseKind.GENERATED, null,
                "Your order shipped.", true, Boolean.TRUE, 2, 1_700_000_000_100L, 1_700_000_000_105L, "node-a",
                "+15550100", Boolean.TRUE, "5", Boolean.TRUE, AgentResponse.SCOPE_INTERRUPT, 3L, frames,
                1_700_000_010_000L);
    }

    private static ObjectNode parse(String json) {
        try {
            return (ObjectNode) Json.mapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public static CallState fullState(String callId) {
        ObjectNode metadata = Json.mapper().createObjectNode().put("customer", "c-1");
        ObjectNode vars = Json.mapper().createObjectNode().put("name", "José");
        return CallState.builder(callId).status(CallStatus.ENDED).retellStatus("ended").agentId("agent_1")
                .agentVersion(3).callType("phone_call").direction("inbound").fromNumber("+15550001")
                .toNumber("+15550002").startTimestamp(1_700_000_000_000L).endTimestamp(1_700_000_060_000L)
                .durationMs(60_000L).disconnectionReason("user_hangup").started(true).ended(true).analyzed(false)
                .turnCount(4).latestResponseId(4L).transcriptLength(8).metadata(metadata).dynamicVariables(vars)
                .eventsApplied(7).duplicatesDropped(2).fallbacks(1).reconnects(1).admittedAtMs(1_700_000_000_001L)
                .connectionId("conn-2").socketOpenedAtMs(1_700_000_030_000L).socketLostAtMs(1_700_000_060_002L)
                .firstEventAtMs(1_700_000_000_000L).lastEventAtMs(1_700_000_060_000L).updatedAtMs(1_700_000_060_001L)
                .build();
    }

    public static CallState minimalState(String callId) {
        return CallState.initial(callId, CallStatus.ACTIVE, 1_700_000_000_000L);
    }

    public static CallArchive archive(String callId) {
        CallState state = fullState(callId);
        return new CallArchive(CallArchive.SCHEMA_VERSION, callId, ArchiveReason.ENDED, 1_700_000_070_000L,
                60_000L, state.turnCount(), state.fallbacks(), state.duplicatesDropped(), state.reconnects(), state);
    }

    public static DeadLetter deadLetter() {
        return DeadLetter.atEdge("webhook", "invalid_json", "Unexpected character", null, 1_700_000_000_000L,
                "{not json".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public static CachedAnswer cachedAnswer() {
        return CachedAnswer.of("We open at nine.", 1_700_000_300_000L);
    }
}
