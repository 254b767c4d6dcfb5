package io.callguard.processor.responder;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The agent's whole voice through the responder: actions, tool frames, quiet periods, begin messages, interrupts. */
class AgentVoiceTurnTest {

    private static final long START = 1_700_000_000_000L;
    /** turn.stall-ms 5000 less the 60 ms delivery margin. */
    private static final long STALL = 4_940;

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

    private TurnResponder responder(AgentBackend agent) {
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), agent, scheduler,
                clock, meters, out::add);
        return responder;
    }

    private CallEvent turn(String callId, long responseId) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "where is my order");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + responseId, callId, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", callId, responseId),
                clock.millis(), responseId, "node-a", frame);
    }

    private CallEvent socketOpened(String callId, String begin) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "c-1").put("begin", begin);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "o-" + callId, callId, EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, clock.millis(), null, "node-a", payload);
    }

    private void emit(AgentEvent... events) {
        for (AgentEvent event : events) {
            backend.last().sink().accept(event);
        }
    }

    @Test
    void shouldPutTheActionsOnTheCompleteRecordOnly() {
        // Given a turn whose agent says goodbye and hangs up, asking for a transfer too
        responder(backend).handle(turn("call-1", 1));

        // When
        emit(AgentEvent.text("Thanks for calling. "), new AgentEvent.EndCall(), AgentEvent.text("Goodbye."),
                new AgentEvent.Transfer("+15550100", true), new AgentEvent.PressDigit("1"));
        backend.last().finish();

        // Then the words stream without actions, and the complete record carries all asked (the egress picks one)
        assertThat(out).extracting(AgentResponse::content).containsExactly("Thanks for calling. ", "Goodbye.", "");
        assertThat(out.subList(0, 2)).allSatisfy(r -> {
            assertThat(r.endCall()).isNull();
            assertThat(r.transferNumber()).isNull();
        });
        AgentResponse complete = out.get(2);
        assertThat(complete.contentComplete()).isTrue();
        assertThat(complete.endCall()).isTrue();
        assertThat(complete.transferNumber()).isEqualTo("+15550100");
        assertThat(complete.showTransfereeAsCaller()).isTrue();
        assertThat(complete.digitToPress()).isEqualTo("1");
    }

    @Test
    void shouldSendToolFramesInOrderAndNotStallWhileTheToolRunsWithinItsLimit() {
        // Given a turn that says a holding line, then invokes a tool with a 12 s limit
        responder(backend).handle(turn("call-1", 1));
        emit(AgentEvent.text("One moment. "), new AgentEvent.ToolInvocation("cg_1_0", "lookup_order", "{\"id\":7}",
                12_000));

        // When the tool runs 10 s, twice the stall limit, then its result and the follow-up come
        scheduler.advance(10_000);
        assertThat(out).noneMatch(AgentResponse::contentComplete);
        emit(new AgentEvent.ToolResult("cg_1_0", "shipped", true), AgentEvent.text("It has shipped."));
        backend.last().finish();

        // Then the frames are in order, with the words around them, and the turn is a whole answer
        assertThat(out).extracting(r -> r.frames().isEmpty() ? r.content() : r.frames().get(0).type())
                .containsExactly("One moment. ", AgentFrame.TOOL_CALL_INVOCATION, AgentFrame.TOOL_CALL_RESULT,
                        "It has shipped.", "");
        assertThat(out).extracting(AgentResponse::chunkIndex).containsExactly(0, 1, 2, 3, 4);
        assertThat(out.get(1).frames().get(0).arguments()).isEqualTo("{\"id\":7}");
        assertThat(out.get(1).quietUntilMs()).isEqualTo(START + 12_000);
        assertThat(out.get(2).frames().get(0).successful()).isTrue();
        assertThat(out.get(4).kind()).isEqualTo(ResponseKind.GENERATED);
    }

    @Test
    void shouldCloseAToolThatOverrunsItsOwnLimitAsAStall() {
        // Given a tool with a 6 s limit after a holding line
        responder(backend).handle(turn("call-1", 1));
        emit(AgentEvent.text("One moment. "), new AgentEvent.ToolInvocation("cg_1_0", "lookup_order", "{}", 6_000));

        // When it is still running past its limit
        scheduler.advance(5_900);
        assertThat(out).noneMatch(AgentResponse::contentComplete);
        scheduler.advance(100);

        // Then the turn ends with the stall's closing line
        AgentResponse last = out.get(out.size() - 1);
        assertThat(last.contentComplete()).isTrue();
        assertThat(last.kind()).isEqualTo(ResponseKind.FALLBACK);
        assertThat(last.reason()).isEqualTo("stall");
    }

    @Test
    void shouldStallAsUsualAfterTheToolResult() {
        // Given a tool that answered
        responder(backend).handle(turn("call-1", 1));
        emit(AgentEvent.text("One moment. "), new AgentEvent.ToolInvocation("cg_1_0", "t", "{}", 30_000),
                new AgentEvent.ToolResult("cg_1_0", "ok", null));

        // When the follow-up never comes
        scheduler.advance(STALL);

        // Then the usual stall limit applies from the result
        assertThat(out.get(out.size() - 1).reason()).isEqualTo("stall");
    }

    @Test
    void shouldNotRetryAnAttemptThatAlreadyInvokedATool() {
        // Given a tool invocation went out, then the backend fails
        responder(backend).handle(turn("call-1", 1));
        emit(new AgentEvent.ToolInvocation("cg_1_0", "book", "{}", 5_000));
        backend.last().fail();

        // Then no second attempt runs the side effect again: the closing line ends the turn
        assertThat(backend.calls()).hasSize(1);
        assertThat(out.get(out.size() - 1).reason()).isEqualTo("error");
    }

    @Test
    void shouldBridgeWithTheFillerWhenTheFirstEventIsAToolWithoutWords() {
        // Given a tool invoked before any word
        responder(backend).handle(turn("call-1", 1));
        emit(new AgentEvent.ToolInvocation("cg_1_0", "t", "{}", 20_000));

        // When the budget passes
        scheduler.advance(740);

        // Then the caller hears the filler, and the first-words deadline waits for the tool
        assertThat(out).anyMatch(r -> r.kind() == ResponseKind.FILLER);
        scheduler.advance(10_000);
        assertThat(out).noneMatch(AgentResponse::contentComplete);
        emit(new AgentEvent.ToolResult("cg_1_0", "ok", true), AgentEvent.text("Done."));
        backend.last().finish();
        assertThat(out.get(out.size() - 1).kind()).isEqualTo(ResponseKind.GENERATED);
    }

    @Test
    void shouldMarkWordsThatCannotBeInterruptedOnTheirOwnRecord() {
        responder(backend).handle(turn("call-1", 1));
        emit(AgentEvent.text("Please listen: "), new AgentEvent.Text("your code is 1234.", true));
        backend.last().finish();

        assertThat(out).extracting(AgentResponse::content).containsExactly("Please listen: ", "your code is 1234.", "");
        assertThat(out).extracting(AgentResponse::noInterruptionAllowed).containsExactly(null, true, null);
    }

    @Test
    void shouldNotCacheAnAnswerThatHangsUp() {
        settings.put(ResponderConfig.CACHE_ENABLED_CONFIG, true);
        responder(backend).handle(turn("call-1", 1));
        emit(AgentEvent.text("Goodbye."), new AgentEvent.EndCall());
        backend.last().finish();

        responder.handle(turn("call-2", 1));

        assertThat(backend.calls()).hasSize(2);
        assertThat(out).noneMatch(r -> r.kind() == ResponseKind.CACHED);
    }

    @Test
    void shouldStreamTheBeginMessageOfABackendThatSaysOne() {
        // Given a backend that says its own begin message
        Conversational agent = new Conversational();
        responder(agent);

        // When the edge leaves the begin message to the agent
        responder.handle(socketOpened("call-1", CallEvent.BEGIN_OWED));
        agent.beginSink.accept(AgentEvent.text("Hi, this is Acme."));
        agent.beginDone.complete(null);

        // Then it goes out as response 0, completed
        assertThat(out).extracting(AgentResponse::responseId).containsOnly(0L);
        assertThat(out).extracting(AgentResponse::content).containsExactly("Hi, this is Acme.", "");
        assertThat(out.get(1).contentComplete()).isTrue();
    }

    @Test
    void shouldNotAskForABeginMessageTheEdgeAlreadySaid() {
        Conversational agent = new Conversational();
        responder(agent);

        responder.handle(socketOpened("call-1", CallEvent.BEGIN_SENT));

        assertThat(agent.beginSink).isNull();
    }

    @Test
    void shouldForwardCallDetailsAndUpdatesAndTheEnd() {
        Conversational agent = new Conversational();
        responder(agent);
        ObjectNode update = Json.mapper().createObjectNode().put("interaction_type", "update_only");
        update.putArray("transcript");

        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "u-1", "call-1", EventSource.SOCKET, "update_only",
                null, START, null, "node-a", update));
        ObjectNode ended = Json.mapper().createObjectNode().put("event", "call_ended");
        ended.putObject("call").put("call_id", "call-1");
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "w-1", "call-1", EventSource.WEBHOOK, "call_ended",
                "call_ended:call-1", START, null, null, ended));

        assertThat(agent.seen).containsExactly("update_only", "ended");
    }

    @Test
    void shouldWriteInterruptsAndCallFramesSaidOutsideATurn() {
        // Given a backend that speaks unprompted
        Conversational agent = new Conversational();
        responder(agent);
        responder.handle(socketOpened("call-1", CallEvent.BEGIN_SENT));
        JsonNode meta = Json.mapper().createObjectNode().put("crm_id", "42");

        // When it interrupts twice (the second a new id) and records metadata
        agent.unprompted.accept("call-1", new AgentEvent.Interrupt(1, "Sorry, ", false, null, null, null, null));
        agent.unprompted.accept("call-1", new AgentEvent.Interrupt(2, "One more thing.", true, true, null, null,
                null));
        agent.unprompted.accept("call-1", new AgentEvent.Metadata(meta));
        agent.unprompted.accept("call-1", new AgentEvent.EndCall());

        // Then the interrupts carry their ids and chunk numbers; the metadata is call-scoped; a lone action dropped
        assertThat(out).hasSize(3);
        assertThat(out.get(0).scope()).isEqualTo(AgentResponse.SCOPE_INTERRUPT);
        // (on the wire, each new id of the backend's is a new id above every one sent for the call: time-based once
        // the call's state is known, counting up from 0 until then, as here)
        assertThat(out.get(0).interruptId()).isZero();
        assertThat(out.get(1).interruptId()).isEqualTo(1L);
        assertThat(out.get(1).chunkIndex()).isZero();
        assertThat(out.get(1).endCall()).isTrue();
        assertThat(out.get(1).edgeNode()).isEqualTo("node-a");
        assertThat(out.get(2).scope()).isEqualTo(AgentResponse.SCOPE_CALL);
        assertThat(out.get(2).frames().get(0).metadata()).isEqualTo(meta);
    }

    /** A backend that keeps a conversation: records what it is told and exposes its sinks. */
    private static final class Conversational implements AgentBackend {
        final List<String> seen = new ArrayList<>();
        final CompletableFuture<Void> beginDone = new CompletableFuture<>();
        Consumer<AgentEvent> beginSink;
        BiConsumer<String, AgentEvent> unprompted;

        @Override
        public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> sink) {
            return new CompletableFuture<>();
        }

        @Override
        public boolean saysBeginMessage() {
            return true;
        }

        @Override
        public CompletableFuture<Void> begin(Turn call, Consumer<AgentEvent> sink) {
            beginSink = sink;
            return beginDone;
        }

        @Override
        public void callEvent(String callId, String interactionType, JsonNode payload) {
            seen.add(interactionType);
        }

        @Override
        public void callEnded(String callId) {
            seen.add("ended");
        }

        @Override
        public void unprompted(BiConsumer<String, AgentEvent> sink) {
            unprompted = sink;
        }
    }
}
