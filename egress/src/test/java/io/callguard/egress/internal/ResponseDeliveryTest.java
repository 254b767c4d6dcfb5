package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResponseDeliveryTest {

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldSendExactlyOneCompleteFramePerTurn() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);

        // When
        fx.clock.advance(120);
        TurnLedger.Outcome first = fx.deliver(answer(1, "Hi, how can I help?"));
        TurnLedger.Outcome again = fx.deliver(answer(1, "Hi, how can I help?"));
        fx.scheduler.advance(BUDGET_MS);

        // Then
        assertThat(first).isEqualTo(TurnLedger.Outcome.SENT);
        assertThat(again).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(socket.frames()).hasSize(1);
        assertThat(completes(socket)).isEqualTo(1);
        assertThat(fx.counter(EgressMetrics.FALLBACKS)).isZero();
        assertThat(fx.meters.find(EgressMetrics.TURN_LATENCY).tag(EgressMetrics.TAG_KIND, "generated").timer()
                .totalTime(TimeUnit.MILLISECONDS)).isEqualTo(120.0);
    }

    @Test
    void shouldWriteFramesWithExactJsonTypes() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 7);

        // When
        fx.deliver(chunk(7, 0, "Let me check. ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(7, 1, "Done.", true, ResponseKind.GENERATED));

        // Then
        List<JsonNode> frames = parsed(socket);
        assertThat(frames).hasSize(2);
        for (JsonNode frame : frames) {
            assertThat(frame.get("response_type").isTextual()).isTrue();
            assertThat(frame.get("response_type").asText()).isEqualTo("response");
            assertThat(frame.get("response_id").isIntegralNumber()).isTrue();
            assertThat(frame.get("response_id").canConvertToInt()).isTrue();
            assertThat(frame.get("response_id").asLong()).isEqualTo(7);
            assertThat(frame.get("content").isTextual()).isTrue();
            assertThat(frame.get("content_complete").isBoolean()).isTrue();
            assertThat(frame.has("end_call")).isFalse();
        }
        assertThat(frames.get(0).get("content_complete").booleanValue()).isFalse();
        assertThat(frames.get(1).get("content_complete").booleanValue()).isTrue();
    }

    @Test
    void shouldDropStaleResponse() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        fx.request(socket, 2);

        // When
        TurnLedger.Outcome outcome = fx.deliver(answer(1, "an answer to an old question"));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.STALE);
        assertThat(socket.frames()).isEmpty();
        assertThat(fx.counter(EgressMetrics.STALE_RESPONSES_DROPPED)).isEqualTo(1.0);
    }

    @Test
    void shouldStreamChunksInOrderThenComplete() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 3);

        // When
        fx.clock.advance(50);
        fx.deliver(chunk(3, 0, "One, ", false, ResponseKind.GENERATED));
        fx.clock.advance(50);
        fx.deliver(chunk(3, 1, "two, ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(3, 1, "two, ", false, ResponseKind.GENERATED));
        fx.clock.advance(50);
        fx.deliver(chunk(3, 2, "three.", true, ResponseKind.GENERATED));

        // Then
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText())
                .containsExactly("One, ", "two, ", "three.");
        assertThat(parsed(socket)).extracting(f -> f.get("content_complete").asBoolean())
                .containsExactly(false, false, true);
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "duplicate_chunk"))
                .isEqualTo(1.0);
        assertThat(fx.meters.find(EgressMetrics.TURN_FIRST_CHUNK_LATENCY).tag(EgressMetrics.TAG_KIND, "generated")
                .timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(50.0);
        assertThat(fx.meters.find(EgressMetrics.TURN_LATENCY).tag(EgressMetrics.TAG_KIND, "generated")
                .timer().totalTime(TimeUnit.MILLISECONDS)).isEqualTo(150.0);
    }

    @Test
    void shouldDropChunksAfterTheCompleteOne() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 4);
        fx.deliver(chunk(4, 0, "Done.", true, ResponseKind.CACHED));

        // When
        TurnLedger.Outcome late = fx.deliver(chunk(4, 1, " And more.", false, ResponseKind.GENERATED));

        // Then
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(socket.frames()).hasSize(1);
        assertThat(fx.counter(EgressMetrics.RESPONSES_DROPPED, EgressMetrics.TAG_REASON, "after_complete"))
                .isEqualTo(1.0);
        assertThat(fx.timerCount(EgressMetrics.TURN_LATENCY, EgressMetrics.TAG_KIND, "cached")).isEqualTo(1);
    }

    @Test
    void shouldDropResponseForCallNotHeldHere() {
        // Given no socket for call-1 on this node

        // When
        TurnLedger.Outcome outcome = fx.deliver(answer(1, "for another node"));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.NOT_HELD);
        assertThat(fx.counter(EgressMetrics.RESPONSES_NOT_HELD)).isEqualTo(1.0);
    }

    @Test
    void shouldDeliverBusyMessageWithEndCallBeforeAnyRequest() {
        // Given
        RecordingSocket socket = fx.open("c1");
        AgentResponse busy = new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, 0, ResponseKind.BUSY, "capacity",
                "All our agents are busy, please call back later.", true, Boolean.TRUE, 0, T0, T0, "node-a");

        // When
        TurnLedger.Outcome outcome = fx.deliver(busy);

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.SENT);
        JsonNode frame = parse(socket.frames().get(0));
        assertThat(frame.get("response_id").isIntegralNumber()).isTrue();
        assertThat(frame.get("response_id").asLong()).isZero();
        assertThat(frame.get("content_complete").isBoolean()).isTrue();
        assertThat(frame.get("content_complete").booleanValue()).isTrue();
        assertThat(frame.get("end_call").isBoolean()).isTrue();
        assertThat(frame.get("end_call").booleanValue()).isTrue();
    }

    @Test
    void shouldDropAnswerForAnIdTheSocketNeverRequested() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 2);

        // When
        TurnLedger.Outcome outcome = fx.deliver(answer(5, "from the future"));

        // Then
        assertThat(outcome).isEqualTo(TurnLedger.Outcome.UNREQUESTED);
        assertThat(socket.frames()).isEmpty();
    }

    @Test
    void shouldCountOverBudgetWhenCompleteAnswerIsLate() {
        // Given a turn whose budget the edge could not watch (the request reached another socket thread late)
        RecordingSocket socket = fx.open("c1");
        fx.request(socket, 1);
        AgentResponse late = new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, 1, ResponseKind.GENERATED, null,
                "late", true, null, 0, fx.clock.millis() - 1_000, T0, "node-a");

        // When
        fx.clock.advance(100);
        fx.deliver(late);

        // Then
        assertThat(fx.counter(EgressMetrics.TURN_OVER_BUDGET, EgressMetrics.TAG_KIND, "generated")).isEqualTo(1.0);
        assertThat(fx.meters.find(EgressMetrics.TURN_LATENCY).tag(EgressMetrics.TAG_KIND, "generated").timer()
                .totalTime(TimeUnit.MILLISECONDS)).isEqualTo(1_100.0);
    }
}
