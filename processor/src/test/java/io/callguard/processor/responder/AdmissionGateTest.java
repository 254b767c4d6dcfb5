package io.callguard.processor.responder;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Admission decides the turn path: active calls reach the backend, queued ones hold, rejected ones hear busy. */
class AdmissionGateTest {

    private static final long START = 1_700_000_000_000L;
    /** turn.budget-ms 800 less the 60 ms delivery margin. */
    private static final long FILLER_AT = 740;
    /** turn.first-words-deadline-ms 4000 less the margin. */
    private static final long GIVE_UP = 3_940;
    private static final String GREETING = "Hello! How can I help you today?";
    private static final String HOLD = ResponderConfig.DEFAULT_HOLD_MESSAGE;
    private static final String BUSY = ProcessorConfig.DEFAULT_BUSY_MESSAGE;

    private final ManualClock clock = new ManualClock(START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private final Map<String, Object> settings = new HashMap<>(Map.of(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0));
    private final FakeBackend backend = new FakeBackend();
    private TurnResponder responder;

    @AfterEach
    void everyRecordMatchesTheSchema() {
        if (responder != null) {
            responder.close();
        }
        out.forEach(r -> assertMatchesSchema(r));
    }

    private TurnResponder responder() {
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), backend, null,
                scheduler, clock, meters, out::add, true);
        return responder;
    }

    private CallEvent turn(long responseId) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "hello");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + responseId, "call-1", EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", "call-1", responseId),
                clock.millis(), responseId, "node-a", frame);
    }

    private CallEvent opened(String begin) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "c-1").put("begin", begin);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "o-1", "call-1", EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, "node-a", payload);
    }

    private static CallState state(CallStatus status, String rejectionReason) {
        ObjectNode variables = Json.mapper().createObjectNode().put("name", "Alice");
        return CallState.builder("call-1").status(status).agentId("agent-7").agentVersion(3)
                .dynamicVariables(variables).rejectionReason(rejectionReason).firstEventAtMs(START).build();
    }

    private void state(CallStatus status) {
        responder.handleState("call-1", state(status, status == CallStatus.REJECTED ? "queue_full" : null));
    }

    private double counted(String name, String... tags) {
        var counter = meters.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldSayTheGreetingAsResponseZeroOfAnActiveCallWhoseBackendSaysNone() {
        // Given an admitted call
        responder();
        state(CallStatus.ACTIVE);

        // When its socket opens with the begin owed
        responder.handle(opened(CallEvent.BEGIN_OWED));

        // Then the greeting is response 0, whole
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.responseId()).isZero();
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
            assertThat(r.content()).isEqualTo(GREETING);
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.inTurn()).isTrue();
        });
    }

    @Test
    void shouldHoldAQueuedCallOnTheBeginAndEveryTurnAndRepeatItWithoutCallingTheBackend() {
        // Given a queued call whose socket opened
        settings.put(ResponderConfig.CAPACITY_HOLD_REPEAT_MS_CONFIG, 15_000);
        responder();
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));

        // When the caller speaks 5 s later, then waits 31 s more
        scheduler.advance(5_000);
        responder.handle(turn(1));
        scheduler.advance(31_000);

        // Then the begin and the turn get the hold line, complete, and it is said again every 15 s after the last
        assertThat(out).extracting(AgentResponse::kind).containsOnly(ResponseKind.HOLD);
        assertThat(out).extracting(AgentResponse::content).containsOnly(HOLD);
        assertThat(out).allSatisfy(r -> assertThat(r.contentComplete()).isTrue());
        assertThat(out).extracting(AgentResponse::scope).containsExactly(AgentResponse.SCOPE_TURN,
                AgentResponse.SCOPE_TURN, AgentResponse.SCOPE_INTERRUPT, AgentResponse.SCOPE_INTERRUPT);
        assertThat(out.subList(0, 2)).extracting(AgentResponse::responseId).containsExactly(0L, 1L);
        // (interrupt ids are time-based, milliseconds since the call's first event, so a member that takes the call over never falls below them)
        assertThat(out.subList(2, 4)).extracting(AgentResponse::interruptId)
                .containsExactly(20_000L, 35_000L);
        assertThat(out.subList(2, 4)).extracting(AgentResponse::createdAtMs)
                .containsExactly(START + 20_000, START + 35_000);
        // And the backend was never asked
        assertThat(backend.calls()).isEmpty();
        assertThat(counted(ResponderMetrics.HOLDS, "at", "begin")).isEqualTo(1);
        assertThat(counted(ResponderMetrics.HOLDS, "at", "turn")).isEqualTo(1);
        assertThat(counted(ResponderMetrics.HOLDS, "at", "repeat")).isEqualTo(2);
    }

    @Test
    void shouldStartTheAgentWithItsBeginAsAnInterruptWhenAdmittedFromTheQueueThenAnswerFromTheBackend() {
        // Given a queued call that heard the hold line
        responder();
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));
        scheduler.advance(2_000);

        // When a slot is granted
        state(CallStatus.ACTIVE);

        // Then the agent's begin message is said as an agent interrupt (response 0 was the hold line)
        assertThat(out).hasSize(2);
        AgentResponse begin = out.get(1);
        assertThat(begin.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        assertThat(begin.interruptId()).isEqualTo(2_000L);
        assertThat(begin.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(begin.content()).isEqualTo(GREETING);
        assertThat(begin.contentComplete()).isTrue();

        // And no hold repeat follows; the next turn goes to the backend with the call's context
        scheduler.advance(60_000);
        assertThat(out).hasSize(2);
        responder.handle(turn(1));
        assertThat(backend.calls()).singleElement().satisfies(c -> {
            assertThat(c.turn().agentId()).isEqualTo("agent-7");
            assertThat(c.turn().dynamicVariables()).containsEntry("name", "Alice");
        });
        backend.last().stream("Sure.").finish();
        assertThat(out.get(out.size() - 1).kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(out.get(out.size() - 1).responseId()).isEqualTo(1);
    }

    @Test
    void shouldSayTheBusyLineWithEndCallOnResponseZeroWhenRejectedAtOnceAndOnEveryLaterTurn() {
        // Given a call rejected at once (queue full)
        responder();
        state(CallStatus.REJECTED);

        // When its socket opens, then the caller speaks anyway
        responder.handle(opened(CallEvent.BEGIN_OWED));
        responder.handle(turn(1));

        // Then the begin and the turn are the busy line with end_call, nothing from the backend
        assertThat(out).extracting(AgentResponse::responseId).containsExactly(0L, 1L);
        assertThat(out).allSatisfy(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.BUSY);
            assertThat(r.reason()).isEqualTo("queue_full");
            assertThat(r.content()).isEqualTo(BUSY);
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.endCall()).isTrue();
        });
        assertThat(backend.calls()).isEmpty();
        assertThat(counted(ResponderMetrics.BUSY, "at", "begin")).isEqualTo(1);
        assertThat(counted(ResponderMetrics.BUSY, "at", "turn")).isEqualTo(1);
    }

    @Test
    void shouldSayTheBusyLineAsAnInterruptWithEndCallWhenRejectedLaterFromTheQueue() {
        // Given a queued call that heard the hold line on its begin and once more as a repeat
        responder();
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));
        scheduler.advance(16_000);
        assertThat(out).hasSize(2);

        // When it times out in the queue
        responder.handleState("call-1", state(CallStatus.REJECTED, "queue_timeout"));

        // Then the busy line ends the call as a new agent interrupt (response 0 is complete)
        AgentResponse busy = out.get(2);
        assertThat(busy.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        assertThat(busy.interruptId()).isEqualTo(16_000L);
        assertThat(busy.kind()).isEqualTo(ResponseKind.BUSY);
        assertThat(busy.reason()).isEqualTo("queue_timeout");
        assertThat(busy.content()).isEqualTo(BUSY);
        assertThat(busy.endCall()).isTrue();
        assertThat(busy.contentComplete()).isTrue();
        // And nothing more is said: no hold repeat
        scheduler.advance(60_000);
        assertThat(out).hasSize(3);
        assertThat(counted(ResponderMetrics.BUSY, "at", "interrupt")).isEqualTo(1);
    }

    @Test
    void shouldWaitForAnUnknownAdmissionThenCloseTheTurnWithAdmissionUnknown() {
        // Given a turn of a call whose admission is not known
        responder();
        responder.handle(turn(1));

        // When no decision comes by the first-words deadline
        scheduler.advance(FILLER_AT - 1);
        assertThat(out).isEmpty();
        scheduler.advance(1);
        assertThat(out).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.FILLER));
        scheduler.advance(GIVE_UP - FILLER_AT);

        // Then the filler bridged it at the budget and the timeout line closed it, reason admission_unknown
        assertThat(out).hasSize(2);
        AgentResponse closing = out.get(1);
        assertThat(closing.kind()).isEqualTo(ResponseKind.FALLBACK);
        assertThat(closing.reason()).isEqualTo("admission_unknown");
        assertThat(closing.content()).isEqualTo("Sorry, give me just a moment.");
        assertThat(closing.contentComplete()).isTrue();
        assertThat(closing.chunkIndex()).isEqualTo(1);
        assertThat(closing.createdAtMs()).isEqualTo(START + GIVE_UP);
        assertThat(backend.calls()).isEmpty();
        assertThat(counted(ResponderMetrics.ADMISSION_WAITS, "result", "unknown")).isEqualTo(1);
        assertThat(counted(ResponderMetrics.FALLBACKS, "reason", "admission_unknown")).isEqualTo(1);

        // And a decision that comes later says nothing for that turn
        state(CallStatus.ACTIVE);
        assertThat(out).hasSize(2);
        assertThat(backend.calls()).isEmpty();
    }

    @Test
    void shouldAnswerAWaitingTurnByTheAdmissionThatComesAfterTheFiller() {
        // Given a turn bridged with a filler while its admission was in flight
        responder();
        responder.handle(turn(1));
        scheduler.advance(1_000);

        // When the call is admitted
        state(CallStatus.ACTIVE);

        // Then the backend answers it with the context that came with the decision, after the filler, no second one
        assertThat(backend.calls()).singleElement()
                .satisfies(c -> assertThat(c.turn().dynamicVariables()).containsEntry("name", "Alice"));
        backend.last().stream("Sure.").finish();
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.FILLER, ResponseKind.GENERATED,
                ResponseKind.GENERATED);
        assertThat(out).extracting(AgentResponse::chunkIndex).containsExactly(0, 1, 2);
        assertThat(out.get(2).contentComplete()).isTrue();
        assertThat(counted(ResponderMetrics.ADMISSION_WAITS, "result", "active")).isEqualTo(1);
    }

    @Test
    void shouldAnswerAWaitingBeginByTheDecisionOrCompleteItAtTheDeadline() {
        // Given an owed begin of a call whose admission is in flight
        responder();
        responder.handle(opened(CallEvent.BEGIN_OWED));
        scheduler.advance(300);
        assertThat(out).isEmpty();

        // When the call is queued
        state(CallStatus.QUEUED);

        // Then the begin is the hold line
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.responseId()).isZero();
            assertThat(r.kind()).isEqualTo(ResponseKind.HOLD);
            assertThat(r.contentComplete()).isTrue();
        });
        assertThat(counted(ResponderMetrics.ADMISSION_WAITS, "result", "queued")).isEqualTo(1);

        // And another call's begin with no decision is only completed at the deadline (the edge's greeting stands)
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "c-2").put("begin", "owed");
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "o-2", "call-2", EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, "node-a", payload));
        scheduler.advance(GIVE_UP);
        assertThat(out).hasSize(2);
        assertThat(out.get(1)).satisfies(r -> {
            assertThat(r.callId()).isEqualTo("call-2");
            assertThat(r.responseId()).isZero();
            assertThat(r.kind()).isEqualTo(ResponseKind.FALLBACK);
            assertThat(r.reason()).isEqualTo("admission_unknown");
            assertThat(r.content()).isEmpty();
            assertThat(r.contentComplete()).isTrue();
        });
    }

    @Test
    void shouldSayNothingToACallKnownOnlyByItsWebhooksAndForgetAnEndedCall() {
        // Given states read back after a restart of calls no socket is known for (webhooks only)
        responder();
        state(CallStatus.QUEUED);
        responder.handleState("call-1", state(CallStatus.REJECTED, "queue_timeout"));
        responder.handleState("call-2", CallState.builder("call-2").status(CallStatus.QUEUED).build());
        state(CallStatus.ACTIVE);

        // Then nobody is on the line to hear it: nothing is said
        scheduler.advance(60_000);
        assertThat(out).isEmpty();

        // When a queued call's socket opens, then the call ends
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "o-2", "call-2", EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, "node-a",
                Json.mapper().createObjectNode().put("begin", "owed")));
        responder.handleState("call-2", CallState.builder("call-2").status(CallStatus.ENDED).build());
        scheduler.advance(60_000);

        // Then it heard the hold line once, and no repeat after its end
        assertThat(out).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.HOLD));
    }

    /** A state as a rebuild reads it: the call's socket open by call-state (connection id, no socket_lost_at). */
    private static CallState onSocket(String callId, CallStatus status, String rejectionReason) {
        return CallState.builder(callId).status(status).agentId("agent-7").connectionId("c-" + callId)
                .socketOpenedAtMs(START - 10_000).latestResponseId(1L).rejectionReason(rejectionReason)
                .firstEventAtMs(START - 10_000).build();
    }

    @Test
    void shouldHoldAdmitAndRefuseCallsRebuiltFromCallStateWhoseSocketIsOpen() {
        // Given a new owner (a restart, a rebalance) that read back two queued calls on the line, and no socket event
        responder();
        responder.handleState("call-a", onSocket("call-a", CallStatus.QUEUED, null), true);
        responder.handleState("call-b", onSocket("call-b", CallStatus.QUEUED, null), true);

        // Then both hear they are still waiting at the next hold repeat
        scheduler.advance(15_000);
        assertThat(out).hasSize(2).allSatisfy(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.HOLD);
            assertThat(r.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
            assertThat(r.responseId()).isEqualTo(1);
        });

        // When one is admitted and the other times out in the queue
        responder.handleState("call-a", onSocket("call-a", CallStatus.ACTIVE, null));
        responder.handleState("call-b", onSocket("call-b", CallStatus.REJECTED, "queue_timeout"));

        // Then the admitted one hears the agent's begin message, the other the busy line with end_call, as interrupts
        assertThat(out).hasSize(4);
        assertThat(out.get(2)).satisfies(r -> {
            assertThat(r.callId()).isEqualTo("call-a");
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
            assertThat(r.content()).isEqualTo(GREETING);
            assertThat(r.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        });
        assertThat(out.get(3)).satisfies(r -> {
            assertThat(r.callId()).isEqualTo("call-b");
            assertThat(r.kind()).isEqualTo(ResponseKind.BUSY);
            assertThat(r.reason()).isEqualTo("queue_timeout");
            assertThat(r.endCall()).isTrue();
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        });
        // And no more hold repeats
        scheduler.advance(60_000);
        assertThat(out).hasSize(4);
    }

    @Test
    void shouldSayNothingToACallWhoseSocketCallStateSaysIsLost() {
        // Given a queued call whose socket closed (call-state: socket_lost_at set), read back by a rebuild
        responder();
        responder.handleState("call-a", onSocket("call-a", CallStatus.QUEUED, null).toBuilder()
                .socketLostAtMs(START - 1_000).build(), true);

        // When time passes and it times out in the queue
        scheduler.advance(30_000);
        responder.handleState("call-a", onSocket("call-a", CallStatus.REJECTED, "queue_timeout").toBuilder()
                .socketLostAtMs(START - 1_000).build());

        // Then nothing was said: nobody is on the line
        assertThat(out).isEmpty();
    }

    @Test
    void shouldStopHoldingTheCallsOfAPartitionThatMovedAndStartAboveTheOldOwnersInterruptIds() {
        // Given a queued call held here, that heard a hold repeat
        responder();
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));
        scheduler.advance(15_000);
        assertThat(out).hasSize(2);
        long oldOwnersId = out.get(1).interruptId();

        // When its partition moves to another member
        assertThat(responder.forgetMoved(List.of("call-1", "call-unknown"))).isEqualTo(1);

        // Then no hold line is said here any more
        scheduler.advance(60_000);
        assertThat(out).hasSize(2);

        // And a new owner that rebuilds it (its socket open by call-state) says its interrupts above the old owner's
        List<AgentResponse> other = new CopyOnWriteArrayList<>();
        TurnResponder newOwner = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), backend,
                null, scheduler, clock, meters, other::add, true);
        try {
            newOwner.handleState("call-1", onSocket("call-1", CallStatus.QUEUED, null), true);
            newOwner.handleState("call-1", onSocket("call-1", CallStatus.REJECTED, "queue_timeout"));
            assertThat(other).singleElement().satisfies(r -> {
                assertThat(r.kind()).isEqualTo(ResponseKind.BUSY);
                assertThat(r.endCall()).isTrue();
                assertThat(r.interruptId()).isGreaterThan(oldOwnersId);
            });
        } finally {
            newOwner.close();
        }
        assertThat(out).hasSize(2);
    }

    @Test
    void shouldHoldCallDetailsUntilAdmissionAndDropWhatTheBackendSaysToACallNotAdmitted() {
        // Given a backend that records what it is given and may speak unprompted
        SpeakingBackend recording = new SpeakingBackend();
        List<String> given = recording.given;
        var unprompted = recording.unprompted;
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), recording, null,
                scheduler, clock, meters, out::add, true);

        // When a queued call sends call_details twice and update_only, and the backend speaks to it
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));
        for (int n = 1; n <= 2; n++) {
            responder.handle(socketEvent("call-1", "call_details", n));
        }
        responder.handle(socketEvent("call-1", "update_only", 3));
        unprompted.get().accept("call-1", new AgentEvent.Interrupt(0, "Hi!", true, null, null, null, null));
        unprompted.get().accept("call-9", new AgentEvent.Interrupt(0, "Hi!", true, null, null, null, null));

        // Then nothing reached the backend and the caller heard only the hold line
        assertThat(given).isEmpty();
        assertThat(out).singleElement().satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.HOLD));

        // When the call is admitted
        state(CallStatus.ACTIVE);

        // Then the latest call_details is forwarded, and what is said from then on reaches the backend
        assertThat(given).containsExactly("call-1:call_details:2");
        responder.handle(socketEvent("call-1", "update_only", 4));
        assertThat(given).containsExactly("call-1:call_details:2", "call-1:update_only:4");
        unprompted.get().accept("call-1", new AgentEvent.Interrupt(0, "Hi!", true, null, null, null, null));
        assertThat(out.get(out.size() - 1)).satisfies(r -> {
            assertThat(r.content()).isEqualTo("Hi!");
            assertThat(r.scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        });

        // And a refused call's call_details never reaches it
        responder.handleState("call-2", CallState.builder("call-2").status(CallStatus.REJECTED).build());
        responder.handle(socketEvent("call-2", "call_details", 5));
        assertThat(given).hasSize(2);
    }

    private CallEvent socketEvent(String callId, String type, int n) {
        ObjectNode payload = Json.mapper().createObjectNode().put("interaction_type", type).put("n", n);
        return new CallEvent(CallEvent.SCHEMA_VERSION, type + "-" + n, callId, EventSource.SOCKET, type, null,
                clock.millis(), null, "node-a", payload);
    }

    @Test
    void shouldShiftTheBackendsInterruptIdsPastTheRespondersOwn() {
        // Given a backend that speaks unprompted, and a call that heard a hold repeat and its begin after the queue
        SpeakingBackend speaking = new SpeakingBackend();
        var unprompted = speaking.unprompted;
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), speaking, null,
                scheduler, clock, meters, out::add, true);
        state(CallStatus.QUEUED);
        responder.handle(opened(CallEvent.BEGIN_OWED));
        scheduler.advance(15_000);
        state(CallStatus.ACTIVE);

        // When the backend interrupts with its own first ids
        unprompted.get().accept("call-1", new AgentEvent.Interrupt(0, "By the way, ", false, null, null, null, null));
        unprompted.get().accept("call-1", new AgentEvent.Interrupt(0, "we open at nine.", true, null, null, null,
                null));
        unprompted.get().accept("call-1", new AgentEvent.Interrupt(1, "Still there?", true, null, null, null, null));

        // Then its ids come after the responder's, still increasing
        assertThat(out).extracting(AgentResponse::interruptId).containsExactly(null, 15_000L, 15_001L, 15_002L, 15_002L,
                15_003L);
        assertThat(out.subList(3, 6)).extracting(AgentResponse::chunkIndex).containsExactly(0, 1, 0);
    }

    /** The fake backend's answers, and it records the call events it is given and keeps its unprompted channel. */
    private final class SpeakingBackend implements AgentBackend {
        final List<String> given = new CopyOnWriteArrayList<>();
        final java.util.concurrent.atomic.AtomicReference<java.util.function.BiConsumer<String, AgentEvent>>
                unprompted = new java.util.concurrent.atomic.AtomicReference<>();

        @Override
        public java.util.concurrent.CompletableFuture<Void> generate(Turn turn,
                java.util.function.Consumer<AgentEvent> sink) {
            return backend.generate(turn, sink);
        }

        @Override
        public void callEvent(String callId, String interactionType, com.fasterxml.jackson.databind.JsonNode payload) {
            given.add(callId + ":" + interactionType + ":" + payload.path("n").asInt());
        }

        @Override
        public void unprompted(java.util.function.BiConsumer<String, AgentEvent> sink) {
            unprompted.set(sink);
        }
    }
}
