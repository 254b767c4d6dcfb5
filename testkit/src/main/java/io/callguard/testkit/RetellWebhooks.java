package io.callguard.testkit;

import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookEvent;
import java.time.Clock;

/**
 * Signed Retell webhooks for tests: bodies of lifecycle events and their {@code x-retell-signature}, signed
 * through {@link RetellSignature#sign} (pinned to Retell's SDK by the vectors in its test and in this kit's).
 */
public final class RetellWebhooks {

    public static final String HEADER = RetellSignature.HEADER;

    private RetellWebhooks() {
    }

    /** The {@code x-retell-signature} header for a raw body at a timestamp (ms). */
    public static String sign(String apiKey, byte[] body, long timestampMs) {
        return new RetellSignature(apiKey, Clock.systemUTC(), RetellSignature.DEFAULT_TOLERANCE_MS)
                .sign(body, timestampMs);
    }

    /** The body of Retell's inbound-call webhook ({@code call_inbound}): no call id, the number's agent, the numbers. */
    public static String inboundBody(String agentId, String fromNumber, String toNumber) {
        return "{\"event\":\"" + WebhookEvent.CALL_INBOUND + "\",\"event_timestamp\":1700000000000,"
                + "\"call_inbound\":{\"agent_id\":\"" + agentId + "\",\"agent_version\":1,\"from_number\":\""
                + fromNumber + "\",\"to_number\":\"" + toNumber + "\"}}";
    }

    public static String body(String event, String callId) {
        return "{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"" + callId + "\",\"agent_id\":\"agent_7\","
                + "\"call_type\":\"phone_call\",\"direction\":\"inbound\",\"from_number\":\"+15550001\","
                + "\"to_number\":\"+15550002\",\"call_status\":\"" + (WebhookEvent.CALL_STARTED.equals(event) ? "ongoing" : "ended")
                + "\",\"start_timestamp\":1700000000000"
                + (WebhookEvent.CALL_STARTED.equals(event) ? "" : ",\"end_timestamp\":1700000060000,\"duration_ms\":60000,"
                        + "\"disconnection_reason\":\"user_hangup\"")
                + "}}";
    }
}
