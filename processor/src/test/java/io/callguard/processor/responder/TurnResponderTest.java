package io.callguard.processor.responder;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.internal.BackendResilience;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.retell.IdempotencyKeys;
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
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class TurnResponderTest {

    private static final long START = 1_700_000_000_000L;
    /** turn.budget-ms 800 minus responder.delivery-margin-ms 60: when the filler goes. */
    private static final long WINDOW = 740;
    /** turn.first-words-deadline-ms 4000 minus the margin: when a turn with no words closes. */
    private static final long GIVE_UP = 3_940;
    /** responder.first-chunk-timeout-ms. */
    private static final long FIRST_CHUNK_TIMEOUT = 2_000;

    private final ManualClock clock = new ManualClock(START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private final Map<String, Object> settings = new HashMap<>();
    private final CommonConfig common = new CommonConfig(Map.of());
    private TurnResponder responder;
    private ListAppender<ILoggingEvent> breakerLog;

    @BeforeEach
    void captureBreakerLog() {
        Logger logger = (Logger) LoggerFactory.getLogger(BackendResilience.class);
        breakerLog = new ListAppender<>();
        breakerLog.start();
        logger.addAppender(breakerLog);
        logger.setLevel(Level.INFO);
    }

    @AfterEach
    void everyRecordMatchesTheSchema() {
        ((Logger) LoggerFactory.getLogger(BackendResilience.class)).detachAppender(breakerLog);
        if (responder != null) {
            responder.close();
        }
        out.forEach(r -> assertMatchesSchema(r));
    }

    private TurnResponder responder(AgentBackend backend) {
        responder = new TurnResponder(new ResponderConfig(settings), common, backend, scheduler, clock, meters,
                out::add);
        return responder;
    }

    private ScriptBackend script() {
        return new ScriptBackend(new ResponderConfig(settings), scheduler, new SplittableRandom(7));
    }

    private static CallEvent turn(String callId, long responseId, long receivedAtMs, String... userThenAgent) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        ArrayNode transcript = frame.putArray("transcript");
        for (int i = 0; i < userThenAgent.length; i++) {
            transcript.addObject().put("role", i % 2 == 0 ? "user" : "agent").put("content", userThenAgent[i]);
        }
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + callId + "-" + responseId, callId, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", callId, responseId), receivedAtMs,
                responseId, "node-a", frame);
    }

    private CallEvent turn(String callId, long responseId) {
        return turn(callId, responseId, clock.millis(), "hello there");
    }

    private static CallEvent callDetails(String callId, String agentId) {
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "call_details");
        frame.putObject("call").put("call_id", callId).put("agent_id", agentId);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "d-" + callId, callId, EventSource.SOCKET, "call_details", null,
                START, null, "node-a", frame);
    }

    private static CallEvent callEnded(String callId) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", "call_ended");
        body.putObject("call").put("call_id", callId);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "w-" + callId, callId, EventSource.WEBHOOK, "call_ended",
                "call_ended:" + callId, START, null, null, body);
    }

    private List<AgentResponse> completes() {
        return out.stream().filter(AgentResponse::contentComplete).toList();
    }

    private List<AgentResponse> of(long responseId) {
        return out.stream().filter(r -> r.responseId() == responseId).toList();
    }

    private double counted(String name, String... tags) {
        var counter = meters.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldStreamGeneratedAnswerAsChunksThenOneComplete() {
        // Given one record per chunk
        settings.put(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0);
        settings.put(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 100);
        responder(script());

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(100);

        // Then
        assertThat(out).extracting(AgentResponse::content).containsExactly("You ", "said: ", "hello ", "there", "");
        assertThat(out).extracting(AgentResponse::chunkIndex).containsExactly(0, 1, 2, 3, 4);
        assertThat(out).extracting(AgentResponse::contentComplete).containsExactly(false, false, false, false, true);
        assertThat(out).allSatisfy(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
            assertThat(r.reason()).isNull();
            assertThat(r.callId()).isEqualTo("call-1");
            assertThat(r.responseId()).isEqualTo(1);
            assertThat(r.requestReceivedAtMs()).isEqualTo(START);
            assertThat(r.createdAtMs()).isEqualTo(START + 100);
            assertThat(r.edgeNode()).isEqualTo("node-a");
        });
        assertThat(responder.inFlight()).isZero();
        assertThat(counted(ResponderMetrics.TURNS, ResponderMetrics.TAG_OUTCOME, "generated")).isEqualTo(1);
    }

    @Test
    void shouldRetryFailuresWhileBudgetRemainsThenSendErrorFallback() {
        // Given a backend that fails at once, and 3 attempts
        FakeBackend backend = new FakeBackend().failingAtOnce();
        responder(backend);

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(200);

        // Then every attempt was made, within the budget, then one error fallback
        assertThat(backend.calls()).hasSize(3);
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.FALLBACK);
            assertThat(r.reason()).isEqualTo("error");
            assertThat(r.contentComplete()).isTrue();
            // backoffs: 20 ms +-50%, then 40 ms +-50%
            assertThat(r.createdAtMs()).isBetween(START + 30, START + 92);
        });
        assertThat(responder.retry().getMetrics().getNumberOfFailedCallsWithRetryAttempt()).isEqualTo(1);
        assertThat(counted(ResponderMetrics.FALLBACKS, ResponderMetrics.TAG_REASON, "error")).isEqualTo(1);
    }

    @Test
    void shouldOpenCircuitAfterFailuresThenHalfOpenAfterWaitAndCloseOnSuccess() {
        // Given a small window, no retries, and 2 trial calls in half-open
        settings.put(ResponderConfig.BREAKER_SLIDING_WINDOW_SIZE_CONFIG, 4);
        settings.put(ResponderConfig.BREAKER_MINIMUM_CALLS_CONFIG, 4);
        settings.put(ResponderConfig.BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_CONFIG, 2);
        settings.put(ResponderConfig.RETRY_MAX_ATTEMPTS_CONFIG, 1);
        settings.put(ResponderConfig.CACHE_ENABLED_CONFIG, false);
        FakeBackend backend = new FakeBackend();
        responder(backend);

        // When 4 turns fail
        for (int i = 1; i <= 4; i++) {
            responder.handle(turn("call-" + i, 1));
            backend.last().fail();
        }

        // Then the breaker is open, the transition was counted and logged
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(counted(ResponderMetrics.BREAKER_TRANSITIONS, "from", "closed", "to", "open")).isEqualTo(1);
        assertThat(breakerLog.list).extracting(ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains("closed -> open"));

        // When the next turn comes, it is answered at once without calling the backend
        responder.handle(turn("call-5", 1));

        // Then
        assertThat(backend.calls()).hasSize(4);
        assertThat(of(1).get(of(1).size() - 1)).satisfies(r -> {
            assertThat(r.callId()).isEqualTo("call-5");
            assertThat(r.reason()).isEqualTo("circuit_open");
            assertThat(r.createdAtMs()).isEqualTo(START);
        });

        // When the wait in open (5 s) has passed, the next turns are trial calls
        clock.advance(5_001);
        responder.handle(turn("call-6", 1));
        responder.handle(turn("call-7", 1));

        // Then the breaker went half-open and let the trial calls through
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        assertThat(backend.calls()).hasSize(6);
        assertThat(counted(ResponderMetrics.BREAKER_TRANSITIONS, "from", "open", "to", "half_open")).isEqualTo(1);

        // When both trial calls succeed
        backend.call(4).stream("ok").finish();
        backend.call(5).stream("ok").finish();

        // Then the breaker closed again, counted and logged
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(counted(ResponderMetrics.BREAKER_TRANSITIONS, "from", "half_open", "to", "closed")).isEqualTo(1);
        assertThat(breakerLog.list).extracting(ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains("open -> half_open"))
                .anySatisfy(m -> assertThat(m).contains("half_open -> closed"))
                .allSatisfy(m -> assertThat(m).startsWith("circuit breaker agent-backend"));
        assertThat(breakerLog.list).extracting(ILoggingEvent::getLevel).containsOnly(Level.INFO);
        assertThat(meters.find("resilience4j.circuitbreaker.state").tag("name", "agent-backend").gauges())
                .isNotEmpty();
    }

    @Test
    void shouldOpenCircuitWhenCallsAreSlow() {
        // Given calls slower than 200 ms count as slow
        settings.put(ResponderConfig.BREAKER_SLIDING_WINDOW_SIZE_CONFIG, 4);
        settings.put(ResponderConfig.BREAKER_MINIMUM_CALLS_CONFIG, 4);
        settings.put(ResponderConfig.BREAKER_SLOW_CALL_DURATION_MS_CONFIG, 200);
        settings.put(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 300);
        settings.put(ResponderConfig.CACHE_ENABLED_CONFIG, false);
        responder(script());

        // When 4 turns succeed, each after 300 ms
        for (int i = 1; i <= 4; i++) {
            responder.handle(turn("call-" + i, 1));
            scheduler.advance(300);
        }

        // Then the answers went out, and the breaker opened on the slow-call rate
        assertThat(completes()).hasSize(4).allSatisfy(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
        assertThat(responder.circuitBreaker().getMetrics().getSlowCallRate()).isEqualTo(100f);
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(counted(ResponderMetrics.BREAKER_TRANSITIONS, "from", "closed", "to", "open")).isEqualTo(1);
    }

    @Test
    void shouldSendBulkheadFullFallbackWhenTooManyTurnsAreGenerating() {
        // Given
        settings.put(ResponderConfig.MAX_CONCURRENT_CONFIG, 2);
        FakeBackend backend = new FakeBackend();
        responder(backend);

        // When three calls ask at once
        responder.handle(turn("call-1", 1));
        responder.handle(turn("call-2", 1));
        responder.handle(turn("call-3", 1));

        // Then the third is answered at once with the bulkhead fallback, and the backend saw two
        assertThat(backend.calls()).hasSize(2);
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.callId()).isEqualTo("call-3");
            assertThat(r.reason()).isEqualTo("bulkhead_full");
            assertThat(r.contentComplete()).isTrue();
        });

        // When one finishes, there is room again
        backend.call(0).stream("hi").finish();
        responder.handle(turn("call-4", 1, clock.millis(), "something else"));
        assertThat(backend.calls()).hasSize(3);
    }

    @Test
    void shouldCancelOlderGenerationWhenNewerRequestArrives() {
        // Given a generation under way that already streamed a chunk
        settings.put(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0);
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1, clock.millis(), "hello"));
        backend.call(0).stream("Hel");

        // When a newer request of the same call comes
        clock.advance(50);
        responder.handle(turn("call-1", 2, clock.millis(), "hello", "Hel", "wait"));

        // Then the older generation was cancelled, and nothing more is sent for it
        assertThat(backend.call(0).cancelled()).isTrue();
        backend.call(0).stream("lo");
        backend.call(0).finish();
        scheduler.advance(100);
        assertThat(of(1)).extracting(AgentResponse::content).containsExactly("Hel");

        // And the newer one is answered normally
        backend.call(1).stream("Sure").finish();
        assertThat(of(2)).extracting(AgentResponse::content).containsExactly("Sure", "");
        assertThat(completes()).hasSize(1);
        assertThat(counted(ResponderMetrics.TURNS, ResponderMetrics.TAG_OUTCOME, "superseded")).isEqualTo(1);
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfBufferedCalls()).isEqualTo(1);
        assertThat(responder.bulkhead().getMetrics().getAvailableConcurrentCalls())
                .isEqualTo(new ResponderConfig(settings).maxConcurrent());
    }

    @Test
    void shouldWriteAnAnswerThatFinishesWithinTheCoalescingWindowAsOneRecord() {
        // Given the default window (10 ms) and a backend that answers at once, calls of one agent
        responder(script());
        responder.handle(callDetails("call-1", "agent-7"));
        responder.handle(callDetails("call-2", "agent-7"));

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(0);

        // Then the whole answer is the content_complete record, and it is cached whole
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.content()).isEqualTo("You said: hello there");
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.chunkIndex()).isZero();
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
        });
        scheduler.advance(1_000);
        assertThat(out).hasSize(1);
        responder.handle(turn("call-2", 1));
        assertThat(of(1)).last().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.CACHED);
            assertThat(r.content()).isEqualTo("You said: hello there");
        });
    }

    @Test
    void shouldWriteChunksOfASlowStreamOncePerCoalescingWindow() {
        // Given
        settings.put(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 20);
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));

        // When tokens come 5 ms apart
        backend.call(0).stream("Sure");
        clock.advance(5);
        backend.call(0).stream(", ");
        scheduler.advance(15);
        backend.call(0).stream("I ");
        scheduler.advance(5);
        backend.call(0).stream("can ");
        scheduler.advance(5);
        backend.call(0).stream("help.").finish();

        // Then the first window's chunks went out together when it closed, the rest ride on the complete record
        assertThat(out).extracting(AgentResponse::content).containsExactly("Sure, ", "I can help.");
        assertThat(out).extracting(AgentResponse::chunkIndex).containsExactly(0, 1);
        assertThat(out).extracting(AgentResponse::contentComplete).containsExactly(false, true);
        assertThat(out.get(0).createdAtMs()).isEqualTo(START + 20);
        scheduler.advance(1_000);
        assertThat(out).hasSize(2);
    }

    @Test
    void shouldRetryWhenTheFailedAttemptsChunksWereNotWrittenYet() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));

        // When the backend fails after a chunk, inside the coalescing window
        backend.call(0).stream("Well, ").fail();
        scheduler.advance(200);

        // Then nobody heard the chunk, so the turn is retried, and only the second attempt's words go out
        assertThat(backend.calls()).hasSize(2);
        backend.call(1).stream("Yes.").finish();
        scheduler.advance(1_000);
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.content()).isEqualTo("Yes.");
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
        });
    }

    @Test
    void shouldIgnoreRequestOlderThanOrEqualToTheLatestSeen() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 3));

        // When an older and a duplicate request arrive
        responder.handle(turn("call-1", 2));
        responder.handle(turn("call-1", 3));

        // Then neither reached the backend or cancelled the latest
        assertThat(backend.calls()).hasSize(1);
        assertThat(backend.call(0).cancelled()).isFalse();
        assertThat(counted(ResponderMetrics.TURNS, ResponderMetrics.TAG_OUTCOME, "stale")).isEqualTo(2);
    }

    @Test
    void shouldServeSecondAnswerForSameTranscriptTailFromCache() {
        // Given two calls of the same agent
        settings.put(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 100);
        CountingBackend backend = new CountingBackend(script());
        responder(backend);
        responder.handle(callDetails("call-1", "agent-7"));
        responder.handle(callDetails("call-2", "agent-7"));
        responder.handle(turn("call-1", 1, clock.millis(), "What  are your HOURS?"));
        scheduler.advance(100);

        // When the other call's transcript ends the same way (case and spacing aside)
        responder.handle(turn("call-2", 4, clock.millis(), "what are your hours?"));

        // Then it is answered at once from the cache, whole, without the backend
        assertThat(backend.calls).isEqualTo(1);
        assertThat(of(4)).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.CACHED);
            assertThat(r.content()).isEqualTo("You said: What  are your HOURS?");
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.chunkIndex()).isZero();
            assertThat(r.createdAtMs()).isEqualTo(clock.millis());
        });

        // And another agent does not get that answer
        responder.handle(callDetails("call-3", "agent-8"));
        responder.handle(turn("call-3", 1, clock.millis(), "what are your hours?"));
        assertThat(backend.calls).isEqualTo(2);
    }

    @Test
    void shouldNotCacheAnswerThatEndedInFallback() {
        // Given two calls of one agent
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(callDetails("call-1", "agent-7"));
        responder.handle(callDetails("call-2", "agent-7"));
        responder.handle(turn("call-1", 1));
        backend.call(0).stream("half an ans");
        scheduler.advance(WINDOW);

        // When the same transcript comes again
        responder.handle(turn("call-2", 1));

        // Then the backend is asked again
        assertThat(backend.calls()).hasSize(2);
    }

    @Test
    void shouldNotRetryAfterPartOfTheAnswerWasStreamed() {
        // Given
        settings.put(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0);
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));

        // When the backend fails after a chunk
        backend.call(0).stream("Well, ").fail();
        scheduler.advance(1_000);

        // Then no second attempt repeats what was said; the turn ends with the error line
        assertThat(backend.calls()).hasSize(1);
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.GENERATED, ResponseKind.FALLBACK);
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.reason()).isEqualTo("error"));
    }

    @Test
    void shouldCancelGenerationWhenTheCallEnds() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));

        // When
        responder.handle(callEnded("call-1"));
        scheduler.advance(1_000);

        // Then
        assertThat(backend.call(0).cancelled()).isTrue();
        assertThat(out).isEmpty();
        assertThat(responder.inFlight()).isZero();
    }

    @Test
    void shouldPassWhatTheCallStartedWebhookTaughtToTheBackend() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        ObjectNode body = Json.mapper().createObjectNode().put("event", "call_started");
        body.putObject("call").put("call_id", "call-1").put("agent_id", "agent-9")
                .putObject("retell_llm_dynamic_variables").put("name", "Ada");
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "w-1", "call-1", EventSource.WEBHOOK, "call_started",
                "call_started:call-1", START, null, null, body));

        // When a reminder comes (the caller has been silent)
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "reminder_required")
                .put("response_id", 2);
        frame.putArray("transcript").addObject().put("role", "agent").put("content", "Hello?");
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "s-2", "call-1", EventSource.SOCKET,
                "reminder_required", IdempotencyKeys.forSocket("reminder_required", "call-1", 2L), START, 2L, "node-a",
                frame));

        // Then
        assertThat(backend.call(0).turn()).satisfies(t -> {
            assertThat(t.agentId()).isEqualTo("agent-9");
            assertThat(t.dynamicVariables()).containsEntry("name", "Ada");
            assertThat(t.interactionType()).isEqualTo("reminder_required");
            assertThat(t.transcript()).containsExactly(new Turn.Utterance("agent", "Hello?"));
        });
    }

    @Test
    void shouldUseTheSharedFallbackMessageWhenTheReasonsLineIsEmpty() {
        // Given
        settings.put(ResponderConfig.FALLBACK_TIMEOUT_CONFIG, "");
        responder(new FakeBackend());

        // When
        responder.handle(turn("call-1", 1, clock.millis() - 5_000, "hello"));

        // Then
        assertThat(out).singleElement().extracting(AgentResponse::content).isEqualTo(common.turnFallbackMessage());
    }

    @Test
    void shouldCancelEverythingInFlightOnClose() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));
        responder.handle(turn("call-2", 1));

        // When
        responder.close();
        scheduler.advance(1_000);
        responder.handle(turn("call-3", 1));

        // Then
        assertThat(backend.calls()).hasSize(2).allSatisfy(c -> assertThat(c.cancelled()).isTrue());
        assertThat(out).isEmpty();
    }

    /** Counts the calls that reach a backend. */
    private static final class CountingBackend implements AgentBackend {
        private final AgentBackend delegate;
        int calls;

        CountingBackend(AgentBackend delegate) {
            this.delegate = delegate;
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> generate(Turn turn,
                java.util.function.Consumer<AgentEvent> chunkSink) {
            calls++;
            return delegate.generate(turn, chunkSink);
        }
    }

    private AgentResponse only(ResponseKind kind) {
        return out.stream().filter(r -> r.kind() == kind).reduce((a, b) -> {
            throw new AssertionError("more than one " + kind + " record: " + out);
        }).orElseThrow(() -> new AssertionError("no " + kind + " record: " + out));
    }

    private static String text(List<AgentResponse> records) {
        return records.stream().map(AgentResponse::content).reduce("", String::concat);
    }

    @Test
    void shouldBridgeWithAFillerAtTheBudgetThenCloseAtTheFirstWordsDeadlineWhenTheBackendHangs() {
        // Given
        settings.put(ResponderConfig.SCRIPT_HANG_RATE_CONFIG, 1.0);
        responder(script());

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(WINDOW - 1);

        // Then nothing before the budget
        assertThat(out).isEmpty();

        // When the budget passes
        scheduler.advance(1);

        // Then a filler, not complete, and the turn stays open
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.FILLER);
            assertThat(r.content()).isEqualTo("One moment. ");
            assertThat(r.contentComplete()).isFalse();
            assertThat(r.chunkIndex()).isZero();
            assertThat(r.createdAtMs()).isEqualTo(START + WINDOW);
        });

        // When the first-words deadline comes (the first attempt timed out at 2 s and was retried)
        scheduler.advance(GIVE_UP - WINDOW);

        // Then one closing line completes the turn, after the filler
        assertThat(completes()).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.FALLBACK);
            assertThat(r.reason()).isEqualTo("timeout");
            assertThat(r.content()).isEqualTo(new ResponderConfig(settings).fallbackMessage(FallbackReason.TIMEOUT,
                    common));
            assertThat(r.chunkIndex()).isEqualTo(1);
            assertThat(r.createdAtMs()).isEqualTo(START + GIVE_UP);
        });
        scheduler.advance(60_000);
        assertThat(out).hasSize(2);
        assertThat(counted(ResponderMetrics.FALLBACKS, ResponderMetrics.TAG_REASON, "timeout")).isEqualTo(1);
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
        assertThat(responder.bulkhead().getMetrics().getAvailableConcurrentCalls())
                .isEqualTo(new ResponderConfig(settings).maxConcurrent());
    }

    @Test
    void shouldNeverCutAHealthyAnswerThatStreamsLongPastTheBudget() {
        // Given first words at 300 ms, then 20 chunks 150 ms apart: the answer ends after 3.1 s
        settings.put(ResponderConfig.SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, 300);
        settings.put(ResponderConfig.SCRIPT_CHUNKS_CONFIG, 20);
        settings.put(ResponderConfig.SCRIPT_CHUNK_GAP_MS_CONFIG, 150);
        responder(script());

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(10_000);

        // Then the whole answer, one complete, no filler and no closing line
        assertThat(out).extracting(AgentResponse::kind).containsOnly(ResponseKind.GENERATED);
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.createdAtMs()).isEqualTo(START + 3_150));
        assertThat(text(out)).startsWith("You said: hello there. ").endsWith(".");
        assertThat(text(out).split(" ")).hasSize(20);
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfSuccessfulCalls()).isEqualTo(1);
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfSlowCalls()).isZero();
    }

    @Test
    void shouldContinueTheSameResponseAfterTheFillerWhenTheWordsCome() {
        // Given a first chunk at 1.2 s
        settings.put(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 1_200);
        responder(script());

        // When
        responder.handle(turn("call-1", 1));
        scheduler.advance(5_000);

        // Then filler, then the answer, in one response with consecutive chunk indexes and one complete
        assertThat(out.get(0).kind()).isEqualTo(ResponseKind.FILLER);
        assertThat(out).extracting(AgentResponse::chunkIndex).containsExactly(0, 1);
        assertThat(text(out)).isEqualTo("One moment. You said: hello there");
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
        assertThat(counted(ResponderMetrics.FILLERS)).isEqualTo(1);
    }

    @Test
    void shouldRotateFillersSoACallerDoesNotHearTheSameOneTwiceInARow() {
        // Given every answer starts late
        settings.put(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 1_000);
        responder(script());

        // When three turns of one call start slowly
        for (long id = 1; id <= 3; id++) {
            responder.handle(turn("call-1", id, clock.millis(), "question " + id));
            scheduler.advance(2_000);
        }

        // Then three different fillers, in the configured order
        assertThat(out).filteredOn(r -> r.kind() == ResponseKind.FILLER).extracting(AgentResponse::content)
                .containsExactly("One moment. ", "Let me check that for you. ", "Just a second. ");
    }

    @Test
    void shouldRetryAFirstChunkTimeoutAndCountTheSavedTurnAsHealthy() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));

        // When the first attempt sends nothing for the first-chunk timeout
        scheduler.advance(FIRST_CHUNK_TIMEOUT);

        // Then it is cancelled (its stream closed) and, after a backoff, tried again
        assertThat(backend.call(0).cancelled()).isTrue();
        scheduler.advance(31);
        assertThat(backend.calls()).hasSize(2);

        // When the second attempt answers
        backend.call(1).stream("Here ", "it is.").finish();
        scheduler.advance(20);

        // Then the caller heard the filler and the whole answer; the breaker saw one healthy turn
        assertThat(text(out)).isEqualTo("One moment. Here it is.");
        assertThat(completes()).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
        CircuitBreaker.Metrics breaker = responder.circuitBreaker().getMetrics();
        assertThat(breaker.getNumberOfFailedCalls()).isZero();
        assertThat(breaker.getNumberOfSuccessfulCalls()).isEqualTo(1);
    }

    @Test
    void shouldNotRetryWhenNoAttemptCouldStartBeforeTheFirstWordsDeadline() {
        // Given an attempt that fails just before the deadline: 3920 + worst backoff 31 passes 3940
        FakeBackend backend = new FakeBackend();
        settings.put(ResponderConfig.FIRST_CHUNK_TIMEOUT_MS_CONFIG, 10_000);
        responder(backend);
        responder.handle(turn("call-1", 1));
        scheduler.advance(3_920);

        // When
        backend.call(0).fail();
        scheduler.advance(1_000);

        // Then the error closing line at once, after the filler, and no second attempt
        assertThat(backend.calls()).hasSize(1);
        assertThat(completes()).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo("error");
            assertThat(r.createdAtMs()).isEqualTo(START + 3_920);
        });
    }

    @Test
    void shouldCloseAtOnceWhenTheEventIsAlreadyPastItsFirstWordsDeadline() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);

        // When a turn received 5 s ago is consumed (a backlog after a restart)
        responder.handle(turn("call-1", 1, clock.millis() - 5_000, "hello"));

        // Then
        assertThat(backend.calls()).isEmpty();
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.reason()).isEqualTo("timeout");
            assertThat(r.createdAtMs()).isEqualTo(START);
            assertThat(r.requestReceivedAtMs()).isEqualTo(START - 5_000);
        });
    }

    @Test
    void shouldBridgeAtOnceAndStillAnswerWhenTheEventIsPastItsBudgetOnly() {
        // Given
        FakeBackend backend = new FakeBackend();
        responder(backend);

        // When a turn received 1 s ago is consumed
        responder.handle(turn("call-1", 1, clock.millis() - 1_000, "hello"));
        backend.call(0).stream("Yes.").finish();
        scheduler.advance(20);

        // Then the filler at once, then the answer
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.FILLER, ResponseKind.GENERATED);
        assertThat(out.get(0).createdAtMs()).isEqualTo(START);
        assertThat(text(out)).isEqualTo("One moment. Yes.");
    }

    @Test
    void shouldEndAStalledAnswerWithAClosingLineAfterTheWordsAlreadySaid() {
        // Given an answer that streamed a few words, then stopped
        FakeBackend backend = new FakeBackend();
        responder(backend);
        responder.handle(turn("call-1", 1));
        scheduler.advance(100);
        backend.call(0).stream("Let me check ");

        // When the stall limit passes (5 s after the last chunk, less the margin)
        scheduler.advance(5_000 - 60 - 1);
        assertThat(completes()).isEmpty();
        scheduler.advance(1);

        // Then the words, then one closing line joined to them; the stream is closed and counted as a failure
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.GENERATED, ResponseKind.FALLBACK);
        assertThat(only(ResponseKind.FALLBACK)).satisfies(r -> {
            assertThat(r.reason()).isEqualTo("stall");
            assertThat(r.content()).isEqualTo("\u2014 " + new ResponderConfig(settings)
                    .fallbackMessage(FallbackReason.STALL, common));
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.createdAtMs()).isEqualTo(START + 100 + 5_000 - 60);
        });
        assertThat(backend.call(0).future()).isCompletedExceptionally();
        assertThat(responder.circuitBreaker().getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
    }

    @Test
    void shouldCloseAnAnswerStillStreamingAtTheHardCapWithoutJudgingTheBackend() {
        // Given a 10 s cap and an answer that never ends, a chunk a second
        settings.put("turn.max-answer-ms", 10_000);
        FakeBackend backend = new FakeBackend();
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of("turn.max-answer-ms",
                10_000)), backend, scheduler, clock, meters, out::add);
        responder.handle(turn("call-1", 1));

        // When
        for (int i = 0; i < 12; i++) {
            backend.call(0).stream("word" + i + " ");
            scheduler.advance(1_000);
        }

        // Then the closing line at the cap, once; neither success nor failure recorded
        assertThat(only(ResponseKind.FALLBACK)).satisfies(r -> {
            assertThat(r.reason()).isEqualTo("max_answer");
            assertThat(r.createdAtMs()).isEqualTo(START + 10_000 - 60);
        });
        assertThat(completes()).hasSize(1);
        CircuitBreaker.Metrics breaker = responder.circuitBreaker().getMetrics();
        assertThat(breaker.getNumberOfFailedCalls() + breaker.getNumberOfSuccessfulCalls()).isZero();
    }

    @Test
    void shouldKeepTheBreakerClosedWhenRetriesSaveTurnsOfAFlakyBackend() {
        // Given 30% of attempts fail; three attempts per turn
        settings.put(ResponderConfig.SCRIPT_FAILURE_RATE_CONFIG, 0.3);
        responder(script());

        // When 300 turns, of 300 calls asking different questions (no cache hits), one every 50 ms
        for (int i = 0; i < 300; i++) {
            responder.handle(turn("call-" + i, 1, clock.millis(), "question " + i));
            scheduler.advance(50);
        }
        scheduler.advance(5_000);

        // Then the breaker never opened and at least 95% were whole answers
        assertThat(counted(ResponderMetrics.BREAKER_TRANSITIONS, ResponderMetrics.TAG_FROM, "closed",
                ResponderMetrics.TAG_TO, "open")).isZero();
        assertThat(completes()).hasSize(300);
        assertThat(completes().stream().filter(r -> r.kind() == ResponseKind.GENERATED).count())
                .isGreaterThanOrEqualTo(285);
    }

    @Test
    void shouldOpenTheBreakerWhenTheBackendHangsOnEveryTurn() {
        // Given
        settings.put(ResponderConfig.SCRIPT_HANG_RATE_CONFIG, 1.0);
        responder(script());

        // When ten calls ask at once and every attempt hangs
        for (int i = 0; i < 10; i++) {
            responder.handle(turn("call-" + i, 1));
        }
        scheduler.advance(GIVE_UP);

        // Then ten closing lines at the first-words deadline, and the breaker is open for the next turn
        assertThat(completes()).hasSize(10).allSatisfy(r -> assertThat(r.reason()).isEqualTo("timeout"));
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        responder.handle(turn("call-x", 1));
        assertThat(completes()).last().satisfies(r -> assertThat(r.reason()).isEqualTo("circuit_open"));
    }

    @Test
    void shouldKeepAHalfOpenTrialForTheRetryOfTheTurnThatTookIt() {
        // Given a half-open breaker with one trial, and a backend that fails every attempt
        settings.put(ResponderConfig.BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_CONFIG, 1);
        FakeBackend backend = new FakeBackend().failingAtOnce();
        responder(backend);
        responder.circuitBreaker().transitionToOpenState();
        responder.circuitBreaker().transitionToHalfOpenState();

        // When turn A takes the trial and fails, and turn B asks during A's backoff
        responder.handle(turn("call-a", 1));
        responder.handle(turn("call-b", 1));
        scheduler.advance(200);

        // Then B did not take A's trial; A's retries ran on it and the turn's failure decided the trial
        assertThat(backend.calls()).extracting(c -> c.turn().callId()).containsOnly("call-a").hasSize(3);
        assertThat(out).filteredOn(r -> r.callId().equals("call-b")).singleElement()
                .satisfies(r -> assertThat(r.reason()).isEqualTo("circuit_open"));
        assertThat(out).filteredOn(r -> r.callId().equals("call-a")).singleElement()
                .satisfies(r -> assertThat(r.reason()).isEqualTo("error"));
        assertThat(responder.circuitBreaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
    }
}
