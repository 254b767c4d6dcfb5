package io.callguard.retell.frames;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FrameParserTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    static Stream<RetellFrame> retellFrames() throws Exception {
        List<Utterance> transcript = List.of(new Utterance(Utterance.AGENT, "Hello"),
                new Utterance(Utterance.USER, "Hi", MAPPER.readTree("[{\"word\":\"Hi\",\"start\":0.1,\"end\":0.3}]")));
        return Stream.of(
                new RetellFrame.PingPong(1_750_000_000_123L),
                new RetellFrame.CallDetails(MAPPER.readTree("{\"call_id\":\"c1\",\"agent_id\":\"a\"}")),
                new RetellFrame.UpdateOnly(transcript, null, null),
                new RetellFrame.UpdateOnly(transcript, MAPPER.readTree("[{\"role\":\"tool_call_invocation\"}]"),
                        "user_turn"),
                new RetellFrame.ResponseRequired(3, transcript),
                new RetellFrame.ReminderRequired(4, List.of()),
                new RetellFrame.Unknown("new_kind", (ObjectNode) MAPPER.readTree(
                        "{\"interaction_type\":\"new_kind\",\"x\":1}")));
    }

    static Stream<ServerFrame> serverFrames() throws Exception {
        return Stream.of(
                new ServerFrame.Config(true, true),
                new ServerFrame.Config(false, true, true),
                new ServerFrame.PingPong(1_750_000_000_123L),
                ServerFrame.Response.of(0, "Hello", true),
                ServerFrame.Response.of(7, "Bye", true).withEndCall(true).withNoInterruptionAllowed(false),
                ServerFrame.Response.of(8, "Transferring", true).withTransfer("+15550001", true),
                ServerFrame.Response.of(9, "", false).withDigitToPress("5"),
                ServerFrame.AgentInterrupt.of(1, "One more thing", false),
                new ServerFrame.AgentInterrupt(2, "Bye", true, true, "+15550002", "#", true),
                new ServerFrame.ToolCallInvocation("t1", "lookup", "{\"order\":42}"),
                new ServerFrame.ToolCallResult("t1", "shipped", null),
                new ServerFrame.ToolCallResult("t1", "failed", false),
                new ServerFrame.UpdateAgent(new ServerFrame.AgentConfig(0.5, 1.0, 8_000L, 0)),
                new ServerFrame.UpdateAgent(new ServerFrame.AgentConfig(null, 0.0, null, null)),
                new ServerFrame.Metadata(MAPPER.readTree("{\"ticket\":\"T-1\",\"n\":[1,2]}")),
                new ServerFrame.Unknown("new_kind", (ObjectNode) MAPPER.readTree(
                        "{\"response_type\":\"new_kind\",\"y\":true}")));
    }

    @ParameterizedTest
    @MethodSource("retellFrames")
    void shouldRoundTripEveryRetellFrame(RetellFrame frame) {
        ParseResult<RetellFrame> parsed = FrameParser.fromRetell(FrameWriter.write(frame));

        assertThat(parsed).isInstanceOf(ParseResult.Parsed.class);
        ParseResult.Parsed<RetellFrame> usable = (ParseResult.Parsed<RetellFrame>) parsed;
        assertThat(usable.frame()).isEqualTo(frame);
        assertThat(usable.unknownFields()).isEmpty();
        assertThat(usable.tree().toString()).isEqualTo(FrameWriter.write(frame));
    }

    @ParameterizedTest
    @MethodSource("serverFrames")
    void shouldRoundTripEveryServerFrame(ServerFrame frame) {
        ParseResult<ServerFrame> parsed = FrameParser.fromServer(FrameWriter.write(frame));

        assertThat(parsed).isInstanceOf(ParseResult.Parsed.class);
        ParseResult.Parsed<ServerFrame> usable = (ParseResult.Parsed<ServerFrame>) parsed;
        assertThat(usable.frame()).isEqualTo(frame);
        assertThat(usable.unknownFields()).isEmpty();
    }

    @Test
    void shouldCoverEveryTypeInTheRoundTrips() throws Exception {
        assertThat(retellFrames().map(RetellFrame::type)).containsAll(InteractionType.ALL);
        assertThat(serverFrames().map(ServerFrame::type)).containsAll(ResponseType.ALL);
    }

    @Test
    void shouldDropUnknownFieldsButCountThem() {
        ParseResult<RetellFrame> parsed = FrameParser.fromRetell("{\"interaction_type\":\"response_required\","
                + "\"response_id\":2,\"new_field\":1,\"transcript\":[],\"other\":{}}");

        ParseResult.Parsed<RetellFrame> usable = (ParseResult.Parsed<RetellFrame>) parsed;
        assertThat(usable.frame()).isEqualTo(new RetellFrame.ResponseRequired(2, List.of()));
        assertThat(usable.unknownFields()).containsExactly("new_field", "other");
        assertThat(usable.unknownType()).isFalse();
        assertThat(usable.tree().has("new_field")).isTrue();
    }

    @Test
    void shouldDropUnknownServerFieldsButCountThem() {
        ParseResult<ServerFrame> parsed = FrameParser.fromServer("{\"response_type\":\"response\",\"response_id\":1,"
                + "\"content\":\"x\",\"content_complete\":true,\"emotion\":\"calm\"}");

        ParseResult.Parsed<ServerFrame> usable = (ParseResult.Parsed<ServerFrame>) parsed;
        assertThat(usable.frame()).isEqualTo(ServerFrame.Response.of(1, "x", true));
        assertThat(usable.unknownFields()).containsExactly("emotion");
    }

    @Test
    void shouldKeepUnknownTypesWithTheirWholeFrame() {
        ParseResult<RetellFrame> fromRetell = FrameParser.fromRetell("{\"interaction_type\":\"call_analysis\",\"a\":1}");
        ParseResult<ServerFrame> fromServer = FrameParser.fromServer("{\"response_type\":\"whisper\",\"b\":2}");

        ParseResult.Parsed<RetellFrame> retell = (ParseResult.Parsed<RetellFrame>) fromRetell;
        assertThat(retell.unknownType()).isTrue();
        assertThat(retell.frame().type()).isEqualTo("call_analysis");
        assertThat(((RetellFrame.Unknown) retell.frame()).raw().get("a").asInt()).isEqualTo(1);
        ParseResult.Parsed<ServerFrame> server = (ParseResult.Parsed<ServerFrame>) fromServer;
        assertThat(server.unknownType()).isTrue();
        assertThat(server.frame().type()).isEqualTo("whisper");
    }

    @Test
    void shouldTolerateMissingAndMistypedOptionalFieldsFromRetell() {
        ParseResult.Parsed<RetellFrame> ping = (ParseResult.Parsed<RetellFrame>)
                FrameParser.fromRetell("{\"interaction_type\":\"ping_pong\"}");
        ParseResult.Parsed<RetellFrame> update = (ParseResult.Parsed<RetellFrame>) FrameParser.fromRetell(
                "{\"interaction_type\":\"update_only\",\"transcript\":[{\"role\":\"user\"},7],\"turntaking\":3}");

        assertThat(ping.frame()).isEqualTo(new RetellFrame.PingPong(null));
        assertThat(update.frame()).isEqualTo(new RetellFrame.UpdateOnly(List.of(new Utterance("user", "")), null, null));
    }

    static Stream<Arguments> badRetellFrames() {
        return Stream.of(
                Arguments.of("not json {", FrameParser.INVALID_JSON),
                Arguments.of("{\"interaction_type\":\"ping_pong\"} trailing", FrameParser.INVALID_JSON),
                Arguments.of("", FrameParser.INVALID_JSON),
                Arguments.of("[1,2]", FrameParser.NOT_AN_OBJECT),
                Arguments.of("\"ping_pong\"", FrameParser.NOT_AN_OBJECT),
                Arguments.of("{\"timestamp\":1}", FrameParser.MISSING_INTERACTION_TYPE),
                Arguments.of("{\"interaction_type\":7}", FrameParser.MISSING_INTERACTION_TYPE),
                Arguments.of("{\"interaction_type\":\"\"}", FrameParser.INVALID_INTERACTION_TYPE),
                Arguments.of("{\"interaction_type\":\"" + "x".repeat(129) + "\"}", FrameParser.INVALID_INTERACTION_TYPE),
                Arguments.of("{\"interaction_type\":\"response_required\"}", FrameParser.INVALID_RESPONSE_ID),
                Arguments.of("{\"interaction_type\":\"response_required\",\"response_id\":\"1\"}",
                        FrameParser.INVALID_RESPONSE_ID),
                Arguments.of("{\"interaction_type\":\"reminder_required\",\"response_id\":-1}",
                        FrameParser.INVALID_RESPONSE_ID),
                Arguments.of("{\"interaction_type\":\"reminder_required\",\"response_id\":1.5}",
                        FrameParser.INVALID_RESPONSE_ID),
                Arguments.of("{\"interaction_type\":\"response_required\",\"response_id\":99999999999999999999}",
                        FrameParser.INVALID_RESPONSE_ID));
    }

    @ParameterizedTest
    @MethodSource("badRetellFrames")
    void shouldRefuseUnusableRetellFramesWithAReason(String text, String reason) {
        ParseResult<RetellFrame> parsed = FrameParser.fromRetell(text);

        assertThat(parsed).isInstanceOf(ParseResult.Failed.class);
        assertThat(((ParseResult.Failed<RetellFrame>) parsed).reason()).isEqualTo(reason);
        assertThat(((ParseResult.Failed<RetellFrame>) parsed).detail()).isNotBlank();
    }

    @Test
    void shouldAcceptATypeOfExactlyTheLimit() {
        String type = "x".repeat(FrameParser.MAX_TYPE_LENGTH);

        assertThat(FrameParser.fromRetell("{\"interaction_type\":\"" + type + "\"}"))
                .isInstanceOf(ParseResult.Parsed.class);
    }

    static Stream<Arguments> badServerFrames() {
        return Stream.of(
                Arguments.of("nope", FrameParser.INVALID_JSON),
                Arguments.of("3", FrameParser.NOT_AN_OBJECT),
                Arguments.of("{\"interaction_type\":\"ping_pong\"}", FrameParser.MISSING_RESPONSE_TYPE),
                Arguments.of("{\"response_type\":\"\"}", FrameParser.INVALID_RESPONSE_TYPE),
                Arguments.of("{\"response_type\":\"response\",\"response_id\":\"1\",\"content\":\"a\","
                        + "\"content_complete\":true}", FrameParser.INVALID_RESPONSE_ID),
                Arguments.of("{\"response_type\":\"response\",\"response_id\":1,\"content\":\"a\","
                        + "\"content_complete\":\"true\"}", FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"response\",\"response_id\":1,\"content\":5,"
                        + "\"content_complete\":true}", FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"response\",\"response_id\":1,\"content\":\"a\","
                        + "\"content_complete\":true,\"end_call\":\"yes\"}", FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"agent_interrupt\",\"interrupt_id\":-2,\"content\":\"a\","
                        + "\"content_complete\":true}", FrameParser.INVALID_INTERRUPT_ID),
                Arguments.of("{\"response_type\":\"tool_call_invocation\",\"tool_call_id\":\"t\",\"name\":\"n\","
                        + "\"arguments\":{\"a\":1}}", FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"update_agent\",\"agent_config\":{\"responsiveness\":1.5}}",
                        FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"update_agent\",\"agent_config\":{\"reminder_trigger_ms\":0}}",
                        FrameParser.INVALID_FIELD),
                Arguments.of("{\"response_type\":\"update_agent\"}", FrameParser.INVALID_FIELD));
    }

    @ParameterizedTest
    @MethodSource("badServerFrames")
    void shouldRefuseServerFramesRetellWouldDrop(String text, String reason) {
        ParseResult<ServerFrame> parsed = FrameParser.fromServer(text);

        assertThat(parsed).isInstanceOf(ParseResult.Failed.class);
        assertThat(((ParseResult.Failed<ServerFrame>) parsed).reason()).isEqualTo(reason);
    }

    @Test
    void shouldKeepTodaysReasonCodes() {
        assertThat(List.of(FrameParser.INVALID_JSON, FrameParser.NOT_AN_OBJECT, FrameParser.MISSING_INTERACTION_TYPE,
                FrameParser.INVALID_INTERACTION_TYPE, FrameParser.INVALID_RESPONSE_ID)).containsExactly("invalid_json",
                "not_an_object", "missing_interaction_type", "invalid_interaction_type", "invalid_response_id");
    }
}
