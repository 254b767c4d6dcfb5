package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Version-2 answer records at the edge: actions, frames, quiet periods, interrupts and call-level frames. */
class AgentVoiceTest {

    private static final AgentFrame LOOKUP = AgentFrame.toolCallInvocation("tc-1", "lookup_order", "{\"id\":\"A1\"}");
    private static final AgentFrame LOOKED_UP = AgentFrame.toolCallResult("tc-1", "shipped", true);
    private static final String INVOCATION_FRAME = "{\"response_type\":\"tool_call_invocation\",\"tool_call_id\":"
            + "\"tc-1\",\"name\":\"lookup_order\",\"arguments\":\"{\\\"id\\\":\\\"A1\\\"}\"}";
    private static final String RESULT_FRAME = "{\"response_type\":\"tool_call_result\",\"tool_call_id\":\"tc-1\","
            + "\"content\":\"shipped\",\"successful\":true}";

    private final EdgeFixture fx = new EdgeFixture();

    private static String response(long id, String content, boolean complete, String extra) {
        return "{\"response_type\":\"response\",\"response_id\":" + id + ",\"content\":\"" + content
                + "\",\"content_complete\":" + complete + extra + "}";
    }

    private static String interrupt(long id, String content, boolean complete, String extra) {
        return "{\"response_type\":\"agent_interrupt\",\"interrupt_id\":" + id + ",\"content\":\"" + content
                + "\",\"content_complete\":" + complete + extra + "}";
    }

    private static AgentResponse interruptChunk(long interruptId, int index, String content, boolean complete) {
        return chunk(0, index, content, complete, ResponseKind.GENERATED)
                .withScope(AgentResponse.SCOPE_INTERRUPT, interruptId);
    }

    private static AgentResponse callFrames(AgentFrame... frames) {
        return chunk(0, 0, "", false, ResponseKind.GENERATED).withScope(AgentResponse.SCOPE_CALL, null)
                .withFrames(List.of(frames), null);
    }

    @Test
    void shouldPutTheTurnsActionsOnlyOnItsCompleteFrameEndCallFirst() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When a transfer, then end_call, then a digit are asked on chunks before the last
        fx.deliver(chunk(1, 0, "Sure. ", false, ResponseKind.GENERATED).withActions(null, "+15550100", true, null));
        fx.deliver(chunk(1, 1, "Goodbye ", false, ResponseKind.GENERATED).withActions(true, null, null, null));
        fx.deliver(chunk(1, 2, "now.", true, ResponseKind.GENERATED).withActions(null, null, null, "5"));

        // Then only the complete frame acts, and only end_call
        assertThat(socket.frames()).containsExactly(
                response(1, "Sure. ", false, ""),
                response(1, "Goodbye ", false, ""),
                response(1, "now.", true, ",\"end_call\":true"));
        assertThat(fx.counter(EgressMetrics.ACTIONS_SENT, EgressMetrics.TAG_ACTION, "end_call",
                EgressMetrics.TAG_SCOPE, "turn")).isEqualTo(1.0);
    }

    @Test
    void shouldTransferBeforeADigitAndKeepTheFirstTransfer() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "Connecting you. ", false, ResponseKind.GENERATED)
                .withActions(null, null, null, "1"));
        fx.deliver(chunk(1, 1, "", false, ResponseKind.GENERATED).withActions(null, "+15550100", true, null));

        // When
        fx.deliver(chunk(1, 2, "Hold on.", true, ResponseKind.GENERATED).withActions(null, "+15550199", false, null));

        // Then
        assertThat(socket.frames().get(2)).isEqualTo(response(1, "Hold on.", true,
                ",\"transfer_number\":\"+15550100\",\"show_transferee_as_caller\":true"));
    }

    @Test
    void shouldPressTheDigitWhenItIsTheOnlyAction() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 2);

        // When
        fx.deliver(answer(2, "Pressing one.").withActions(null, null, null, "1"));

        // Then
        assertThat(socket.frames()).containsExactly(response(2, "Pressing one.", true, ",\"digit_to_press\":\"1\""));
    }

    @Test
    void shouldPutNoInterruptionAllowedOnItsOwnRecordsFrameOnly() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.deliver(chunk(1, 0, "Please listen. ", false, ResponseKind.GENERATED).withNoInterruptionAllowed(true));
        fx.deliver(chunk(1, 1, "Thanks.", true, ResponseKind.GENERATED));

        // Then
        assertThat(socket.frames()).containsExactly(
                response(1, "Please listen. ", false, ",\"no_interruption_allowed\":true"),
                response(1, "Thanks.", true, ""));
    }

    @Test
    void shouldHangUpOnTheWatchdogsClosingLineWhenTheAgentAskedBeforeItStalled() {
        // Given the agent said end_call on a chunk, then stopped
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "Thanks for calling.", false, ResponseKind.GENERATED)
                .withActions(true, null, null, null));

        // When
        fx.scheduler.advance(STALL_MS);

        // Then
        assertThat(socket.frames()).containsExactly(
                response(1, "Thanks for calling.", false, ""),
                response(1, " " + FALLBACK, true, ",\"end_call\":true"));
    }

    @Test
    void shouldCarryTheActionOnTheCompleteFrameResentOnAReconnect() {
        // Given the complete answer with a transfer arrived while the call was detached
        RecordingSocket a = fx.open("A");
        fx.request(a, 4);
        fx.deliver(chunk(4, 0, "Transferring ", false, ResponseKind.GENERATED));
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");
        fx.deliver(chunk(4, 1, "you now.", true, ResponseKind.GENERATED).withActions(null, "+15550100", null, null));

        // When
        RecordingSocket b = fx.open("B");

        // Then
        assertThat(b.frames()).containsExactly(response(4, "Transferring you now.", true,
                ",\"transfer_number\":\"+15550100\""));
    }

    @Test
    void shouldWriteToolFramesInOrderBeforeTheirRecordsContent() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 3);

        // When a holding line with the invocation, the result alone, then the follow-up answer arrive
        fx.deliver(chunk(3, 0, "Let me look that up. ", false, ResponseKind.GENERATED)
                .withFrames(List.of(LOOKUP), fx.clock.millis() + 10_000));
        fx.deliver(chunk(3, 1, "", false, ResponseKind.GENERATED).withFrames(List.of(LOOKED_UP), null));
        fx.deliver(chunk(3, 2, "It shipped.", true, ResponseKind.GENERATED));

        // Then
        assertThat(socket.frames()).containsExactly(
                INVOCATION_FRAME,
                response(3, "Let me look that up. ", false, ""),
                RESULT_FRAME,
                response(3, "It shipped.", true, ""));
        assertThat(fx.counter(EgressMetrics.AGENT_FRAMES_SENT, EgressMetrics.TAG_TYPE, "tool_call_invocation"))
                .isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.AGENT_FRAMES_SENT, EgressMetrics.TAG_TYPE, "tool_call_result"))
                .isEqualTo(1.0);
    }

    @Test
    void shouldDropADuplicateChunkAndARecordAfterCompleteWithTheirFrames() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 3);
        AgentResponse invoking = chunk(3, 0, "", false, ResponseKind.GENERATED).withFrames(List.of(LOOKUP), null);
        fx.deliver(invoking);

        // When the same chunk comes again, then the answer, then a record after it
        TurnLedger.Outcome duplicate = fx.deliver(invoking);
        fx.deliver(chunk(3, 1, "Done.", true, ResponseKind.GENERATED));
        TurnLedger.Outcome late = fx.deliver(chunk(3, 2, "", false, ResponseKind.GENERATED)
                .withFrames(List.of(LOOKED_UP), null));

        // Then the invocation went once, and nothing after the complete frame
        assertThat(duplicate).isEqualTo(TurnLedger.Outcome.DUPLICATE_CHUNK);
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(socket.frames()).containsExactly(INVOCATION_FRAME, response(3, "Done.", true, ""));
    }

    @Test
    void shouldSendALateFillersFramesButNotItsWords() {
        // Given the edge bridged at the budget
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(BUDGET_MS);

        // When the responder's holding line comes with the tool invocation
        TurnLedger.Outcome outcome = fx.deliver(chunk(1, 0, "Just a second. ", false, ResponseKind.FILLER)
                .withFrames(List.of(LOOKUP), null));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(socket.frames()).containsExactly(response(1, FILLER, false, ""), INVOCATION_FRAME);
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "late_filler"))
                .isEqualTo(1.0);
    }

    @Test
    void shouldCatchUpTheWordsOnlyOnAReconnectNotTheFrames() {
        // Given
        RecordingSocket a = fx.open("A");
        fx.request(a, 2);
        fx.deliver(chunk(2, 0, "Checking. ", false, ResponseKind.GENERATED).withFrames(List.of(LOOKUP), null));

        // When
        RecordingSocket b = fx.open("B");

        // Then
        assertThat(a.frames()).containsExactly(INVOCATION_FRAME, response(2, "Checking. ", false, ""));
        assertThat(b.frames()).containsExactly(response(2, "Checking. ", false, ""));
    }

    @Test
    void shouldNotCloseATurnWhileItsToolRunsThenCloseAtTheQuietEnd() {
        // Given words, then a tool that may take 20 s
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "Let me check. ", false, ResponseKind.GENERATED)
                .withFrames(List.of(LOOKUP), fx.clock.millis() + 20_000));

        // When the stall limit passes
        fx.scheduler.advance(STALL_MS);
        int framesAtStall = socket.frames().size();
        fx.scheduler.advance(20_000 - STALL_MS - 1);
        int framesBeforeQuietEnd = socket.frames().size();
        fx.scheduler.advance(1);

        // Then no closing line until the tool's own time is up
        assertThat(framesAtStall).isEqualTo(2);
        assertThat(framesBeforeQuietEnd).isEqualTo(2);
        assertThat(socket.frames()).last().isEqualTo(response(1, FALLBACK, true, ""));
    }

    @Test
    void shouldMoveTheFirstWordsDeadlineToTheQuietEndButNotPastTheHardCap() {
        // Given a turn whose first record only invokes a tool, quiet far beyond the hard cap
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "", false, ResponseKind.GENERATED)
                .withFrames(List.of(LOOKUP), fx.clock.millis() + MAX_ANSWER_MS * 2));

        // When
        fx.scheduler.advance(FIRST_WORDS_MS);
        int framesAtFirstWordsDeadline = socket.frames().size();
        fx.scheduler.advance(MAX_ANSWER_MS - FIRST_WORDS_MS - 1);
        int framesBeforeCap = socket.frames().size();
        fx.scheduler.advance(1);

        // Then bridged at the budget, closed at the cap
        assertThat(framesAtFirstWordsDeadline).isEqualTo(2);
        assertThat(framesBeforeCap).isEqualTo(2);
        assertThat(socket.frames()).containsExactly(INVOCATION_FRAME, response(1, FILLER, false, ""),
                response(1, FALLBACK, true, ""));
    }

    @Test
    void shouldSpeakTheLatestInterruptInChunkOrderWithItsActionOnTheCompleteChunk() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        TurnLedger.Outcome first = fx.deliver(interruptChunk(2, 0, "Before you go, ", false));
        TurnLedger.Outcome older = fx.deliver(interruptChunk(1, 0, "Old news.", true));
        TurnLedger.Outcome duplicate = fx.deliver(interruptChunk(2, 0, "Before you go, ", false));
        TurnLedger.Outcome last = fx.deliver(interruptChunk(2, 1, "goodbye.", true)
                .withActions(true, "+15550100", null, null));
        TurnLedger.Outcome afterComplete = fx.deliver(interruptChunk(2, 2, "More.", false));
        TurnLedger.Outcome newer = fx.deliver(interruptChunk(3, 0, "Also:", false).withNoInterruptionAllowed(true));

        // Then
        assertThat(List.of(first, older, duplicate, last, afterComplete, newer)).containsExactly(
                TurnLedger.Outcome.SENT, TurnLedger.Outcome.STALE_INTERRUPT, TurnLedger.Outcome.DUPLICATE_CHUNK,
                TurnLedger.Outcome.SENT, TurnLedger.Outcome.AFTER_COMPLETE, TurnLedger.Outcome.SENT);
        assertThat(socket.frames()).containsExactly(
                interrupt(2, "Before you go, ", false, ""),
                interrupt(2, "goodbye.", true, ",\"end_call\":true"),
                interrupt(3, "Also:", false, ",\"no_interruption_allowed\":true"));
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "stale_interrupt"))
                .isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.ACTIONS_SENT, EgressMetrics.TAG_ACTION, "end_call",
                EgressMetrics.TAG_SCOPE, "interrupt")).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.INTERRUPTS_SENT)).isEqualTo(3.0);
    }

    @Test
    void shouldLeaveTheTurnAloneWhenTheAgentInterrupts() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When an interrupt is said before the budget, and the turn's answer is late
        fx.deliver(interruptChunk(0, 0, "One thing first.", true));
        fx.scheduler.advance(BUDGET_MS);
        fx.deliver(answer(1, "Here it is."));

        // Then the turn was bridged as if nothing had been said, and answered
        assertThat(socket.frames()).containsExactly(interrupt(0, "One thing first.", true, ""),
                response(1, FILLER, false, ""), response(1, "Here it is.", true, ""));
    }

    @Test
    void shouldDropAndCountInterruptsAndCallFramesWhileTheCallIsDetached() {
        // Given
        RecordingSocket a = fx.open("A");
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");

        // When
        TurnLedger.Outcome interrupted = fx.deliver(interruptChunk(0, 0, "Hello?", true));
        TurnLedger.Outcome metadata = fx.deliver(callFrames(AgentFrame.metadata(parse("{\"step\":1}"))));
        RecordingSocket b = fx.open("B");

        // Then neither is held for the reconnect
        assertThat(List.of(interrupted, metadata)).containsOnly(TurnLedger.Outcome.NO_SOCKET);
        assertThat(b.frames()).isEmpty();
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "no_socket"))
                .isEqualTo(2.0);
    }

    @Test
    void shouldWriteCallFramesAtOnceAndDropAnAgentConfigRetellWouldRefuse() {
        // Given
        RecordingSocket socket = fx.open("c1");

        // When
        TurnLedger.Outcome outcome = fx.deliver(callFrames(
                AgentFrame.updateAgent(parse("{\"responsiveness\":0.5,\"reminder_max_count\":2}")),
                AgentFrame.updateAgent(parse("{\"interruption_sensitivity\":3}")),
                AgentFrame.updateAgent(parse("{\"responsiveness\":\"fast\"}")),
                AgentFrame.metadata(parse("{\"step\":1}"))));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(socket.frames()).containsExactly(
                "{\"response_type\":\"update_agent\",\"agent_config\":{\"responsiveness\":0.5,"
                        + "\"reminder_max_count\":2}}",
                "{\"response_type\":\"metadata\",\"metadata\":{\"step\":1}}");
        assertThat(fx.counter(EgressMetrics.AGENT_FRAMES_DROPPED, EgressMetrics.TAG_REASON, "invalid"))
                .isEqualTo(2.0);
        assertThat(fx.counter(EgressMetrics.AGENT_FRAMES_SENT, EgressMetrics.TAG_TYPE, "update_agent"))
                .isEqualTo(1.0);
    }
}
