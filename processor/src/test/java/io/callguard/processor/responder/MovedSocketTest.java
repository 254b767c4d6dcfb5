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
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A call's socket that moved, perhaps to another edge node: the begin owed by an edge that could not tell a reconnect
 * is an empty one, decided from the call's events and call-state; the answer owed at the moment of the move is
 * re-sent so the new socket can hear it.
 */
class MovedSocketTest {

    private static final long START = 1_700_000_000_000L;
    private static final String CALL = "call-1";
    private static final String GREETING = "Hello! How can I help you today?";

    private final ManualClock clock = new ManualClock(START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private final FakeBackend backend = new FakeBackend();
    private final TurnResponder responder = new TurnResponder(
            new ResponderConfig(Map.of(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0)), new CommonConfig(Map.of()),
            backend, null, scheduler, clock, meters, out::add, true);

    @AfterEach
    void everyRecordMatchesTheSchema() {
        responder.close();
        out.forEach(r -> assertMatchesSchema(r));
    }

    private CallEvent opened(String connection, String edge) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", connection)
                .put("begin", CallEvent.BEGIN_OWED);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "o-" + connection, CALL, EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, edge, payload);
    }

    private CallEvent turn(long responseId, String edge) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "question " + responseId);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "t-" + responseId + "-" + edge, CALL, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", CALL, responseId),
                clock.millis(), responseId, edge, frame);
    }

    private void active() {
        responder.handleState(CALL, CallState.builder(CALL).status(CallStatus.ACTIVE).build());
    }

    /** An admitted call greeted on edge A asks turn 1 there: the backend's call for it. */
    private FakeBackend.Call askedOnEdgeA() {
        active();
        responder.handle(opened("conn-a", "edge-a"));
        responder.handle(turn(1, "edge-a"));
        return backend.last();
    }

    private double resent(String at) {
        return meters.counter(ResponderMetrics.ANSWERS_RESENT, ResponderMetrics.TAG_AT, at).count();
    }

    private List<AgentResponse> of(long responseId) {
        return out.stream().filter(r -> r.responseId() == responseId).toList();
    }

    @Test
    void shouldAnswerTheOwedBeginOfASocketOnAnotherNodeWithAnEmptyOneNotTheGreeting() {
        // Given a call greeted on edge A that took a turn there
        askedOnEdgeA().stream("It ships today.").finish();
        assertThat(of(0)).singleElement().satisfies(r -> assertThat(r.content()).isEqualTo(GREETING));

        // When it reconnects to edge B, which could not tell and owes the begin to the pipeline
        out.clear();
        responder.handle(opened("conn-b", "edge-b"));

        // Then the begin is empty and complete, addressed to edge B: the caller is not greeted mid-call
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.responseId()).isZero();
            assertThat(r.content()).isEmpty();
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.edgeNode()).isEqualTo("edge-b");
        });
        assertThat(meters.counter(ResponderMetrics.RECONNECT_BEGINS).count()).isEqualTo(1);

        // And its next turn is the backend's, as any turn
        responder.handle(turn(2, "edge-b"));
        assertThat(backend.calls()).hasSize(2);
    }

    @Test
    void shouldNotGreetASecondSocketEvenBeforeAnyTurn() {
        // Given a call whose first socket had its greeting and no turn yet
        active();
        responder.handle(opened("conn-a", "edge-a"));
        out.clear();

        // When a second socket opens (Retell reconnecting) with the begin owed
        responder.handle(opened("conn-b", "edge-b"));

        // Then it is an empty begin
        assertThat(out).singleElement().satisfies(r -> assertThat(r.content()).isEmpty());
    }

    @Test
    void shouldTellAReconnectFromCallStateAfterARestartAndGreetAFirstSocketCallStateAlreadyHas() {
        // Given a responder that restarted: it knows the call from call-state only, whose socket was conn-a
        responder.handleState(CALL, CallState.builder(CALL).status(CallStatus.ACTIVE).connectionId("conn-a")
                .build());
        responder.handleState("call-2", CallState.builder("call-2").status(CallStatus.ACTIVE)
                .connectionId("conn-x").build());

        // When the call's socket conn-b opens (a reconnect), and call-2's conn-x (its first, which the processor
        // applied before this responder read it)
        responder.handle(opened("conn-b", "edge-b"));
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "conn-x")
                .put("begin", CallEvent.BEGIN_OWED);
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "o-x", "call-2", EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, "edge-b", payload));

        // Then the reconnect's begin is empty and the first socket's is the greeting
        assertThat(out).hasSize(2);
        assertThat(out.get(0).content()).isEmpty();
        assertThat(out.get(1).callId()).isEqualTo("call-2");
        assertThat(out.get(1).content()).isEqualTo(GREETING);
    }

    @Test
    void shouldSayTheBusyLineOnTheOwedBeginOfARejectedCallsReconnect() {
        // Given a rejected call that had a socket
        responder.handleState(CALL, CallState.builder(CALL).status(CallStatus.REJECTED).connectionId("conn-a")
                .rejectionReason("queue_full").build());

        // When it reconnects to a node that could not tell
        responder.handle(opened("conn-b", "edge-b"));

        // Then it hears the busy line with end_call, as on any begin of a rejected call
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.kind()).isEqualTo(ResponseKind.BUSY);
            assertThat(r.content()).isEqualTo(ProcessorConfig.DEFAULT_BUSY_MESSAGE);
            assertThat(r.endCall()).isTrue();
        });
    }

    @Test
    void shouldCatchTheNewSocketUpOnAnAnswerStillStreamingWhenItMoved() {
        // Given a turn on edge A whose answer is half written (two chunks) when the socket moves to edge B
        FakeBackend.Call call = askedOnEdgeA().stream("Your order ", "left the warehouse");
        out.clear();

        // When the new socket opens on edge B (the begin owed there)
        responder.handle(opened("conn-b", "edge-b"));

        // Then after the empty begin, what was said of the answer goes again, as one record under the last chunk
        // index written (an edge that had those chunks drops it), not complete
        assertThat(out).hasSize(2);
        assertThat(out.get(1)).satisfies(r -> {
            assertThat(r.responseId()).isEqualTo(1);
            assertThat(r.content()).isEqualTo("Your order left the warehouse");
            assertThat(r.chunkIndex()).isEqualTo(1);
            assertThat(r.contentComplete()).isFalse();
            assertThat(r.edgeNode()).isEqualTo("edge-b");
        });
        assertThat(resent(ResponderMetrics.AT_RECONNECT)).isEqualTo(1);

        // And the rest of the answer follows under the next chunk indexes
        call.stream(" this morning.").finish();
        assertThat(of(1).subList(1, of(1).size())).extracting(AgentResponse::chunkIndex).containsExactly(2, 3);

        // And Retell asking for the turn again on the new socket gets nothing twice
        out.clear();
        responder.handle(turn(1, "edge-b"));
        assertThat(out).isEmpty();
    }

    @Test
    void shouldResendTheWholeAnswerWithItsActionWhenRetellAsksAgainOnTheNewSocket() {
        // Given a turn on edge A answered whole, with end_call, while its socket was moving
        FakeBackend.Call call = askedOnEdgeA().stream("Goodbye ", "and thanks.");
        call.sink().accept(new AgentEvent.EndCall());
        call.finish();
        int written = of(1).size();

        // When the new socket opens on edge B: a complete answer may have been heard on the old socket, so it is
        // not pushed to the new one
        out.clear();
        responder.handle(opened("conn-b", "edge-b"));
        assertThat(out).singleElement().satisfies(r -> assertThat(r.responseId()).isZero());

        // When Retell asks for the same turn again on it
        out.clear();
        responder.handle(turn(1, "edge-b"));

        // Then the whole answer goes again as one complete record with its action, the backend not called again
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.responseId()).isEqualTo(1);
            assertThat(r.content()).isEqualTo("Goodbye and thanks.");
            assertThat(r.contentComplete()).isTrue();
            assertThat(r.endCall()).isTrue();
            assertThat(r.chunkIndex()).isEqualTo(written - 1);
            assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED);
        });
        assertThat(backend.calls()).hasSize(1);
        assertThat(resent(ResponderMetrics.AT_ASKED_AGAIN)).isEqualTo(1);

        // And asked once more on the same socket, nothing goes again
        out.clear();
        responder.handle(turn(1, "edge-b"));
        assertThat(out).isEmpty();
    }

    @Test
    void shouldNotTakeACallStateWrittenBeforeTheLatestSocketForAMove() {
        // Given a call that moved from conn-a to conn-b and took turn 2 there
        askedOnEdgeA().stream("First.").finish();
        long openedOnA = START;
        clock.advance(5_000);
        responder.handle(opened("conn-b", "edge-b"));
        responder.handle(turn(2, "edge-b"));
        backend.last().stream("Second.").finish();

        // When call-state records written before conn-b opened arrive (call-state lags the events), then its own
        responder.handleState(CALL, CallState.builder(CALL).status(CallStatus.ACTIVE).connectionId("conn-a")
                .socketOpenedAtMs(openedOnA).build());
        responder.handleState(CALL, CallState.builder(CALL).status(CallStatus.ACTIVE).connectionId("conn-b")
                .socketOpenedAtMs(clock.millis()).reconnects(1).build());
        out.clear();

        // Then a repeat of turn 2 on conn-b is a plain duplicate: the socket did not move again
        responder.handle(turn(2, "edge-b"));
        assertThat(out).isEmpty();
    }

    @Test
    void shouldIgnoreATurnAskedAgainOnTheSameSocket() {
        // Given an answered turn, no socket move
        askedOnEdgeA().stream("Done.").finish();
        out.clear();

        // When the same request comes again (a duplicate delivery)
        responder.handle(turn(1, "edge-a"));

        // Then nothing is said
        assertThat(out).isEmpty();
        assertThat(backend.calls()).hasSize(1);
    }
}
