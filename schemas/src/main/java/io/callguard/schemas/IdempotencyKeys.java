package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Derives the key that duplicate deliveries of one event share, following Retell's own advice.
 *
 * <ul>
 *   <li>lifecycle webhooks ({@code call_started}, {@code call_ended}, {@code call_analyzed}, and any
 *       event type Retell adds later): {@code event|call_id};</li>
 *   <li>transfers ({@code transfer_*}): {@code event|call_id|start_timestamp|destination};</li>
 *   <li>{@code transcript_updated}: none; many arrive per call and the latest wins;</li>
 *   <li>socket turns: {@code socket|call_id|interaction_type|response_id}; {@code call_details}
 *       once per call; {@code update_only} none (the latest transcript wins).</li>
 * </ul>
 * Keys start with the call id's event so they stay unique inside the call's partition.
 */
public final class IdempotencyKeys {

    /** Webhook event types whose every delivery is kept: the newest wins. */
    public static final String TRANSCRIPT_UPDATED = "transcript_updated";

    private IdempotencyKeys() {
    }

    /**
     * The key for a webhook.
     *
     * @param event  the webhook's {@code event}
     * @param callId the call id
     * @param body   the whole webhook body
     * @return the key, or null when this event is not deduplicated
     */
    public static String forWebhook(String event, String callId, JsonNode body) {
        if (TRANSCRIPT_UPDATED.equals(event)) {
            return null;
        }
        StringBuilder key = new StringBuilder("webhook|").append(event).append('|').append(callId);
        if (event.startsWith("transfer_")) {
            key.append('|').append(transferStart(body)).append('|').append(text(body.get("transfer_destination")));
        }
        return key.toString();
    }

    /**
     * The key for a socket frame from Retell.
     *
     * @param interactionType the frame's {@code interaction_type}
     * @param callId          the call id
     * @param responseId      the frame's {@code response_id}, or null
     * @return the key, or null when this frame is not deduplicated
     */
    public static String forSocket(String interactionType, String callId, Long responseId) {
        if (responseId != null) {
            return "socket|" + callId + '|' + interactionType + '|' + responseId;
        }
        if ("call_details".equals(interactionType)) {
            return "socket|" + callId + "|call_details";
        }
        return null;
    }

    private static String transferStart(JsonNode body) {
        // Retell documents start_timestamp for transfer dedupe; prefer a top-level one, else the call's.
        JsonNode top = body.get("start_timestamp");
        if (top != null && !top.isNull()) {
            return top.asText();
        }
        JsonNode call = body.get("call");
        return call == null ? "" : text(call.get("start_timestamp"));
    }

    private static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return "";
        }
        return node.isValueNode() ? node.asText() : node.toString();
    }
}
