package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.Gauge;
import org.junit.jupiter.api.Test;

class ReconnectTest {

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldSendWholeOwedAnswerAsOneCompleteFrameOnTheNewSocket() {
        // Given socket A got two chunks, then died; the last chunk arrived while no socket was attached
        RecordingSocket a = fx.open("A");
        fx.request(a, 5);
        fx.deliver(chunk(5, 0, "Your order ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(5, 1, "ships ", false, ResponseKind.GENERATED));
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");
        TurnLedger.Outcome held = fx.deliver(chunk(5, 2, "today.", true, ResponseKind.GENERATED));

        // When
        fx.clock.advance(100);
        RecordingSocket b = fx.open("B");
        fx.scheduler.advance(10_000);

        // Then
        assertThat(held).isEqualTo(TurnLedger.Outcome.HELD);
        assertThat(b.frames()).hasSize(1);
        JsonNode frame = parse(b.frames().get(0));
        assertThat(frame.get("response_id").asLong()).isEqualTo(5);
        assertThat(frame.get("content").asText()).isEqualTo("Your order ships today.");
        assertThat(frame.get("content_complete").booleanValue()).isTrue();
        assertThat(fx.counter(EgressMetrics.RESPONSES_RESENT)).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.SOCKET_RECONNECTS, EgressMetrics.TAG_MODE, "dial_in")).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldCloseSupersededSocketWithConfiguredCodeAndMoveTheTurnToTheNewOne() {
        // Given socket A (still open) streamed part of the answer
        RecordingSocket a = fx.open("A");
        fx.request(a, 2);
        fx.deliver(chunk(2, 0, "Sure, ", false, ResponseKind.GENERATED));

        // When Retell opens socket B for the same call, then the rest of the answer arrives
        RecordingSocket b = fx.open("B");
        fx.deliver(chunk(2, 1, "done.", true, ResponseKind.GENERATED));
        fx.edge.registry().socketClosed(a, 4000, "superseded");

        // Then
        assertThat(a.isOpen()).isFalse();
        assertThat(a.closeCode()).isEqualTo(4000);
        assertThat(a.frames()).hasSize(1);
        assertThat(parsed(b)).extracting(f -> f.get("content").asText() + "|" + f.get("content_complete").asBoolean())
                .containsExactly("Sure, |false", "done.|true");
        assertThat(fx.counter(EgressMetrics.SOCKET_SUPERSEDED)).isEqualTo(1.0);
        assertThat(fx.edge.registry().current(CALL)).containsSame(b);
        Gauge connections = fx.meters.find(EgressMetrics.SOCKET_CONNECTIONS).gauge();
        assertThat(connections.value()).isEqualTo(1.0);
    }

    @Test
    void shouldBridgeAtOnceWhenTheBudgetIsSpentAtReconnectAndCloseAtTheFirstWordsDeadline() {
        // Given a request on A, then A dropped and nothing arrived within the budget
        RecordingSocket a = fx.open("A");
        fx.request(a, 3);
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");
        fx.scheduler.advance(BUDGET_MS + 200);

        // When
        RecordingSocket b = fx.open("B");

        // Then the filler at once, the turn still open
        assertThat(parsed(b)).singleElement().satisfies(frame -> {
            assertThat(frame.get("response_id").asLong()).isEqualTo(3);
            assertThat(frame.get("content").asText()).isEqualTo(FILLER);
            assertThat(frame.get("content_complete").booleanValue()).isFalse();
        });

        // When nothing comes by the first-words deadline
        fx.scheduler.advance(FIRST_WORDS_MS - BUDGET_MS - 200);

        // Then the closing line completes it on B, and a late answer is dropped
        assertThat(parsed(b)).extracting(f -> f.get("content_complete").asBoolean()).containsExactly(false, true);
        assertThat(parsed(b).get(1).get("content").asText()).isEqualTo(FALLBACK);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isEqualTo(1.0);
        assertThat(fx.deliver(answer(3, "too late"))).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
    }

    @Test
    void shouldDeliverAnswerArrivingAfterReconnectToTheNewSocket() {
        // Given
        RecordingSocket a = fx.open("A");
        fx.request(a, 1);
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");
        RecordingSocket b = fx.open("B");

        // When
        fx.deliver(answer(1, "Here you go."));
        fx.scheduler.advance(10_000);

        // Then
        assertThat(a.frames()).isEmpty();
        assertThat(parsed(b)).extracting(f -> f.get("content").asText()).containsExactly("Here you go.");
    }

    @Test
    void shouldNotResendTurnCompletedOnTheOldSocket() {
        // Given
        RecordingSocket a = fx.open("A");
        fx.request(a, 1);
        fx.deliver(answer(1, "Done."));

        // When
        RecordingSocket b = fx.open("B");
        fx.scheduler.advance(10_000);

        // Then
        assertThat(b.frames()).isEmpty();
    }

    @Test
    void shouldResendCompletedAnswerWhenTheNewSocketAsksForTheSameIdAgain() {
        // Given turn 1 completed on A, then Retell reconnected and repeated its request for id 1
        RecordingSocket a = fx.open("A");
        fx.request(a, 1);
        fx.deliver(answer(1, "Done."));
        RecordingSocket b = fx.open("B");

        // When
        fx.request(b, 1);
        fx.scheduler.advance(10_000);

        // Then
        assertThat(parsed(b)).extracting(f -> f.get("content").asText() + "|" + f.get("content_complete").asBoolean())
                .containsExactly("Done.|true");
    }

    @Test
    void shouldAnswerNewSocketWhoseResponseIdsRestart() {
        // Given ids reached 7 on A; B starts counting again at 1
        RecordingSocket a = fx.open("A");
        fx.request(a, 7);
        fx.deliver(answer(7, "Seven."));
        RecordingSocket b = fx.open("B");

        // When
        fx.request(b, 1);
        TurnLedger.Outcome oldNumbering = fx.deliver(answer(8, "from A's numbering"));
        TurnLedger.Outcome answer = fx.deliver(answer(1, "One."));

        // Then
        assertThat(oldNumbering).isEqualTo(TurnLedger.Outcome.UNREQUESTED);
        assertThat(answer).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(parsed(b)).extracting(f -> f.get("content").asText()).containsExactly("One.");
    }

    @Test
    void shouldDeliverAnswerOwedFromBeforeAReconnectToAnotherNode() {
        // Given this node just received the call's new socket and has seen no request on it
        RecordingSocket b = fx.open("B");
        AgentResponse owed = new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, 4, ResponseKind.GENERATED, null,
                "Part one, ", false, null, 0, fx.clock.millis() - 100, T0, "node-a");

        // When the answer streams in, then stalls
        fx.deliver(owed);
        fx.scheduler.advance(STALL_MS);

        // Then it is written, and the watchdog completes the turn at the stall limit
        assertThat(parsed(b)).extracting(f -> f.get("content_complete").asBoolean()).containsExactly(false, true);
        assertThat(parsed(b).get(1).get("response_id").asLong()).isEqualTo(4);
    }

    @Test
    void shouldIgnoreTheSameSocketOpenedTwiceAndStaleCloseOfSupersededSocket() {
        // Given
        RecordingSocket a = fx.open("A");
        fx.edge.registry().socketOpened(a);
        RecordingSocket b = fx.open("B");

        // When the old socket's close arrives after B took over
        fx.edge.registry().socketClosed(a, 4000, "superseded");

        // Then
        assertThat(fx.edge.registry().current(CALL)).containsSame(b);
        assertThat(fx.counter(EgressMetrics.SOCKET_RECONNECTS, EgressMetrics.TAG_MODE, "dial_in")).isEqualTo(1.0);
    }

    @Test
    void shouldForgetCallAfterRetentionWithoutReconnect() {
        // Given
        RecordingSocket a = fx.open("A");
        fx.request(a, 1);
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");

        // When
        fx.scheduler.advance(30_000);

        // Then
        assertThat(fx.edge.ledger().size()).isZero();
        assertThat(fx.deliver(answer(1, "nobody to hear it"))).isEqualTo(TurnLedger.Outcome.NOT_HELD);
    }

    @Test
    void shouldBridgeATurnAskedAsTheSocketOfACallNewHereOpensSoonerThanTheBudget() {
        // Given a call this node never held (its node died mid-turn), whose new socket asks for turn 7 at once
        RecordingSocket moved = fx.open("moved");
        fx.clock.advance(20);
        fx.request(moved, 7);

        // When nothing is there for it (its answer may be on a partition whose responder died too)
        fx.scheduler.advance(TurnLedger.TAKEOVER_BRIDGE_MS);

        // Then the filler is said at once (the caller had waited on the dead node), the turn still open
        assertThat(parsed(moved)).singleElement().satisfies(frame -> {
            assertThat(frame.get("response_id").asLong()).isEqualTo(7);
            assertThat(frame.get("content").asText()).isEqualTo(FILLER);
            assertThat(frame.get("content_complete").booleanValue()).isFalse();
        });
        assertThat(fx.counter(EgressMetrics.TURNS_TAKEN_OVER)).isEqualTo(1.0);

        // And the answer follows it whole
        fx.deliver(answer(7, "Here you go."));
        assertThat(parsed(moved)).extracting(f -> f.get("content").asText() + "|" + f.get("content_complete").asBoolean())
                .containsExactly(FILLER + "|false", "Here you go.|true");
    }

    @Test
    void shouldBridgeAtTheBudgetAFirstTurnOrOneAskedWellAfterTheSocketOpened() {
        // Given a new call's first turn at once, and a moved call's turn asked 300 ms after its socket opened
        RecordingSocket fresh = fx.open("call-fresh", "f");
        fx.request(fresh, 1);
        RecordingSocket later = fx.open("call-later", "l");
        fx.clock.advance(TurnLedger.TAKEOVER_WINDOW_MS + 50);
        fx.scheduler.advance(0);
        fx.request(later, 9);

        // When 100 ms more than the takeover bridge time pass
        fx.scheduler.advance(TurnLedger.TAKEOVER_BRIDGE_MS + 100);

        // Then neither is bridged yet: their budget is the usual one
        assertThat(parsed(fresh)).isEmpty();
        assertThat(parsed(later)).isEmpty();
        assertThat(fx.counter(EgressMetrics.TURNS_TAKEN_OVER)).isZero();
        fx.scheduler.advance(BUDGET_MS - 100);
        assertThat(parsed(fresh)).singleElement().satisfies(f -> assertThat(f.get("content").asText()).isEqualTo(FILLER));
        assertThat(parsed(later)).singleElement().satisfies(f -> assertThat(f.get("content").asText()).isEqualTo(FILLER));
    }

    @Test
    void shouldNotTreatAReconnectToTheNodeThatHeldTheCallAsATakeover() {
        // Given a call held here from its first turn, its socket dropped between turns and opened again, asking
        // turn 4 at once
        RecordingSocket a = fx.open("A");
        fx.request(a, 1);
        fx.deliver(answer(1, "Done."));
        fx.clock.advance(1_000);
        fx.request(a, 3);
        fx.deliver(answer(3, "Done again."));
        a.drop();
        fx.edge.registry().socketClosed(a, 1006, "");
        RecordingSocket b = fx.open("B");
        fx.request(b, 4);

        // When 100 ms more than the takeover bridge time pass
        fx.scheduler.advance(TurnLedger.TAKEOVER_BRIDGE_MS + 100);

        // Then nothing is said yet: the budget is the usual one
        assertThat(parsed(b)).isEmpty();
        assertThat(fx.counter(EgressMetrics.TURNS_TAKEN_OVER)).isZero();
    }

    @Test
    void shouldSayTheAnswerThatWentToTheNodeTheCallLeftWhenItsTurnIsAskedAgainHere() {
        // Given the answer to turn 6 of a call held by another node, streamed whole while that node held the socket
        // (it died before, or while, saying it)
        TurnLedger.Outcome elsewhere = fx.deliver(chunk(6, 0, "Your order ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(6, 1, "ships today.", true, ResponseKind.GENERATED));

        // When the call moves here and Retell asks for turn 6 again
        fx.clock.advance(300);
        RecordingSocket moved = fx.open("moved");
        fx.clock.advance(20);
        fx.request(moved, 6);
        fx.scheduler.advance(FIRST_WORDS_MS + 1_000);

        // Then the answer is said at once, whole, with no filler and no closing line after it
        assertThat(elsewhere).isEqualTo(TurnLedger.Outcome.NOT_HELD);
        assertThat(parsed(moved)).extracting(f -> f.get("response_id").asLong() + "|" + f.get("content").asText() + "|"
                + f.get("content_complete").asBoolean()).containsExactly("6|Your order |false", "6|ships today.|true");
        assertThat(fx.counter(EgressMetrics.RESPONSES_RESENT)).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
        assertThat(fx.edge.ledger().heldElsewhereCount()).isZero();
    }

    @Test
    void shouldSayTheKeptStartOfAnAnswerThenStreamTheRestWhenTheCallMovedMidAnswer() {
        // Given the first chunk of turn 3's answer went to the node that held the call
        fx.deliver(chunk(3, 0, "Let me ", false, ResponseKind.GENERATED));

        // When the call's socket opens here and, before Retell asks again, the answer's next chunk arrives
        RecordingSocket moved = fx.open("moved");
        fx.deliver(chunk(3, 1, "check.", true, ResponseKind.GENERATED));

        // Then the caller hears the whole answer, its start first
        assertThat(parsed(moved)).extracting(f -> f.get("content").asText() + "|" + f.get("content_complete").asBoolean())
                .containsExactly("Let me |false", "check.|true");
    }

    @Test
    void shouldNotSayAnAnswerKeptForAnotherTurnOrKeptTooLong() {
        // Given answers of two calls held elsewhere: call-old's turn 4 long ago, call-other's turn 2
        fx.deliver(new AgentResponse(AgentResponse.SCHEMA_VERSION, "call-old", 4, ResponseKind.GENERATED, null,
                "Stale.", true, null, 0, fx.clock.millis(), T0, "node-a"));
        fx.deliver(new AgentResponse(AgentResponse.SCHEMA_VERSION, "call-other", 2, ResponseKind.GENERATED, null,
                "Turn two.", true, null, 0, fx.clock.millis(), T0, "node-a"));
        fx.clock.advance(HeldElsewhere.TTL_MS + 1);

        // When both move here, call-old asking turn 4 again, call-other asking turn 3
        RecordingSocket old = fx.open("call-old", "o");
        fx.request(old, 4);
        RecordingSocket other = fx.open("call-other", "p");
        fx.request(other, 3);
        fx.scheduler.advance(BUDGET_MS);

        // Then neither kept answer is said: each turn is bridged as any other would be
        assertThat(parsed(old)).extracting(f -> f.get("content").asText()).containsExactly(FILLER);
        assertThat(parsed(other)).extracting(f -> f.get("content").asText()).containsExactly(FILLER);
        assertThat(fx.counter(EgressMetrics.RESPONSES_RESENT)).isZero();
    }
}
