package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The fallback backend: used while the primary is open, for the retry after it failed, and as a hedge. */
class HedgedTurnTest {

    private static final long START = 1_700_000_000_000L;

    private final ManualClock clock = new ManualClock(START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private final Map<String, Object> settings = new HashMap<>(Map.of(ResponderConfig.HEDGE_DELAY_MS_CONFIG, 300,
            ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0, ResponderConfig.CACHE_ENABLED_CONFIG, false));
    private final FakeBackend primary = new FakeBackend();
    private final FakeBackend fallback = new FakeBackend();
    private TurnResponder responder;

    @AfterEach
    void close() {
        if (responder != null) {
            responder.close();
        }
    }

    private TurnResponder responder(AgentBackend primaryBackend) {
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), primaryBackend,
                fallback, scheduler, clock, meters, out::add);
        return responder;
    }

    private CallEvent turn(String callId, long responseId) {
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "response_required")
                .put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "question " + responseId);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + callId + "-" + responseId, callId, EventSource.SOCKET,
                "response_required", null, clock.millis(), responseId, "node-a", frame);
    }

    private String text() {
        return out.stream().map(AgentResponse::content).reduce("", String::concat);
    }

    private List<AgentResponse> completes() {
        return out.stream().filter(AgentResponse::contentComplete).toList();
    }

    private double counted(String name, String... tags) {
        var counter = meters.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldRaceTheFallbackWhenThePrimaryHasNoFirstChunkAfterTheHedgeDelayAndSpeakOnlyTheWinner() {
        // Given
        responder(primary);
        responder.handle(turn("call-1", 1));

        // When the primary is silent for the hedge delay
        scheduler.advance(299);
        assertThat(fallback.calls()).isEmpty();
        scheduler.advance(1);

        // Then the fallback starts on the same turn
        assertThat(fallback.calls()).hasSize(1);
        assertThat(fallback.call(0).turn().responseId()).isEqualTo(1);

        // When the fallback streams first, and the primary speaks later
        fallback.call(0).stream("Fast ");
        primary.call(0).stream("Slow ");
        fallback.call(0).stream("answer.").finish();

        // Then only the winner is heard; the loser's stream was closed
        assertThat(text()).isEqualTo("Fast answer.");
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
        assertThat(primary.call(0).cancelled()).isTrue();
        assertThat(counted(ResponderMetrics.HEDGES_STARTED, ResponderMetrics.TAG_BACKEND, "agent-fallback"))
                .isEqualTo(1);
        assertThat(counted(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND, "agent-fallback")).isEqualTo(1);
        // The cancelled primary proved nothing; the fallback's success is on its own breaker
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfBufferedCalls()).isZero();
        assertThat(responder.fallbackCircuitBreaker().orElseThrow().getMetrics().getNumberOfSuccessfulCalls())
                .isEqualTo(1);
    }

    @Test
    void shouldKeepThePrimaryWhenItStreamsFirstAfterTheHedgeStarted() {
        // Given a hedge under way
        responder(primary);
        responder.handle(turn("call-1", 1));
        scheduler.advance(300);

        // When the primary's first chunk comes first
        primary.call(0).stream("Primary ");
        fallback.call(0).stream("Fallback ");
        primary.call(0).stream("wins.").finish();

        // Then
        assertThat(text()).isEqualTo("Primary wins.");
        assertThat(fallback.call(0).cancelled()).isTrue();
        assertThat(counted(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND, "agent-backend")).isEqualTo(1);
        assertThat(counted(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND, "agent-fallback")).isZero();
    }

    @Test
    void shouldNotHedgeWhenThePrimaryStreamsBeforeTheDelay() {
        // Given
        responder(primary);
        responder.handle(turn("call-1", 1));

        // When
        scheduler.advance(100);
        primary.call(0).stream("Quick.");
        scheduler.advance(1_000);
        primary.call(0).finish();

        // Then
        assertThat(fallback.calls()).isEmpty();
        assertThat(text()).isEqualTo("Quick.");
        assertThat(counted(ResponderMetrics.HEDGES_STARTED, ResponderMetrics.TAG_BACKEND, "agent-fallback")).isZero();
    }

    @Test
    void shouldNeverHedgeWhenHedgingIsOff() {
        // Given
        settings.put(ResponderConfig.HEDGE_DELAY_MS_CONFIG, -1);
        responder(primary);
        responder.handle(turn("call-1", 1));

        // When
        scheduler.advance(1_500);

        // Then
        assertThat(fallback.calls()).isEmpty();
    }

    @Test
    void shouldSendTurnsToTheFallbackWhileThePrimarysBreakerIsOpen() {
        // Given
        responder(primary);
        responder.circuitBreaker().transitionToOpenState();

        // When
        responder.handle(turn("call-1", 1));
        fallback.call(0).stream("From the fallback.").finish();

        // Then the primary is not called, and the caller hears a real answer, not the circuit-open line
        assertThat(primary.calls()).isEmpty();
        assertThat(text()).isEqualTo("From the fallback.");
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
    }

    @Test
    void shouldRetryOnTheFallbackWhenThePrimaryErrors() {
        // Given
        responder(primary);
        responder.handle(turn("call-1", 1));

        // When the primary fails before any word
        primary.call(0).fail();
        scheduler.advance(31);

        // Then the retry goes to the fallback, and its answer is heard
        assertThat(primary.calls()).hasSize(1);
        assertThat(fallback.calls()).hasSize(1);
        fallback.call(0).stream("Saved.").finish();
        assertThat(text()).isEqualTo("Saved.");
        // The primary did fail: on failover its failure counts against it (unlike a retry on the same backend,
        // which a success would save), so a primary that keeps failing opens and stops costing the first attempt
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
        assertThat(responder.fallbackCircuitBreaker().orElseThrow().getMetrics().getNumberOfSuccessfulCalls())
                .isEqualTo(1);
    }

    @Test
    void shouldDeriveTheHedgeDelayFromThePrimarysObservedFirstChunkP90() {
        // Given an adaptive hedge, and a primary whose first chunk came after 100 ms on 30 turns
        settings.put(ResponderConfig.HEDGE_DELAY_MS_CONFIG, 0);
        AgentBackend steady = (turn, sink) -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            if (turn.responseId() <= 30) {
                scheduler.schedule(() -> {
                    sink.accept(AgentEvent.text("ok."));
                    done.complete(null);
                }, 100, TimeUnit.MILLISECONDS);
            }
            return done;
        };
        responder(steady);
        for (long id = 1; id <= 30; id++) {
            responder.handle(turn("call-" + id, id));
            scheduler.advance(200);
        }
        assertThat(fallback.calls()).isEmpty();

        // When the primary then hangs
        responder.handle(turn("call-x", 31));
        scheduler.advance(99);
        assertThat(fallback.calls()).isEmpty();
        scheduler.advance(1);

        // Then the hedge started at the p90 of what was observed (100 ms), not a fixed guess
        assertThat(fallback.calls()).hasSize(1);
    }

    @Test
    void shouldCloseWithTheCircuitOpenLineWhenBothBreakersAreOpen() {
        // Given
        responder(primary);
        responder.circuitBreaker().transitionToOpenState();
        responder.fallbackCircuitBreaker().orElseThrow().transitionToOpenState();

        // When
        responder.handle(turn("call-1", 1));

        // Then
        assertThat(primary.calls()).isEmpty();
        assertThat(fallback.calls()).isEmpty();
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.reason()).isEqualTo("circuit_open"));
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
    }
}
