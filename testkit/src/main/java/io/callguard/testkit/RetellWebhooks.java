package io.callguard.testkit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;

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

    /**
     * The body of a {@code call_started} webhook of a call of {@code agentId} at {@code agentVersion}, with the call's
     * {@code retell_llm_dynamic_variables}.
     */
    public static String callStarted(String callId, String agentId, int agentVersion,
            Map<String, String> dynamicVariables) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", WebhookEvent.CALL_STARTED);
        ObjectNode call = body.putObject("call").put("call_id", callId).put("agent_id", agentId)
                .put("agent_version", agentVersion).put("call_type", "phone_call").put("direction", "inbound")
                .put("from_number", "+15550001").put("to_number", "+15550002").put("call_status", "ongoing")
                .put("start_timestamp", 1_700_000_000_000L);
        ObjectNode variables = call.putObject("retell_llm_dynamic_variables");
        dynamicVariables.forEach(variables::put);
        return body.toString();
    }

    /** POSTs {@code body} to the gateway's {@code /webhook}, signed with {@code apiKey} now; the response status. */
    public static int post(HttpClient http, URI gateway, String apiKey, String body) throws Exception {
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(gateway.resolve("/webhook"))
                .header("content-type", "application/json")
                .header(HEADER, sign(apiKey, raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
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
