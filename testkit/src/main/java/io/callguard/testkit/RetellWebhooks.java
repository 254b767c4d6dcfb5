package io.callguard.testkit;

import io.callguard.retell.webhook.WebhookEvent;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs webhooks the way Retell does, with the JDK's HMAC and none of callguard's code, so the
 * integration tests check the gateway against the protocol rather than against itself.
 */
public final class RetellWebhooks {

    public static final String HEADER = "x-retell-signature";

    private RetellWebhooks() {
    }

    /** The {@code x-retell-signature} header for a raw body at a timestamp (ms). */
    public static String sign(String apiKey, byte[] body, long timestampMs) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(apiKey.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(body);
            mac.update(Long.toString(timestampMs).getBytes(StandardCharsets.UTF_8));
            return "v=" + timestampMs + ",d=" + HexFormat.of().formatHex(mac.doFinal());
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
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
