package io.callguard.retell;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

class IdempotencyKeysTest {

    private static JsonNode body(String json) throws Exception {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
    }

    @Test
    void shouldKeyLifecycleWebhooksByEventAndCallId() throws Exception {
        JsonNode body = body("{\"event\":\"call_ended\",\"call\":{\"call_id\":\"c1\",\"start_timestamp\":5}}");

        assertThat(IdempotencyKeys.forWebhook("call_ended", "c1", body)).isEqualTo("webhook|call_ended|c1");
        assertThat(IdempotencyKeys.forWebhook("call_started", "c1", body))
                .isNotEqualTo(IdempotencyKeys.forWebhook("call_ended", "c1", body));
    }

    @Test
    void shouldKeyTransfersByStartTimestampAndDestination() throws Exception {
        JsonNode first = body("{\"event\":\"transfer_started\",\"call\":{\"call_id\":\"c1\",\"start_timestamp\":5},"
                + "\"transfer_destination\":{\"number\":\"+1555\"}}");
        JsonNode second = body("{\"event\":\"transfer_started\",\"call\":{\"call_id\":\"c1\",\"start_timestamp\":5},"
                + "\"transfer_destination\":{\"number\":\"+1666\"}}");

        String a = IdempotencyKeys.forWebhook("transfer_started", "c1", first);
        assertThat(a).startsWith("webhook|transfer_started|c1|5|");
        assertThat(a).isNotEqualTo(IdempotencyKeys.forWebhook("transfer_started", "c1", second));
    }

    @Test
    void shouldNotKeyTranscriptUpdatesBecauseTheLatestWins() throws Exception {
        assertThat(IdempotencyKeys.forWebhook("transcript_updated", "c1", body("{}"))).isNull();
    }

    @Test
    void shouldKeySocketTurnsByTypeAndResponseId() {
        assertThat(IdempotencyKeys.forSocket("response_required", "c1", 7L)).isEqualTo("socket|c1|response_required|7");
        assertThat(IdempotencyKeys.forSocket("reminder_required", "c1", 7L))
                .isNotEqualTo(IdempotencyKeys.forSocket("response_required", "c1", 7L));
        assertThat(IdempotencyKeys.forSocket("call_details", "c1", null)).isEqualTo("socket|c1|call_details");
        assertThat(IdempotencyKeys.forSocket("update_only", "c1", null)).isNull();
    }
}
