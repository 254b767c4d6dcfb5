package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TurnWatchdogTest {

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldBridgeAtTheBudgetThenCloseAtTheFirstWordsDeadlineWhenNothingArrives() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.scheduler.advance(BUDGET_MS - 1);
        int framesBeforeBudget = socket.frames().size();
        fx.scheduler.advance(1);

        // Then a filler at the budget, not complete, with Retell's exact types
        assertThat(framesBeforeBudget).isZero();
        JsonNode filler = parse(socket.frames().get(0));
        assertThat(filler.get("response_type").asText()).isEqualTo("response");
        assertThat(filler.get("response_id").isIntegralNumber()).isTrue();
        assertThat(filler.get("response_id").asLong()).isEqualTo(1);
        assertThat(filler.get("content").asText()).isEqualTo(FILLER);
        assertThat(filler.get("content_complete").isBoolean()).isTrue();
        assertThat(filler.get("content_complete").booleanValue()).isFalse();

        // When nothing more comes
        fx.scheduler.advance(60_000);

        // Then exactly one closing line, at the first-words deadline
        assertThat(socket.frames()).hasSize(2);
        JsonNode closing = parse(socket.frames().get(1));
        assertThat(closing.get("content").asText()).isEqualTo(FALLBACK);
        assertThat(closing.get("content_complete").booleanValue()).isTrue();
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.EDGE_FILLERS)).isEqualTo(1.0);
        assertThat(fx.meters.find(EgressMetrics.TURN_LATENCY).tag(EgressMetrics.TAG_KIND, "fallback").timer()
                .totalTime(TimeUnit.MILLISECONDS)).isEqualTo((double) FIRST_WORDS_MS);
        assertThat(fx.counter(EgressMetrics.TURN_OVER_BUDGET, EgressMetrics.TAG_KIND, "fallback")).isZero();
    }

    @Test
    void shouldNotBridgeWhenAnswerArrivesOneMillisecondBeforeBudget() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.scheduler.advance(BUDGET_MS - 1);
        fx.deliver(answer(1, "Just in time."));
        fx.scheduler.advance(60_000);

        // Then
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly("Just in time.");
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
        assertThat(fx.counter(EgressMetrics.TURN_OVER_BUDGET, EgressMetrics.TAG_KIND, "generated")).isZero();
    }

    @Test
    void shouldSpeakTheAnswerAfterTheEdgeFillerInTheSameResponse() {
        // Given the budget passed: the edge said its filler
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(BUDGET_MS + 500);

        // When the answer arrives
        TurnLedger.Outcome outcome = fx.deliver(answer(1, "Here it is."));

        // Then it is spoken whole after the filler, and nothing more follows
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly(FILLER, "Here it is.");
        fx.scheduler.advance(60_000);
        assertThat(completes(socket)).isEqualTo(1);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldDropTheRespondersFillerWhenTheEdgeAlreadyBridged() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(BUDGET_MS);

        // When the responder's own filler arrives late, then its answer
        TurnLedger.Outcome filler = fx.deliver(chunk(1, 0, "Just a second. ", false, ResponseKind.FILLER));
        TurnLedger.Outcome answer = fx.deliver(chunk(1, 1, "Yes.", true, ResponseKind.GENERATED));

        // Then the caller hears one filler and the answer
        assertThat(filler).isEqualTo(TurnLedger.Outcome.LATE_FILLER);
        assertThat(answer).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly(FILLER, "Yes.");
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "late_filler"))
                .isEqualTo(1.0);
    }

    @Test
    void shouldDropLateAnswerAfterTheWatchdogsClosingLine() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(FIRST_WORDS_MS);

        // When
        TurnLedger.Outcome outcome = fx.deliver(answer(1, "Too late."));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly(FILLER, FALLBACK);
        assertThat(completes(socket)).isEqualTo(1);
    }

    @Test
    void shouldNeverCutAnAnswerThatKeepsStreamingPastTheBudget() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When words come every second for 12 s, then the end
        for (int i = 0; i < 12; i++) {
            fx.deliver(chunk(1, i, "word" + i + " ", false, ResponseKind.GENERATED));
            fx.scheduler.advance(1_000);
        }
        fx.deliver(chunk(1, 12, "end.", true, ResponseKind.GENERATED));
        fx.scheduler.advance(60_000);

        // Then every word, one complete, no filler and no closing line
        assertThat(parsed(socket)).hasSize(13);
        assertThat(completes(socket)).isEqualTo(1);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldCloseAStreamedAnswerThatStallsForTheStallLimit() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "Let me see, the ", false, ResponseKind.GENERATED));

        // When
        fx.scheduler.advance(STALL_MS - 1);
        int framesBeforeStall = socket.frames().size();
        fx.scheduler.advance(1);

        // Then the closing line follows the words said, joined cleanly
        assertThat(framesBeforeStall).isEqualTo(1);
        assertThat(parsed(socket)).extracting(f -> f.get("content_complete").asBoolean()).containsExactly(false, true);
        assertThat(parsed(socket).get(1).get("content").asText()).isEqualTo("\u2014 " + FALLBACK);
        assertThat(completes(socket)).isEqualTo(1);
    }

    @Test
    void shouldAnswerOnlyTheLatestRequestWhenANewerOneSupersedesTheOlder() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(300);

        // When
        fx.request(socket, 2);
        fx.scheduler.advance(BUDGET_MS - 300);
        int framesAtFirstBudget = socket.frames().size();
        fx.scheduler.advance(60_000);

        // Then only turn 2 was bridged and closed
        assertThat(framesAtFirstBudget).isZero();
        assertThat(parsed(socket)).hasSize(2).allSatisfy(f -> assertThat(f.get("response_id").asLong()).isEqualTo(2));
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isEqualTo(1.0);
    }

    @Test
    void shouldIgnoreRepeatedRequestOnTheSameSocket() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(500);

        // When the same request is reported again, it does not restart the deadlines
        fx.request(socket, 1);
        fx.scheduler.advance(FIRST_WORDS_MS - 500);

        // Then
        assertThat(completes(socket)).isEqualTo(1);
        fx.scheduler.advance(60_000);
        assertThat(completes(socket)).isEqualTo(1);
    }

    @Test
    void shouldNotWatchTheBeginMessage() {
        // Given a socket that has asked nothing
        RecordingSocket socket = fx.open("c1");

        // When
        fx.scheduler.advance(10_000);

        // Then
        assertThat(socket.frames()).isEmpty();
    }
}
