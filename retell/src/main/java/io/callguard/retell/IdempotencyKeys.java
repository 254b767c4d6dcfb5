package io.callguard.retell;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookBody;
import io.callguard.retell.webhook.WebhookEvent;

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
    public static final String TRANSCRIPT_UPDATED = WebhookEvent.TRANSCRIPT_UPDATED;

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
        if (WebhookEvent.isTransfer(event)) {
            key.append('|').append(text(WebhookBody.startTimestamp(body))).append('|')
                    .append(text(WebhookBody.transferDestination(body)));
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
        if (InteractionType.CALL_DETAILS.equals(interactionType)) {
            return "socket|" + callId + '|' + InteractionType.CALL_DETAILS;
        }
        return null;
    }

    private static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return "";
        }
        return node.isValueNode() ? node.asText() : node.toString();
    }
}
