package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.egress.EgressMetrics;
import io.callguard.testkit.RecordingSocket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TurnWatchdogTest {

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldSendExactlyOneFallbackWhenNothingArrivesWithinBudget() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.scheduler.advance(BUDGET_MS - 1);
        int framesBeforeBudget = socket.frames().size();
        fx.scheduler.advance(10_000);

        // Then
        assertThat(framesBeforeBudget).isZero();
        assertThat(socket.frames()).hasSize(1);
        JsonNode frame = parse(socket.frames().get(0));
        assertThat(frame.get("response_type").asText()).isEqualTo("response");
        assertThat(frame.get("response_id").isIntegralNumber()).isTrue();
        assertThat(frame.get("response_id").asLong()).isEqualTo(1);
        assertThat(frame.get("content").asText()).isEqualTo(FALLBACK);
        assertThat(frame.get("content_complete").isBoolean()).isTrue();
        assertThat(frame.get("content_complete").booleanValue()).isTrue();
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isEqualTo(1.0);
        assertThat(fx.meters.find(EgressMetrics.TURN_LATENCY).tag(EgressMetrics.TAG_KIND, "fallback").timer()
                .totalTime(TimeUnit.MILLISECONDS)).isEqualTo((double) BUDGET_MS);
        assertThat(fx.counter(EgressMetrics.TURN_OVER_BUDGET, EgressMetrics.TAG_KIND, "fallback")).isZero();
    }

    @Test
    void shouldNotSendFallbackWhenAnswerArrivesOneMillisecondBeforeBudget() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.scheduler.advance(BUDGET_MS - 1);
        fx.deliver(answer(1, "Just in time."));
        fx.scheduler.advance(10_000);

        // Then
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly("Just in time.");
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
        assertThat(fx.counter(EgressMetrics.TURN_OVER_BUDGET, EgressMetrics.TAG_KIND, "generated")).isZero();
    }

    @Test
    void shouldDropLateAnswerAfterWatchdogFallback() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(BUDGET_MS);

        // When
        TurnLedger.Outcome outcome = fx.deliver(answer(1, "Too late."));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly(FALLBACK);
        assertThat(completes(socket)).isEqualTo(1);
    }

    @Test
    void shouldCompleteStreamedAnswerWithFallbackWhenItStallsMidway() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.deliver(chunk(1, 0, "Let me see... ", false, io.callguard.schemas.ResponseKind.GENERATED));

        // When
        fx.scheduler.advance(BUDGET_MS);

        // Then
        assertThat(parsed(socket)).extracting(f -> f.get("content_complete").asBoolean()).containsExactly(false, true);
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
        int framesAtFirstDeadline = socket.frames().size();
        fx.scheduler.advance(300);

        // Then
        assertThat(framesAtFirstDeadline).isZero();
        assertThat(parsed(socket)).hasSize(1);
        assertThat(parsed(socket).get(0).get("response_id").asLong()).isEqualTo(2);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isEqualTo(1.0);
    }

    @Test
    void shouldIgnoreRepeatedRequestOnTheSameSocket() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.scheduler.advance(500);

        // When the same request is reported again, it does not restart the budget
        fx.request(socket, 1);
        fx.scheduler.advance(300);

        // Then
        assertThat(completes(socket)).isEqualTo(1);
        fx.scheduler.advance(10_000);
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
