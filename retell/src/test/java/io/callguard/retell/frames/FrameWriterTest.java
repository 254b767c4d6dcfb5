package io.callguard.retell.frames;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameWriterTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private static JsonNode wire(ServerFrame frame) throws Exception {
        return MAPPER.readTree(FrameWriter.write(frame));
    }

    @Test
    void shouldWriteAResponseWithExactTypes() throws Exception {
        JsonNode frame = wire(ServerFrame.Response.of(12, "Hello", false));

        assertThat(frame.get("response_type").isTextual()).isTrue();
        assertThat(frame.get("response_id").isIntegralNumber()).isTrue();
        assertThat(frame.get("content").isTextual()).isTrue();
        assertThat(frame.get("content_complete").isBoolean()).isTrue();
        assertThat(FrameWriter.write(ServerFrame.Response.of(12, "Hello", false)))
                .isEqualTo("{\"response_type\":\"response\",\"response_id\":12,\"content\":\"Hello\","
                        + "\"content_complete\":false}");
    }

    @Test
    void shouldLeaveUnsetOptionalFieldsAbsent() throws Exception {
        JsonNode response = wire(ServerFrame.Response.of(1, "a", true));
        JsonNode interrupt = wire(ServerFrame.AgentInterrupt.of(1, "a", true));
        JsonNode result = wire(new ServerFrame.ToolCallResult("t", "done", null));
        JsonNode config = wire(new ServerFrame.Config(true, true));
        JsonNode update = wire(new ServerFrame.UpdateAgent(new ServerFrame.AgentConfig(null, null, 5_000L, null)));

        assertThat(response.fieldNames()).toIterable()
                .containsExactly("response_type", "response_id", "content", "content_complete");
        assertThat(interrupt.fieldNames()).toIterable()
                .containsExactly("response_type", "interrupt_id", "content", "content_complete");
        assertThat(result.has("successful")).isFalse();
        assertThat(config.get("config").fieldNames()).toIterable().containsExactly("auto_reconnect", "call_details");
        assertThat(update.get("agent_config").fieldNames()).toIterable().containsExactly("reminder_trigger_ms");
    }

    @Test
    void shouldWriteOptionalFieldsWithExactTypesWhenSet() throws Exception {
        JsonNode frame = wire(ServerFrame.Response.of(3, "Transferring", true).withEndCall(false)
                .withTransfer("+15550001", true).withDigitToPress("1").withNoInterruptionAllowed(true));
        JsonNode tool = wire(new ServerFrame.ToolCallInvocation("t1", "lookup", "{\"order\":42}"));
        JsonNode update = wire(new ServerFrame.UpdateAgent(new ServerFrame.AgentConfig(1.0, 0.25, 8_000L, 2)));

        assertThat(frame.get("end_call").isBoolean()).isTrue();
        assertThat(frame.get("transfer_number").isTextual()).isTrue();
        assertThat(frame.get("show_transferee_as_caller").isBoolean()).isTrue();
        assertThat(frame.get("digit_to_press").isTextual()).isTrue();
        assertThat(frame.get("no_interruption_allowed").isBoolean()).isTrue();
        assertThat(tool.get("arguments").isTextual()).isTrue();
        assertThat(tool.get("arguments").textValue()).isEqualTo("{\"order\":42}");
        assertThat(update.get("agent_config").get("responsiveness").isNumber()).isTrue();
        assertThat(update.get("agent_config").get("reminder_trigger_ms").isIntegralNumber()).isTrue();
        assertThat(update.get("agent_config").get("reminder_max_count").isIntegralNumber()).isTrue();
    }

    @Test
    void shouldStayAbsentThroughARoundTrip() {
        ServerFrame.Response sent = ServerFrame.Response.of(4, "x", true);

        ServerFrame frame = ((ParseResult.Parsed<ServerFrame>) FrameParser.fromServer(FrameWriter.write(sent))).frame();

        assertThat(frame).isInstanceOf(ServerFrame.Response.class);
        ServerFrame.Response read = (ServerFrame.Response) frame;
        assertThat(read.endCall()).isNull();
        assertThat(read.transferNumber()).isNull();
        assertThat(read.showTransfereeAsCaller()).isNull();
        assertThat(read.digitToPress()).isNull();
        assertThat(read.noInterruptionAllowed()).isNull();
        assertThat(FrameWriter.write(read)).isEqualTo(FrameWriter.write(sent));
    }

    @Test
    void shouldWriteRetellFramesAsRetellSendsThem() throws Exception {
        String turn = FrameWriter.write(new RetellFrame.ResponseRequired(2, List.of(new Utterance("user", "Hi"))));
        String ping = FrameWriter.write(new RetellFrame.PingPong(1_750_000_000_123L));

        assertThat(turn).isEqualTo("{\"interaction_type\":\"response_required\",\"response_id\":2,"
                + "\"transcript\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
        assertThat(ping).isEqualTo("{\"interaction_type\":\"ping_pong\",\"timestamp\":1750000000123}");
    }

    @Test
    void shouldRefuseValuesOutOfTheirRange() {
        assertThatThrownBy(() -> new ServerFrame.AgentConfig(1.1, null, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("responsiveness");
        assertThatThrownBy(() -> new ServerFrame.AgentConfig(null, -0.1, null, null))
                .hasMessageContaining("interruption_sensitivity");
        assertThatThrownBy(() -> new ServerFrame.AgentConfig(null, null, 0L, null))
                .hasMessageContaining("reminder_trigger_ms");
        assertThatThrownBy(() -> new ServerFrame.AgentConfig(null, null, null, -1))
                .hasMessageContaining("reminder_max_count");
        assertThatThrownBy(() -> ServerFrame.Response.of(-1, "a", true)).hasMessageContaining("response_id");
        assertThatThrownBy(() -> new RetellFrame.ResponseRequired(-1, List.of())).hasMessageContaining("response_id");
    }
}
