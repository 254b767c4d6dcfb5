package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.common.MetricTags;
import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The edge's first-words timer and its turn outcomes (whole, bridged, closed by reason). */
class TurnOutcomeMetersTest {

    private final EdgeFixture fx = new EdgeFixture();

    private double firstWordsMs(String kind) {
        return fx.meters.find(EgressMetrics.TURN_FIRST_WORDS_LATENCY).tag(EgressMetrics.TAG_KIND, kind).timer()
                .totalTime(TimeUnit.MILLISECONDS);
    }

    private long firstWordsCount() {
        return fx.meters.find(EgressMetrics.TURN_FIRST_WORDS_LATENCY).timers().stream().mapToLong(Timer::count).sum();
    }

    private double outcome(String outcome, String reason) {
        return fx.counter(EgressMetrics.TURN_OUTCOMES, EgressMetrics.TAG_OUTCOME, outcome, EgressMetrics.TAG_REASON,
                reason);
    }

    @Test
    void shouldTimeFirstWordsOfAWholeAnswerInOneFrameAndCountItWhole() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When the whole answer arrives in one frame after 120 ms
        fx.scheduler.advance(120);
        fx.deliver(answer(1, "Hello there."));

        // Then its first words are that frame, and the turn was whole
        assertThat(firstWordsCount()).isEqualTo(1);
        assertThat(firstWordsMs("generated")).isEqualTo(120.0);
        assertThat(outcome(EgressMetrics.OUTCOME_WHOLE, EgressMetrics.REASON_NONE)).isEqualTo(1.0);
        assertThat(outcome(EgressMetrics.OUTCOME_BRIDGED, EgressMetrics.REASON_NONE)).isZero();
    }

    @Test
    void shouldCountTheEdgeFillerAsFirstWordsAndTheTurnAsBridged() {
        // Given the budget passed with nothing said: the edge's filler goes out
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(BUDGET_MS);

        // When the answer streams after it
        fx.scheduler.advance(300);
        fx.deliver(chunk(1, 0, "Here ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(1, 1, "it is.", true, ResponseKind.GENERATED));

        // Then the first words were the filler, at the budget, once; the turn was bridged
        assertThat(firstWordsCount()).isEqualTo(1);
        assertThat(firstWordsMs("filler")).isEqualTo((double) BUDGET_MS);
        assertThat(outcome(EgressMetrics.OUTCOME_BRIDGED, EgressMetrics.REASON_NONE)).isEqualTo(1.0);
        assertThat(outcome(EgressMetrics.OUTCOME_WHOLE, EgressMetrics.REASON_NONE)).isZero();
    }

    @Test
    void shouldCountTheResponderFillerThenAnswerAsBridged() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When the responder's filler comes first, then the answer
        fx.scheduler.advance(700);
        fx.deliver(chunk(1, 0, "One moment. ", false, ResponseKind.FILLER));
        fx.scheduler.advance(400);
        fx.deliver(chunk(1, 1, "Done.", true, ResponseKind.CACHED));

        // Then
        assertThat(firstWordsMs("filler")).isEqualTo(700.0);
        assertThat(outcome(EgressMetrics.OUTCOME_BRIDGED, EgressMetrics.REASON_NONE)).isEqualTo(1.0);
    }

    @Test
    void shouldCountClosingLinesByReason() {
        // Given two turns
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When the responder closes the first with an error line, and the edge watchdog closes the second
        fx.scheduler.advance(50);
        fx.deliver(new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, 1, ResponseKind.FALLBACK, "error",
                "Sorry.", true, null, 0, 0, T0, "node-a"));
        fx.request(socket, 2);
        fx.scheduler.advance(60_000);

        // Then each is closed with its reason; the closing line was the first words of turn 1
        assertThat(outcome(EgressMetrics.OUTCOME_CLOSED, "error")).isEqualTo(1.0);
        assertThat(outcome(EgressMetrics.OUTCOME_CLOSED, EgressMetrics.REASON_EDGE_TIMEOUT)).isEqualTo(1.0);
        assertThat(firstWordsMs("fallback")).isEqualTo(50.0);
        assertThat(firstWordsMs("filler")).isEqualTo((double) BUDGET_MS);
        assertThat(completes(socket)).isEqualTo(2);
    }

    @Test
    void shouldCountClosingLinesOfReasonsNobodyKnowsUnderOneSeries() {
        // Given 100 turns closed with 100 reasons no responder writes (a record anyone could put on the topic)
        RecordingSocket socket = fx.open("c1");
        closeTurns(socket, 1, 100);
        int series = fx.meters.getMeters().size();

        // When 100 more come, each with a reason not seen before
        closeTurns(socket, 101, 200);

        // Then no series was added: they count under "other"
        assertThat(fx.meters.getMeters()).hasSize(series);
        assertThat(outcome(EgressMetrics.OUTCOME_CLOSED, MetricTags.OTHER)).isEqualTo(200.0);
    }

    private void closeTurns(RecordingSocket socket, long from, long to) {
        for (long id = from; id <= to; id++) {
            fx.request(socket, id);
            fx.deliver(new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, id, ResponseKind.FALLBACK,
                    "made_up_" + id, "Sorry.", true, null, 0, 0, T0, "node-a"));
        }
    }
}
