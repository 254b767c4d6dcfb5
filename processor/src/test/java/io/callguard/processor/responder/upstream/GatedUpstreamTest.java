package io.callguard.processor.responder.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Admission in front of the retell-socket backend, against the Node upstream: a queued or refused call opens no
 * upstream socket (its {@code call_details} is held, not forwarded), and an admitted one gets its {@code call_details}
 * at admission, then the upstream's begin message and answers.
 */
class GatedUpstreamTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String CALL = "call_1";

    private final ManualClock clock = new ManualClock(1_700_000_000_000L);
    private final ManualScheduler turnTimers = new ManualScheduler(clock);
    private final ScheduledThreadPoolExecutor backendTimers = new ScheduledThreadPoolExecutor(1);
    private final List<AgentResponse> out = new CopyOnWriteArrayList<>();
    private NodeUpstream upstream;
    private RetellSocketBackend backend;
    private TurnResponder responder;

    @AfterEach
    void stop() {
        if (responder != null) {
            responder.close();
        }
        if (backend != null) {
            backend.close();
        }
        if (upstream != null) {
            upstream.kill();
        }
        backendTimers.shutdownNow();
    }

    private void start() {
        upstream = NodeUpstream.start(0);
        Map<String, Object> values = new HashMap<>();
        values.put(ResponderConfig.AGENT_BACKEND_CONFIG, ResponderConfig.BACKEND_RETELL_SOCKET);
        values.put(ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, upstream.urlTemplate());
        values.put(ResponderConfig.CHUNK_COALESCE_MS_CONFIG, 0);
        ResponderConfig config = new ResponderConfig(values);
        backend = new RetellSocketBackend(config, backendTimers);
        responder = new TurnResponder(config, new CommonConfig(Map.of()), backend, null, turnTimers, clock,
                new SimpleMeterRegistry(), out::add, true);
    }

    @Test
    void shouldOpenNoUpstreamForAQueuedCallAndForwardItsCallDetailsWhenAdmitted() throws Exception {
        // Given a queued call whose socket opened and sent call_details, then a turn
        openedWithCallDetails(CallStatus.QUEUED);
        responder.handle(turn(1, "are you there"));

        // Then it heard the hold line twice, and no upstream socket was opened for it
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.HOLD, ResponseKind.HOLD);
        assertThat(backend.trackedCalls()).isZero();
        await().during(Duration.ofMillis(500)).atMost(WAIT)
                .untilAsserted(() -> assertThat(upstream.events("connected")).isEmpty());

        // When it is admitted
        responder.handleState(CALL, state(CallStatus.ACTIVE));

        // Then the upstream gets the call's call_details, as Retell sent it, and its begin message is said as an
        // agent interrupt (response 0 was the hold line)
        await().atMost(WAIT).until(() -> upstream.events("connected").size() == 1);
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("call_details")).containsExactly(callDetails().payload()));
        await().atMost(WAIT).until(() -> out.stream().anyMatch(r -> r.interruptId() != null && r.contentComplete()));
        assertThat(out.stream().filter(r -> r.interruptId() != null).map(AgentResponse::content)
                .reduce("", String::concat)).isEqualTo("Hello +15550001, how can I help?");

        // And its next turn is the upstream's answer
        responder.handle(turn(2, "now can you help"));
        await().atMost(WAIT).until(() -> out.stream().anyMatch(r -> r.responseId() == 2 && r.contentComplete()));
        assertThat(out.stream().filter(r -> r.responseId() == 2).map(AgentResponse::kind))
                .containsOnly(ResponseKind.GENERATED);
    }

    @Test
    void shouldOpenNoUpstreamForARejectedCallAndDropWhatTheBackendSaysUnprompted() throws Exception {
        // Given a refused call whose socket sent call_details and a turn
        openedWithCallDetails(CallStatus.REJECTED);
        responder.handle(update());
        responder.handle(turn(1, "interrupt me"));

        // Then it heard the busy line with end_call, and no upstream socket was ever opened for it
        assertThat(out).extracting(AgentResponse::kind).containsExactly(ResponseKind.BUSY, ResponseKind.BUSY);
        assertThat(out).allSatisfy(r -> assertThat(r.endCall()).isTrue());
        assertThat(backend.trackedCalls()).isZero();
        await().during(Duration.ofMillis(500)).atMost(WAIT)
                .untilAsserted(() -> assertThat(upstream.events("connected")).isEmpty());

        // And an agent interrupt the backend passes for it (as an upstream of a call it still held would) is not said
        backend.unprompted(CALL, new io.callguard.processor.responder.AgentEvent.Interrupt(7, "One more thing!", true,
                null, null, null, false));
        assertThat(out).hasSize(2);
    }

    /** Starts the upstream and responder; a call decided {@code status} whose socket opened and sent call_details. */
    private void openedWithCallDetails(CallStatus status) throws Exception {
        start();
        responder.handleState(CALL, state(status));
        responder.handle(opened());
        responder.handle(callDetails());
    }

    private CallState state(CallStatus status) {
        return CallState.builder(CALL).status(status).agentId("agent_1").connectionId("c-1")
                .rejectionReason(status == CallStatus.REJECTED ? CallState.REJECTED_QUEUE_FULL : null).build();
    }

    private CallEvent opened() {
        ObjectNode payload = JSON.createObjectNode().put("connection_id", "c-1").put("begin", CallEvent.BEGIN_OWED);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "o-1", CALL, EventSource.SOCKET, CallEvent.TYPE_SOCKET_OPENED,
                null, clock.millis(), null, "node-a", payload);
    }

    private CallEvent callDetails() throws Exception {
        JsonNode payload = JSON.readTree("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"" + CALL
                + "\",\"from_number\":\"+15550001\",\"agent_id\":\"agent_1\"}}");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "d-1", CALL, EventSource.SOCKET, "call_details", null,
                clock.millis(), null, "node-a", payload);
    }

    private CallEvent update() throws Exception {
        JsonNode payload = JSON.readTree("{\"interaction_type\":\"update_only\",\"transcript\":[]}");
        return new CallEvent(CallEvent.SCHEMA_VERSION, "u-1", CALL, EventSource.SOCKET, "update_only", null,
                clock.millis(), null, "node-a", payload);
    }

    private CallEvent turn(long responseId, String words) {
        ObjectNode frame = JSON.createObjectNode().put("interaction_type", "response_required")
                .put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", words);
        return new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + responseId, CALL, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", CALL, responseId), clock.millis(),
                responseId, "node-a", frame);
    }
}
