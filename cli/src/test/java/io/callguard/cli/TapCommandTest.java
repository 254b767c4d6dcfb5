package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.SampleRecords;
import io.callguard.schemas.Topics;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** How tap prints an answer record: its value, and beside it its scope and what it does besides words. */
class TapCommandTest {

    private static final String RESPONSES = Topics.defaults().responses().name();

    private static ConsumerRecord<String, byte[]> record(String topic, byte[] value) {
        return new ConsumerRecord<>(topic, 0, 12, "call-1", value);
    }

    @Test
    void shouldShowAnAnswersScopeAndEffectsBesideItsValue() {
        // Given
        byte[] value = JsonSerde.of(AgentResponse.class).toBytes(SampleRecords.fullResponse("call-1"));

        // When
        ObjectNode node = TapCommand.node(record(RESPONSES, value));
        String pretty = TapCommand.pretty(node);

        // Then
        assertThat(node.path("value").path("transfer_number").asText()).isEqualTo("+15550100");
        assertThat(node.path("scope").asText()).isEqualTo("interrupt 3");
        assertThat(node.path("effects")).extracting(e -> e.asText()).startsWith(
                "tool_call_invocation lookup_order({\"order_id\":\"A1\"}) [tc-1]").contains("end_call",
                "transfer +15550100 (caller's number shown)", "digit 5");
        assertThat(pretty.lines().findFirst().orElseThrow()).endsWith("key=call-1  interrupt 3  "
                + "[tool_call_invocation lookup_order({\"order_id\":\"A1\"}) [tc-1], tool_call_result [tc-1] ok: "
                + "shipped, update_agent {\"responsiveness\":0.5,\"reminder_max_count\":2}, metadata "
                + "{\"step\":\"lookup\",\"n\":1}, quiet 9895 ms, no_interruption, end_call, transfer +15550100 "
                + "(caller's number shown), digit 5]");
    }

    @Test
    void shouldPrintWordsAloneAndOtherTopicsAsBefore() {
        // Given
        byte[] words = JsonSerde.of(AgentResponse.class).toBytes(
                SampleRecords.response("call-1", 2, ResponseKind.GENERATED));
        byte[] notAnAnswer = "{\"call_id\":\"call-1\"}".getBytes(StandardCharsets.UTF_8);

        // When
        ObjectNode answer = TapCommand.node(record(RESPONSES, words));
        ObjectNode unreadable = TapCommand.node(record(RESPONSES, notAnAnswer));
        ObjectNode event = TapCommand.node(record(Topics.defaults().callEvents().name(), words));

        // Then
        for (ObjectNode node : new ObjectNode[] {answer, unreadable, event}) {
            assertThat(node.has("effects")).isFalse();
            assertThat(node.has("scope")).isFalse();
            assertThat(node.has("value")).isTrue();
        }
    }
}
