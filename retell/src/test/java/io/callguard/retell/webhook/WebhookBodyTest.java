package io.callguard.retell.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class WebhookBodyTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void shouldReadTheFieldsCallguardUses() throws Exception {
        JsonNode body = MAPPER.readTree("{\"event\":\"transfer_started\",\"transfer_destination\":{\"number\":\"+1\"},"
                + "\"call\":{\"call_id\":\"c1\",\"agent_id\":\"a1\",\"start_timestamp\":5}}");

        assertThat(WebhookBody.event(body)).isEqualTo(WebhookEvent.TRANSFER_STARTED);
        assertThat(WebhookBody.callId(body)).isEqualTo("c1");
        assertThat(WebhookBody.agentId(body)).isEqualTo("a1");
        assertThat(WebhookBody.transferDestination(body).toString()).isEqualTo("{\"number\":\"+1\"}");
        assertThat(WebhookBody.startTimestamp(body).asLong()).isEqualTo(5);
    }

    @Test
    void shouldPreferATopLevelStartTimestamp() throws Exception {
        JsonNode body = MAPPER.readTree("{\"start_timestamp\":9,\"call\":{\"start_timestamp\":5}}");

        assertThat(WebhookBody.startTimestamp(body).asLong()).isEqualTo(9);
    }

    @Test
    void shouldReadMissingOrMistypedFieldsAsNull() throws Exception {
        JsonNode body = MAPPER.readTree("{\"event\":3,\"call\":{\"call_id\":7}}");

        assertThat(WebhookBody.event(body)).isNull();
        assertThat(WebhookBody.callId(body)).isNull();
        assertThat(WebhookBody.callId(MAPPER.readTree("{}"))).isNull();
        assertThat(WebhookBody.transferDestination(body)).isNull();
        assertThat(WebhookBody.startTimestamp(body)).isNull();
    }

    @Test
    void shouldTellLifecycleAndTransferEventsApart() {
        assertThat(WebhookEvent.LIFECYCLE).containsExactlyInAnyOrder("call_started", "call_ended", "call_analyzed");
        assertThat(WebhookEvent.TRANSFERS).allMatch(WebhookEvent::isTransfer);
        assertThat(WebhookEvent.isTransfer("transfer_rerouted")).isTrue();
        assertThat(WebhookEvent.isTransfer(WebhookEvent.CALL_ENDED)).isFalse();
        assertThat(WebhookEvent.ALL).hasSize(9).containsAll(WebhookEvent.LIFECYCLE).containsAll(WebhookEvent.TRANSFERS)
                .contains("transcript_updated", "call_inbound");
    }
}
