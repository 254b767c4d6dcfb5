package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ledger as the socket's one writer of responses: the begin message said now by the edge (the busy line with
 * end_call, a reconnect's empty begin, the greeting) as id 0's one complete frame, and the pipeline's hold and busy
 * lines delivered like any answer, end_call on the complete frame of the latest response id.
 */
class CapacityLinesTest {

    private static final String GREETING = "Hello! How can I help you today?";
    private static final String BUSY = "All our agents are busy. Please call again later.";
    private static final String HOLD = "Thanks for waiting, you are next in line.";

    private final EdgeFixture fx = new EdgeFixture();

    private static String response(long id, String content, boolean complete, String extra) {
        return "{\"response_type\":\"response\",\"response_id\":" + id + ",\"content\":\"" + content
                + "\",\"content_complete\":" + complete + extra + "}";
    }

    private static AgentResponse busy(long responseId) {
        return chunk(responseId, 0, BUSY, true, ResponseKind.BUSY).withActions(true, null, null, null);
    }

    private static AgentResponse hold(long responseId) {
        return chunk(responseId, 0, HOLD, true, ResponseKind.HOLD);
    }

    // ---- the begin said now

    @Test
    void shouldSayTheBusyLineWithEndCallExactlyOnceAtTheBegin() {
        // Given a socket of a call known refused
        RecordingSocket socket = fx.open("c1");

        // When the edge says the busy line now, then the pipeline's busy record for id 0 comes too
        fx.sayBegin(socket, BUSY, true);
        TurnLedger.Outcome late = fx.deliver(busy(0));
        fx.scheduler.advance(60_000);

        // Then one complete frame for id 0, with end_call; the record is dropped, not said twice
        assertThat(socket.frames()).containsExactly(response(0, BUSY, true, ",\"end_call\":true"));
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(fx.counter(EgressMetrics.ACTIONS_SENT, EgressMetrics.TAG_ACTION, "end_call",
                EgressMetrics.TAG_SCOPE, "turn")).isEqualTo(1.0);
        // And the edge counted the busy line it said, at the begin
        assertThat(fx.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_BEGIN)).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_RECONNECT)).isZero();
    }

    @Test
    void shouldCountTheEdgesBusyLineOnAReconnectOfARefusedCallAndNotTheGreeting() {
        // Given a refused call that heard the busy line on its first socket
        RecordingSocket first = fx.open("c1");
        fx.sayBegin(first, BUSY, true);

        // When Retell reconnects it and the edge says the busy line there too, and another call is greeted
        RecordingSocket second = fx.open("c2");
        fx.sayBegin(second, BUSY, true);
        fx.sayBegin(second, BUSY, true);
        RecordingSocket other = fx.open("other-call", "c3");
        fx.sayBegin(other, GREETING, false);

        // Then each busy line said is counted once, where it was said; the greeting is not a busy line
        assertThat(second.frames()).containsExactly(response(0, BUSY, true, ",\"end_call\":true"));
        assertThat(fx.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_BEGIN)).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_RECONNECT))
                .isEqualTo(1.0);
    }

    @Test
    void shouldSayTheGreetingNowAsTurnZeroAndLetTheCallerSpeakAfter() {
        // Given
        RecordingSocket socket = fx.open("c1");

        // When the greeting is said now, twice by mistake, then the caller speaks
        fx.sayBegin(socket, GREETING, false);
        fx.sayBegin(socket, GREETING, false);
        fx.request(socket, 1);
        fx.deliver(answer(1, "Sure."));

        // Then one begin, then the answer; the watchdog never bridges turn 0
        fx.scheduler.advance(60_000);
        assertThat(socket.frames()).containsExactly(response(0, GREETING, true, ""), response(1, "Sure.", true, ""));
    }

    @Test
    void shouldSayAnEmptyBeginOnAReconnectWithoutGreetingAgain() {
        // Given a call greeted on its first socket, that then had a turn
        RecordingSocket first = greetedAndAnswered();

        // When Retell reconnects and the edge says the reconnect's empty begin
        RecordingSocket second = fx.open("c2");
        fx.sayBegin(second, "", false);

        // Then the new socket gets one empty complete id 0, and the completed turn is not re-sent
        assertThat(second.frames()).containsExactly(response(0, "", true, ""));
        assertThat(first.frames()).containsExactly(response(0, GREETING, true, ""), response(1, "Sure.", true, ""));
    }

    @Test
    void shouldSayAnEmptyBeginOnAReconnectBeforeAnyTurn() {
        // Given a call whose begin completed on its first socket
        RecordingSocket first = fx.open("c1");
        fx.sayBegin(first, GREETING, false);

        // When
        RecordingSocket second = fx.open("c2");
        fx.sayBegin(second, "", false);

        // Then
        assertThat(second.frames()).containsExactly(response(0, "", true, ""));
        assertThat(completes(first)).isEqualTo(1);
    }

    @Test
    void shouldWriteNothingOnASupersededSocket() {
        // Given a socket superseded by a reconnect before its begin was said
        RecordingSocket first = fx.open("c1");
        RecordingSocket second = fx.open("c2");

        // When
        fx.sayBegin(first, GREETING, false);

        // Then
        assertThat(first.frames()).isEmpty();
        assertThat(second.frames()).isEmpty();
    }

    @Test
    void shouldLeaveAnOwedBeginOwedOnAReconnectsEmptyBegin() {
        // Given a begin owed to the pipeline, bridged by the greeting, when Retell reconnects
        RecordingSocket second = reconnectAfterABridgedBegin();

        // When the edge says the reconnect's empty begin, then the pipeline's begin arrives
        fx.sayBegin(second, "", false);
        fx.deliver(answer(0, "This is Ada."));
        fx.scheduler.advance(60_000);

        // Then the new socket is caught up, and the pipeline's begin completes id 0 there, once
        assertThat(second.frames()).containsExactly(response(0, GREETING + " ", false, ""),
                response(0, "This is Ada.", true, ""));
    }

    @Test
    void shouldCompleteAnOwedBeginWithTheBusyLineOnAReconnect() {
        // Given a begin owed, bridged by the greeting, when the call is found refused on a reconnect
        RecordingSocket second = reconnectAfterABridgedBegin();

        // When the edge says the busy line now
        fx.sayBegin(second, BUSY, true);
        fx.scheduler.advance(60_000);

        // Then it completes id 0 after the greeting, with end_call, and the watchdog adds nothing
        assertThat(second.frames()).containsExactly(response(0, GREETING + " ", false, ""),
                response(0, BUSY, true, ",\"end_call\":true"));
        assertThat(fx.counter(EgressMetrics.TURN_OUTCOMES, EgressMetrics.TAG_OUTCOME, EgressMetrics.OUTCOME_CLOSED,
                EgressMetrics.TAG_REASON, EgressMetrics.REASON_BUSY)).isEqualTo(1.0);
    }

    /** A call greeted at once on its first socket, whose turn 1 was then answered "Sure.". */
    private RecordingSocket greetedAndAnswered() {
        RecordingSocket socket = fx.open("c1");
        fx.sayBegin(socket, GREETING, false);
        fx.request(socket, 1);
        fx.deliver(answer(1, "Sure."));
        return socket;
    }

    /** A call whose owed begin was bridged by the greeting on its first socket, then its second socket. */
    private RecordingSocket reconnectAfterABridgedBegin() {
        RecordingSocket first = fx.open("c1");
        fx.begin(first);
        fx.scheduler.advance(BUDGET_MS);
        return fx.open("c2");
    }

    // ---- the pipeline's hold and busy lines

    @Test
    void shouldDeliverTheHoldLineLikeAnAnswerForTheBeginAndEveryTurn() {
        // Given a queued call: its begin owed, then the caller speaks
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When the hold line answers the begin, then turn 1, then the agent starts with an interrupt
        TurnLedger.Outcome begin = fx.deliver(hold(0));
        fx.request(socket, 1);
        TurnLedger.Outcome turn = fx.deliver(hold(1));
        fx.deliver(chunk(0, 0, GREETING, true, ResponseKind.GENERATED).withScope(AgentResponse.SCOPE_INTERRUPT, 1L));
        fx.scheduler.advance(60_000);

        // Then each is said once, complete, and the watchdog adds nothing
        assertThat(List.of(begin, turn)).containsOnly(TurnLedger.Outcome.SENT);
        assertThat(socket.frames()).containsExactly(response(0, HOLD, true, ""), response(1, HOLD, true, ""),
                "{\"response_type\":\"agent_interrupt\",\"interrupt_id\":1,\"content\":\"" + GREETING
                        + "\",\"content_complete\":true}");
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldCompleteAnOwedBeginWithTheBusyRecordAndEndCall() {
        // Given a begin owed, bridged by the greeting at the budget
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);
        fx.scheduler.advance(BUDGET_MS);

        // When the responder's busy record for id 0 comes
        fx.deliver(busy(0));
        fx.scheduler.advance(60_000);

        // Then
        assertThat(socket.frames()).containsExactly(response(0, GREETING + " ", false, ""),
                response(0, BUSY, true, ",\"end_call\":true"));
    }

    @Test
    void shouldCompleteTheLatestTurnWithTheBusyLineAndEndCall() {
        // Given turn 1 superseded by turn 2, which the edge bridged with a filler
        RecordingSocket socket = fx.open("c1");
        fx.sayBegin(socket, GREETING, false);
        fx.request(socket, 1);
        fx.request(socket, 2);
        fx.scheduler.advance(BUDGET_MS);

        // When busy records come for both ids
        TurnLedger.Outcome older = fx.deliver(busy(1));
        TurnLedger.Outcome latest = fx.deliver(busy(2));
        TurnLedger.Outcome again = fx.deliver(busy(2));
        fx.scheduler.advance(60_000);

        // Then the latest turn completes with the busy line and end_call, once
        assertThat(List.of(older, latest, again)).containsExactly(TurnLedger.Outcome.STALE,
                TurnLedger.Outcome.SENT, TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(socket.frames()).containsExactly(response(0, GREETING, true, ""),
                response(2, FILLER, false, ""), response(2, BUSY, true, ",\"end_call\":true"));
    }

    @Test
    void shouldEndACallWhoseTurnsCompletedWithABusyInterrupt() {
        // Given a call whose turns all completed (a completed id cannot take content)
        RecordingSocket socket = greetedAndAnswered();

        // When it is refused later (queue timeout): the busy line as an interrupt with end_call
        TurnLedger.Outcome sent = fx.deliver(busy(0).withScope(AgentResponse.SCOPE_INTERRUPT, 1L));

        // Then
        assertThat(sent).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(socket.frames()).last().isEqualTo("{\"response_type\":\"agent_interrupt\",\"interrupt_id\":1,"
                + "\"content\":\"" + BUSY + "\",\"content_complete\":true,\"end_call\":true}");
        assertThat(fx.counter(EgressMetrics.ACTIONS_SENT, EgressMetrics.TAG_ACTION, "end_call",
                EgressMetrics.TAG_SCOPE, "interrupt")).isEqualTo(1.0);
    }
}
