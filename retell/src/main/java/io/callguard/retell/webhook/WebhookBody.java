package io.callguard.retell.webhook;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reads the fields of a webhook body ({@code {"event": ..., "call": {...}}}) that callguard uses. Lenient: a
 * missing or mistyped field reads as null (or a missing node), never as an exception.
 */
public final class WebhookBody {

    /** The call object's field names that callguard reads. */
    public static final String CALL = "call";
    public static final String CALL_ID = "call_id";
    public static final String AGENT_ID = "agent_id";
    public static final String START_TIMESTAMP = "start_timestamp";
    public static final String TRANSFER_DESTINATION = "transfer_destination";
    public static final String TRANSCRIPT = "transcript";
    public static final String TRANSCRIPT_OBJECT = "transcript_object";
    public static final String DYNAMIC_VARIABLES = "retell_llm_dynamic_variables";

    private WebhookBody() {
    }

    /** The {@code event}, or null when absent or not a string. */
    public static String event(JsonNode body) {
        return text(body == null ? null : body.get(WebhookEvent.FIELD));
    }

    /** The call object; a missing node when absent. */
    public static JsonNode call(JsonNode body) {
        return body == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : body.path(CALL);
    }

    /** {@code call.call_id}, or null when absent or not a string. */
    public static String callId(JsonNode body) {
        return text(call(body).get(CALL_ID));
    }

    /** {@code call.agent_id}, or null when absent or not a string. */
    public static String agentId(JsonNode body) {
        return text(call(body).get(AGENT_ID));
    }

    /** A transfer's top-level {@code transfer_destination}, as received; null when absent. */
    public static JsonNode transferDestination(JsonNode body) {
        return present(body == null ? null : body.get(TRANSFER_DESTINATION));
    }

    /**
     * The {@code start_timestamp} Retell documents for transfer dedupe: a top-level one when present, else the
     * call's; null when neither is there.
     */
    public static JsonNode startTimestamp(JsonNode body) {
        JsonNode top = present(body == null ? null : body.get(START_TIMESTAMP));
        return top != null ? top : present(call(body).get(START_TIMESTAMP));
    }

    private static JsonNode present(JsonNode node) {
        return node == null || node.isNull() || node.isMissingNode() ? null : node;
    }

    private static String text(JsonNode node) {
        return node != null && node.isTextual() ? node.textValue() : null;
    }
}
