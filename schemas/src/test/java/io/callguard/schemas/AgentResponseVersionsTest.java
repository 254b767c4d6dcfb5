package io.callguard.schemas;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

/** Answer records across schema versions: version 1 still read, version 2's fields kept and checked. */
class AgentResponseVersionsTest {

    private static final JsonSerde<AgentResponse> SERDE = JsonSerde.of(AgentResponse.class);

    /** A record as version 1 wrote it: no field version 2 added. */
    private static final String VERSION_1 = "{\"schema_version\":1,\"call_id\":\"call-1\",\"response_id\":3,"
            + "\"kind\":\"busy\",\"reason\":\"capacity\",\"content\":\"We are busy.\",\"content_complete\":true,"
            + "\"end_call\":true,\"chunk_index\":0,\"request_received_at_ms\":1700000000100,"
            + "\"created_at_ms\":1700000000105,\"edge_node\":\"node-a\"}";

    private static ObjectNode tree(String json) {
        try {
            return (ObjectNode) Json.mapper().readTree(json);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static ObjectNode fullTree() {
        return Json.mapper().valueToTree(SampleRecords.fullResponse("call-1"));
    }

    private static List<String> violations(JsonNode tree) {
        return RecordSchemas.violations(AgentResponse.class, tree);
    }

    @Test
    void shouldReadAVersionOneRecordWithTheDefaults() {
        // When
        AgentResponse read = SERDE.fromBytes(VERSION_1.getBytes(StandardCharsets.UTF_8));

        // Then
        assertThat(read).isEqualTo(new AgentResponse(1, "call-1", 3, ResponseKind.BUSY, "capacity", "We are busy.",
                true, Boolean.TRUE, 0, 1_700_000_000_100L, 1_700_000_000_105L, "node-a"));
        assertThat(read.scope()).isEqualTo(AgentResponse.SCOPE_TURN);
        assertThat(read.inTurn()).isTrue();
        assertThat(read.frames()).isEmpty();
        assertThat(read.interruptId()).isNull();
        assertThat(read.transferNumber()).isNull();
        assertThat(read.digitToPress()).isNull();
        assertThat(read.quietUntilMs()).isNull();
        assertThat(SERDE.fromTrustedBytes(VERSION_1.getBytes(StandardCharsets.UTF_8))).isEqualTo(read);
    }

    @Test
    void shouldRoundTripAVersionTwoRecordWithEveryFieldAndMatchTheSchema() {
        // Given
        AgentResponse full = SampleRecords.fullResponse("call-1");

        // When
        byte[] bytes = SERDE.toBytes(full);
        JsonNode written = tree(new String(bytes, StandardCharsets.UTF_8));

        // Then
        assertThat(SERDE.fromBytes(bytes)).isEqualTo(full);
        assertMatchesSchema(full);
        assertThat(written.path("schema_version").asInt()).isEqualTo(2);
        assertThat(written.path("scope").asText()).isEqualTo("interrupt");
        assertThat(written.path("interrupt_id").asLong()).isEqualTo(3);
        assertThat(written.path("transfer_number").asText()).isEqualTo("+15550100");
        assertThat(written.path("show_transferee_as_caller").asBoolean()).isTrue();
        assertThat(written.path("digit_to_press").asText()).isEqualTo("5");
        assertThat(written.path("no_interruption_allowed").asBoolean()).isTrue();
        assertThat(written.path("quiet_until_ms").asLong()).isEqualTo(1_700_000_010_000L);
        assertThat(written.path("frames")).extracting(f -> f.path("type").asText()).containsExactly(
                "tool_call_invocation", "tool_call_result", "update_agent", "metadata");
        assertThat(written.path("frames").get(0).path("tool_call_id").asText()).isEqualTo("tc-1");
        assertThat(written.path("frames").get(2).path("agent_config").path("responsiveness").asDouble())
                .isEqualTo(0.5);
    }

    @Test
    void shouldFailValidationForInvalidFrames() {
        // Given one broken frame at a time in an otherwise valid record
        List<String> brokenFrames = List.of(
                "{\"type\":\"tool_call_teleport\",\"tool_call_id\":\"tc-1\"}",
                "{\"tool_call_id\":\"tc-1\",\"name\":\"lookup\",\"arguments\":\"{}\"}",
                "{\"type\":\"tool_call_invocation\",\"tool_call_id\":\"\",\"name\":\"lookup\",\"arguments\":\"{}\"}",
                "{\"type\":\"tool_call_invocation\",\"tool_call_id\":\"tc-1\",\"name\":\"lookup\",\"arguments\":{}}",
                "{\"type\":\"tool_call_result\",\"tool_call_id\":\"tc-1\",\"content\":\"ok\",\"successful\":\"yes\"}",
                "{\"type\":\"update_agent\",\"agent_config\":[0.5]}",
                "\"tool_call_invocation\"");

        for (String frame : brokenFrames) {
            ObjectNode record = fullTree();
            ((ArrayNode) record.get("frames")).set(0, tree("{\"f\":" + frame + "}").get("f"));

            // Then the schema refuses it, and so does the reader
            assertThat(violations(record)).as(frame).isNotEmpty();
            byte[] bytes = record.toString().getBytes(StandardCharsets.UTF_8);
            assertThatThrownBy(() -> SERDE.fromBytes(bytes)).as(frame).isInstanceOf(SerializationException.class)
                    .hasMessageContaining("invalid AgentResponse");
        }
    }

    @Test
    void shouldFailValidationForFramesThatAreNotAListOrTooMany() {
        // Given
        ObjectNode notAList = fullTree();
        notAList.set("frames", tree("{\"type\":\"metadata\",\"metadata\":1}"));
        ObjectNode tooMany = fullTree();
        ArrayNode frames = tooMany.putArray("frames");
        for (int i = 0; i < 65; i++) {
            frames.addObject().put("type", "metadata").put("metadata", i);
        }

        // When / Then
        assertThat(violations(notAList)).isNotEmpty();
        assertThat(violations(tooMany)).isNotEmpty();
    }

    @Test
    void shouldRefuseAFrameMissingWhatItsTypeNeedsAndAnInterruptWithoutItsId() {
        // Given valid against the schema, refused by the record's own checks
        ObjectNode noName = fullTree();
        ((ObjectNode) noName.get("frames").get(0)).remove("name");
        ObjectNode noInterruptId = fullTree();
        noInterruptId.remove("interrupt_id");
        ObjectNode badScope = fullTree();
        badScope.put("scope", "everywhere");
        ObjectNode badDigit = fullTree();
        badDigit.put("digit_to_press", "12");

        // When / Then
        for (ObjectNode record : List.of(noName, noInterruptId)) {
            assertThatThrownBy(() -> SERDE.fromBytes(record.toString().getBytes(StandardCharsets.UTF_8)))
                    .as(record.toString()).isInstanceOf(SerializationException.class)
                    .hasMessageContaining("AgentResponse");
        }
        assertThat(violations(badScope)).isNotEmpty();
        assertThat(violations(badDigit)).isNotEmpty();
    }
}
