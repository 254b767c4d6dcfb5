package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
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

/** The response cache on the turn path: who may be served whose answer (issue 14, item 4). */
class ResponseCacheTurnsTest {

    private static final long START = 1_700_000_000_000L;

    private final ManualClock clock = new ManualClock(START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private final Map<String, Object> settings = new HashMap<>();
    private final FakeBackend backend = new FakeBackend();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private TurnResponder responder;

    @AfterEach
    void close() {
        if (responder != null) {
            responder.close();
        }
    }

    private void start() {
        responder = new TurnResponder(new ResponderConfig(settings), new CommonConfig(Map.of()), backend, scheduler,
                clock, meters, out::add);
    }

    /** A call of an agent, with its dynamic variables, as call_details tells the responder. */
    private void call(String callId, String agentId, Map<String, String> variables) {
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "call_details");
        ObjectNode call = frame.putObject("call").put("call_id", callId).put("agent_id", agentId);
        ObjectNode vars = call.putObject("retell_llm_dynamic_variables");
        variables.forEach(vars::put);
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "d-" + callId, callId, EventSource.SOCKET,
                "call_details", null, START, null, "node-a", frame));
    }

    /** The caller asks, after the greeting; the answer is the backend's (when asked) or the cache's. */
    private AgentResponse ask(String callId, String... agentThenUser) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", 1);
        var transcript = frame.putArray("transcript");
        for (int i = 0; i < agentThenUser.length; i++) {
            transcript.addObject().put("role", i % 2 == 0 ? "agent" : "user").put("content", agentThenUser[i]);
        }
        int asked = backend.calls().size();
        responder.handle(new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + callId, callId, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", callId, 1L), clock.millis(), 1L,
                "node-a", frame));
        if (backend.calls().size() > asked) {
            FakeBackend.Call generated = backend.last();
            generated.stream("Hello " + generated.turn().dynamicVariables().getOrDefault("name", "there") + ".")
                    .finish();
            scheduler.advance(100);
        }
        return out.stream().filter(r -> r.callId().equals(callId) && r.contentComplete()).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("no complete answer for " + callId + ": " + out));
    }

    @Test
    void shouldNotServeBobTheAnswerGeneratedForAlice() {
        // Given Alice's first question was answered for her
        start();
        call("call-alice", "agent-7", Map.of("name", "Alice"));
        call("call-bob", "agent-7", Map.of("name", "Bob"));
        assertThat(ask("call-alice", "Hi, how can I help?", "Who am I?").content()).isEqualTo("Hello Alice.");

        // When Bob, same agent, different variables, asks the same first question
        AgentResponse bob = ask("call-bob", "Hi, how can I help?", "Who am I?");

        // Then the backend answered him, for him
        assertThat(bob.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(bob.content()).isEqualTo("Hello Bob.");
        assertThat(backend.calls()).hasSize(2);
    }

    @Test
    void shouldServeTheSameAnswerWhenEverythingTheBackendSawIsTheSame() {
        // Given
        start();
        call("call-1", "agent-7", Map.of("name", "Alice"));
        call("call-2", "agent-7", Map.of("name", "Alice"));
        call("call-3", "agent-8", Map.of("name", "Alice"));
        ask("call-1", "Hi, how can I help?", "Who am I?");

        // When the same variables and transcript come on another call of the agent, and on another agent's
        AgentResponse same = ask("call-2", "Hi, how can I help?", "who am  I?");
        AgentResponse otherAgent = ask("call-3", "Hi, how can I help?", "Who am I?");

        // Then the first is cached, the other agent's is its own
        assertThat(same.kind()).isEqualTo(ResponseKind.CACHED);
        assertThat(same.content()).isEqualTo("Hello Alice.");
        assertThat(otherAgent.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(backend.calls()).hasSize(2);
    }

    @Test
    void shouldShareByTheTranscriptTailOnlyForAnOptedInAgent() {
        // Given agent-7 opted in to the tail key
        settings.put(ResponderConfig.CACHE_TAIL_KEY_AGENTS_CONFIG, "agent-7, agent-9");
        start();
        call("call-alice", "agent-7", Map.of("name", "Alice"));
        call("call-bob", "agent-7", Map.of("name", "Bob"));
        call("call-carol", "agent-8", Map.of("name", "Carol"));
        call("call-dave", "agent-8", Map.of("name", "Dave"));
        ask("call-alice", "Hi, how can I help?", "When do you open?");
        ask("call-carol", "Hi, how can I help?", "When do you open?");

        // When callers with other variables ask the same of each agent
        AgentResponse bob = ask("call-bob", "Hi, how can I help?", "When do you open?");
        AgentResponse dave = ask("call-dave", "Hi, how can I help?", "When do you open?");

        // Then only the opted-in agent shares across callers
        assertThat(bob.kind()).isEqualTo(ResponseKind.CACHED);
        assertThat(bob.content()).isEqualTo("Hello Alice.");
        assertThat(dave.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(dave.content()).isEqualTo("Hello Dave.");
    }

    @Test
    void shouldNeitherReadNorWriteTheCacheForATurnWhoseAgentIsNotKnown() {
        // Given two calls whose agent the responder was never told (perhaps two different agents)
        start();
        AgentResponse first = ask("call-x", "Hi, how can I help?", "Who am I?");

        // When the other asks exactly the same
        AgentResponse second = ask("call-y", "Hi, how can I help?", "Who am I?");

        // Then both were answered by the backend, and the cache was neither looked up nor filled
        assertThat(first.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(second.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(backend.calls()).hasSize(2);
        assertThat(responder.cache()).hasValueSatisfying(cache -> assertThat(cache.size()).isZero());
        assertThat(meters.find(ResponderMetrics.CACHE_LOOKUPS).counters()).isEmpty();

        // And once the agent is known, the same question is cached as usual
        call("call-z", "agent-7", Map.of());
        call("call-w", "agent-7", Map.of());
        ask("call-z", "Hi, how can I help?", "Who am I?");
        assertThat(ask("call-w", "Hi, how can I help?", "Who am I?").kind()).isEqualTo(ResponseKind.CACHED);
    }
}
