package io.callguard.processor.responder.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.callguard.processor.responder.AgentBackendException;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.Turn;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The retell-socket backend against an independent server: {@code src/test/node/upstream-server.js}, written with
 * Node's {@code ws} against Retell's protocol, started as a process. What the server received is read from its
 * own record (its stdout), not from the backend.
 */
class RetellSocketBackendTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String CALL = "call_1";
    private static final long TOOL_LIMIT_MS = 7_000;

    private final ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(1);
    private final List<AgentEvent> events = new CopyOnWriteArrayList<>();
    private final List<AgentEvent> unprompted = new CopyOnWriteArrayList<>();
    private NodeUpstream upstream;
    private RetellSocketBackend backend;

    @AfterEach
    void stop() {
        if (backend != null) {
            backend.close();
        }
        if (upstream != null) {
            upstream.kill();
        }
        scheduler.shutdownNow();
    }

    @Test
    void shouldSendCallDetailsWhenAskedAndStreamTheBeginMessageThatFollows() throws Exception {
        // Given a server that sends its begin message only after call_details
        start(5);

        // When the call's socket opens, and call_details arrives later
        CompletableFuture<Void> begun = backend.begin(turn(0, List.of()), events::add);
        await().atMost(WAIT).until(() -> upstream.events("connected").size() == 1);
        backend.callEvent(CALL, "call_details", callDetails());

        // Then the begin message streams to begin's sink, after the server got the call object as Retell sends it
        begun.get(10, TimeUnit.SECONDS);
        assertThat(events).containsExactly(new AgentEvent.Text("Hello +15550001, how can I help?", false));
        // (the server's log of what it received is read from its output by another thread: wait for it)
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("call_details")).containsExactly(callDetails()));
        assertThat(upstream.events("connected").get(0).path("path").asText()).isEqualTo("/llm-websocket/" + CALL);
        assertThat(backend.saysBeginMessage()).isTrue();
    }

    @Test
    void shouldSendTheWholeTranscriptAndRelayAStreamedAnswer() throws Exception {
        // Given
        start(5);
        List<Turn.Utterance> transcript = List.of(new Turn.Utterance("agent", "Hello"),
                new Turn.Utterance("user", "What time is it"));

        // When
        backend.generate(turn(1, transcript), events::add).get(10, TimeUnit.SECONDS);

        // Then the answer arrives in its chunks, no_interruption_allowed kept; the empty last chunk says nothing
        assertThat(events).containsExactly(new AgentEvent.Text("You said: What ", false),
                new AgentEvent.Text("time is it", true));
        JsonNode asked = JSON.readTree("{\"interaction_type\":\"response_required\",\"response_id\":1,\"transcript\":["
                + "{\"role\":\"agent\",\"content\":\"Hello\"},{\"role\":\"user\",\"content\":\"What time is it\"}]}");
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("response_required")).containsExactly(asked));
        // The server's unknown field on every response is tolerated and counted.
        assertThat(backend.counters().unknownFrames()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void shouldSendAReminderAsReminderRequired() throws Exception {
        // Given
        start(5);

        // When
        backend.generate(new Turn(CALL, 4, "reminder_required", List.of(new Turn.Utterance("user", "hi")), null,
                Map.of()), events::add).get(10, TimeUnit.SECONDS);

        // Then
        await().atMost(WAIT).untilAsserted(() -> assertThat(upstream.received("reminder_required")).hasSize(1));
        assertThat(upstream.received("reminder_required").get(0).path("response_id").asLong()).isEqualTo(4);
        assertThat(events).containsExactly(new AgentEvent.Text("You said: ", false), new AgentEvent.Text("hi", true));
    }

    @Test
    void shouldRelayTheToolSequenceInOrderUnderTheSameResponseId() throws Exception {
        // Given
        start(5);

        // When
        backend.generate(turn(1, said("Where is my order?")), events::add).get(10, TimeUnit.SECONDS);

        // Then
        assertThat(events).containsExactly(
                new AgentEvent.Text("Let me check your order.", false),
                new AgentEvent.ToolInvocation("call_1", "lookup_order", "{\"order_id\":\"42\"}", TOOL_LIMIT_MS),
                new AgentEvent.ToolResult("call_1", "{\"status\":\"shipped\"}", null),
                new AgentEvent.Text("Your order has shipped.", false));
    }

    @Test
    void shouldRelayEndCallAndTransferAfterTheirContent() throws Exception {
        // Given
        start(5);
        List<AgentEvent> transfer = new CopyOnWriteArrayList<>();

        // When
        backend.generate(turn(1, said("ok bye")), events::add).get(10, TimeUnit.SECONDS);
        backend.generate(turn(2, said("transfer me please")), transfer::add).get(10, TimeUnit.SECONDS);

        // Then
        assertThat(events).containsExactly(new AgentEvent.Text("Goodbye!", false), new AgentEvent.EndCall());
        assertThat(transfer).containsExactly(new AgentEvent.Text("Transferring you now.", false),
                new AgentEvent.Transfer("+14155550100", true));
    }

    @Test
    void shouldPassAnAgentInterruptToTheUnpromptedChannel() throws Exception {
        // Given
        start(5);
        List<String> calls = new CopyOnWriteArrayList<>();
        backend.unprompted((callId, event) -> {
            calls.add(callId);
            unprompted.add(event);
        });

        // When
        backend.generate(turn(1, said("interrupt me")), events::add).get(10, TimeUnit.SECONDS);

        // Then
        await().atMost(WAIT).until(() -> !unprompted.isEmpty());
        assertThat(unprompted).containsExactly(
                new AgentEvent.Interrupt(7, "One more thing!", true, null, null, null, false));
        assertThat(calls).containsExactly(CALL);
        assertThat(events).doesNotHaveAnyElementsOfTypes(AgentEvent.Interrupt.class);
    }

    @Test
    void shouldDropResponsesForAnOlderIdAndCountThem() throws Exception {
        // Given
        start(5);

        // When the server first answers response_id 2 for the request 3
        backend.generate(turn(3, said("stale one")), events::add).get(10, TimeUnit.SECONDS);

        // Then
        assertThat(events).containsExactly(new AgentEvent.Text("You said: ", false),
                new AgentEvent.Text("stale one", true));
        assertThat(backend.counters().staleResponses()).isEqualTo(1);
    }

    @Test
    void shouldPingEveryTwoSecondsWhenAskedAndEchoTheUpstreamsOwnPing() throws Exception {
        // Given a server whose config asks for auto_reconnect
        start(5);
        long before = System.currentTimeMillis();

        // When it sends a ping_pong of its own during a turn
        backend.generate(turn(1, said("ping me")), events::add).get(10, TimeUnit.SECONDS);

        // Then it is echoed once, and the backend's own pings follow every 2 s, answered by the server
        await().atMost(WAIT).until(() -> upstream.received("ping_pong").stream()
                .filter(p -> p.path("timestamp").asLong() != 42).count() >= 2);
        List<JsonNode> pings = upstream.received("ping_pong");
        assertThat(pings).filteredOn(p -> p.path("timestamp").asLong() == 42).hasSize(1);
        List<Long> ours = pings.stream().map(p -> p.path("timestamp").asLong()).filter(t -> t != 42).toList();
        assertThat(ours.get(0)).isBetween(before, System.currentTimeMillis());
        assertThat(ours.get(1) - ours.get(0)).isBetween(1_500L, 3_000L);
        assertThat(backend.counters().pingsSent()).isGreaterThanOrEqualTo(2);
        // The server's pong replies are not echoed back to it (no ping loop): only our pings and the one echo.
        assertThat(pings).hasSize(ours.size() + 1);
    }

    @Test
    void shouldReconnectAndResendCallDetailsAndTheOpenRequestWhenTheUpstreamRestarts() throws Exception {
        // Given a turn the server will not answer
        start(50);
        backend.callEvent(CALL, "call_details", callDetails());
        List<Turn.Utterance> transcript = List.of(new Turn.Utterance("agent", "Hi"),
                new Turn.Utterance("user", "please hang on"));
        CompletableFuture<Void> answered = backend.generate(turn(1, transcript), events::add);
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 1);
        JsonNode request = upstream.received("response_required").get(0);

        // When the server dies mid-turn and starts again on the same port, answering this time
        int port = upstream.port();
        upstream.kill();
        upstream = NodeUpstream.start(port, "--no-hang");

        // Then the turn completes with the restarted server's answer to the same request
        answered.get(15, TimeUnit.SECONDS);
        assertThat(events).containsExactly(new AgentEvent.Text("You said: please ", false),
                new AgentEvent.Text("hang on", true));
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("response_required")).containsExactly(request));
        List<String> order = upstream.received(null).stream().map(f -> f.path("interaction_type").asText())
                .filter(t -> !t.equals("ping_pong")).toList();
        assertThat(order).containsExactly("call_details", "response_required");
        assertThat(upstream.received("call_details")).containsExactly(callDetails());
        assertThat(backend.counters().reconnects()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void shouldReconnectWhenTheUpstreamAnswersNoPingFor5Seconds() throws Exception {
        // Given a server that keeps its socket open but stops answering pings, on a manual timer
        ManualScheduler timer = new ManualScheduler(new ManualClock(1_000_000));
        upstream = NodeUpstream.start(0, "--no-pong");
        backend = new RetellSocketBackend(config(upstream, 5), timer, timer.clock(), null);
        CompletableFuture<Void> answered = backend.generate(turn(1, said("please hang on")), events::add);
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 1);
        await().atMost(WAIT).until(() -> timer.pending().stream()
                .anyMatch(t -> t.requestedDelayMs() == UpstreamCall.PING_INTERVAL_MS));

        // When a ping goes unanswered for 5 s
        timer.advance(UpstreamCall.PING_INTERVAL_MS);
        await().atMost(WAIT).until(() -> upstream.received("ping_pong").size() == 1);
        timer.advance(UpstreamCall.DEAD_AFTER_MS - UpstreamCall.PING_INTERVAL_MS);

        // Then the backend reconnects after its backoff and re-sends the open request on the new socket
        timer.advance(1_000);
        await().atMost(WAIT).until(() -> upstream.events("connected").size() == 2);
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 2);
        assertThat(upstream.received("ping_pong").get(0).path("timestamp").asLong()).isEqualTo(1_002_000);
        assertThat(upstream.received("response_required").get(1))
                .isEqualTo(upstream.received("response_required").get(0));
        assertThat(upstream.events("received").stream()
                .filter(e -> e.path("frame").path("interaction_type").asText().equals("response_required"))
                .map(e -> e.path("conn").asInt())).containsExactly(1, 2);
        assertThat(backend.counters().reconnects()).isEqualTo(1);
        assertThat(answered).isNotDone();
    }

    @Test
    void shouldFailTheTurnWithinTheBoundWhenTheUpstreamIsGoneAndConnectAgainForTheNextTurn() throws Exception {
        // Given a turn the server will not answer, and 3 reconnects of at most 200 ms apart
        start(3);
        CompletableFuture<Void> answered = backend.generate(turn(1, said("hang up the phone")), events::add);
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 1);
        int port = upstream.port();

        // When the server is gone for good
        long killedAt = System.nanoTime();
        upstream.kill();

        // Then the turn fails with AgentBackendException, well within the bound
        await().atMost(WAIT).until(answered::isDone);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt)).isLessThan(5_000);
        assertThat(answered).failsWithin(Duration.ZERO).withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(AgentBackendException.class);
        assertThat(backend.counters().reconnects()).isEqualTo(3);

        // And the next turn connects again, to a server back on the port
        upstream = NodeUpstream.start(port, "--no-hang");
        List<AgentEvent> next = new CopyOnWriteArrayList<>();
        backend.generate(turn(2, said("again")), next::add).get(10, TimeUnit.SECONDS);
        assertThat(next).containsExactly(new AgentEvent.Text("You said: ", false), new AgentEvent.Text("again", true));
    }

    @Test
    void shouldStopRelayingACancelledTurn() throws Exception {
        // Given
        start(5);
        CompletableFuture<Void> superseded = backend.generate(turn(1, said("hang on")), events::add);
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 1);

        // When the responder cancels it and the next turn goes out
        superseded.cancel(true);
        List<AgentEvent> next = new CopyOnWriteArrayList<>();
        backend.generate(turn(2, said("order status")), next::add).get(10, TimeUnit.SECONDS);

        // Then only the new turn's answer is relayed
        assertThat(events).isEmpty();
        assertThat(next).startsWith(new AgentEvent.Text("Let me check your order.", false));
    }

    @Test
    void shouldCloseTheSocketWith1000WhenTheCallEndsAndOpenNoOtherForIt() throws Exception {
        // Given
        start(5);
        backend.generate(turn(1, said("hello")), events::add).get(10, TimeUnit.SECONDS);

        // When
        backend.callEnded(CALL);
        backend.callEvent(CALL, "update_only", JSON.readTree("{\"interaction_type\":\"update_only\",\"transcript\":[]}"));

        // Then
        await().atMost(WAIT).until(() -> !upstream.events("closed").isEmpty());
        assertThat(upstream.events("closed").get(0).path("code").asInt()).isEqualTo(1000);
        assertThat(upstream.events("connected")).hasSize(1);
        assertThat(backend.trackedCalls()).isZero();
        assertThat(backend.generate(turn(2, said("hello")), events::add)).isCompletedExceptionally();
    }

    @Test
    void shouldForwardUpdateOnlyAsReceived() throws Exception {
        // Given
        start(5);
        JsonNode update = JSON.readTree("{\"interaction_type\":\"update_only\",\"transcript\":[{\"role\":\"user\","
                + "\"content\":\"hm\",\"words\":[]}],\"turntaking\":\"user_turn\",\"new_field\":1}");

        // When
        backend.callEvent(CALL, "update_only", update);

        // Then
        await().atMost(WAIT).until(() -> upstream.received("update_only").size() == 1);
        assertThat(upstream.received("update_only")).containsExactly(update);
    }

    @Test
    void shouldForwardTheRequestAsRetellSentItWithoutTheToolCallsTranscriptTheUpstreamDidNotAskFor() throws Exception {
        // Given an upstream whose config does not ask for transcript_with_tool_calls, and Retell's frames with it
        start(5);
        JsonNode received = JSON.readTree("{\"interaction_type\":\"response_required\",\"response_id\":1,"
                + "\"transcript\":[{\"role\":\"agent\",\"content\":\"Hi\",\"words\":[{\"word\":\"Hi\",\"start\":0.1,"
                + "\"end\":0.3}]},{\"role\":\"user\",\"content\":\"what is new\",\"words\":[]}],"
                + "\"transcript_with_tool_calls\":[{\"role\":\"user\",\"content\":\"what is new\"}],\"retell_new\":1}");
        JsonNode update = JSON.readTree("{\"interaction_type\":\"update_only\",\"transcript\":[],"
                + "\"transcript_with_tool_calls\":[],\"turntaking\":\"user_turn\"}");

        // When the turn (made from Retell's frame) and an update go to the upstream
        backend.generate(fromFrame(received), events::add).get(10, TimeUnit.SECONDS);
        backend.callEvent(CALL, "update_only", update);

        // Then the upstream gets each utterance as Retell sent it (words[] and unknown fields too), but not the
        // transcript with tool calls it did not ask for
        JsonNode expected = received.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) expected).remove("transcript_with_tool_calls");
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("response_required")).containsExactly(expected));
        JsonNode expectedUpdate = update.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) expectedUpdate).remove("transcript_with_tool_calls");
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("update_only")).containsExactly(expectedUpdate));
        assertThat(events).containsExactly(new AgentEvent.Text("You said: what ", false),
                new AgentEvent.Text("is new", true));
        // The frame the backend was given is left as it was.
        assertThat(received.has("transcript_with_tool_calls")).isTrue();
    }

    @Test
    void shouldForwardTheToolCallsTranscriptToAnUpstreamThatAskedForIt() throws Exception {
        // Given an upstream whose config asks for transcript_with_tool_calls
        start(5, "--tool-calls-transcript");
        JsonNode received = JSON.readTree("{\"interaction_type\":\"reminder_required\",\"response_id\":3,"
                + "\"transcript\":[{\"role\":\"user\",\"content\":\"hello\",\"words\":[]}],"
                + "\"transcript_with_tool_calls\":[{\"role\":\"user\",\"content\":\"hello\"},{\"role\":"
                + "\"tool_call_invocation\",\"tool_call_id\":\"t1\",\"name\":\"lookup\",\"arguments\":\"{}\"}]}");

        // When
        backend.generate(fromFrame(received), events::add).get(10, TimeUnit.SECONDS);

        // Then it gets the frame whole
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(upstream.received("reminder_required")).containsExactly(received));
    }

    @Test
    void shouldRelayUpdateAgentMetadataAndADigitWithinTheirTurns() throws Exception {
        // Given
        start(5);
        List<AgentEvent> digit = new CopyOnWriteArrayList<>();
        backend.unprompted((callId, event) -> unprompted.add(event));

        // When the upstream changes its settings and records metadata in one turn, and presses a digit in the next
        backend.generate(turn(1, said("update your settings")), events::add).get(10, TimeUnit.SECONDS);
        backend.generate(turn(2, said("press 1 for me")), digit::add).get(10, TimeUnit.SECONDS);

        // Then each is an event of its own turn, in the order sent, after the words before it
        assertThat(events).containsExactly(new AgentEvent.Text("Changing my settings.", false),
                new AgentEvent.UpdateAgent(JSON.readTree("{\"responsiveness\":0.4,\"reminder_max_count\":2}")),
                new AgentEvent.Metadata(JSON.readTree("{\"topic\":\"settings\",\"turn\":1}")));
        assertThat(digit).containsExactly(new AgentEvent.Text("Pressing one.", false),
                new AgentEvent.PressDigit("1"));
        assertThat(unprompted).isEmpty();
    }

    @Test
    void shouldPassUpdateAgentAndMetadataSentOutsideATurnToTheUnpromptedChannel() throws Exception {
        // Given
        start(5);
        backend.unprompted((callId, event) -> unprompted.add(event));

        // When the upstream sends them after its answer completed
        backend.generate(turn(1, said("call me later")), events::add).get(10, TimeUnit.SECONDS);

        // Then they go to the unprompted channel, in order; the turn had only its words
        await().atMost(WAIT).until(() -> unprompted.size() == 2);
        assertThat(unprompted).containsExactly(
                new AgentEvent.UpdateAgent(JSON.readTree("{\"interruption_sensitivity\":0.9}")),
                new AgentEvent.Metadata(JSON.readTree("{\"topic\":\"later\"}")));
        assertThat(events).containsExactly(new AgentEvent.Text("Noted.", false));
    }

    @Test
    void shouldEndTheCallAfterWhatWasSaidWhenTheUpstreamClosesWith1000() throws Exception {
        // Given
        start(5);

        // When the upstream says something and closes its socket with 1000 mid-answer
        backend.generate(turn(1, said("close the line")), events::add).get(10, TimeUnit.SECONDS);

        // Then the turn completes with end_call after the words, and nothing reconnects
        assertThat(events).containsExactly(new AgentEvent.Text("Closing the line.", false), new AgentEvent.EndCall());
        await().atMost(WAIT).until(() -> !upstream.events("closed").isEmpty());
        assertThat(upstream.events("closed").get(0).path("code").asInt()).isEqualTo(1000);
        assertThat(backend.counters().hangUps()).isEqualTo(1);
        assertThat(backend.counters().reconnects()).isZero();

        // And a later turn of the call is answered with end_call alone, without a new socket
        List<AgentEvent> later = new CopyOnWriteArrayList<>();
        backend.generate(turn(2, said("hello?")), later::add).get(10, TimeUnit.SECONDS);
        assertThat(later).containsExactly(new AgentEvent.EndCall());
        await().during(Duration.ofMillis(500)).atMost(WAIT).until(() -> upstream.events("connected").size() == 1);
        assertThat(backend.counters().reconnects()).isZero();
    }

    @Test
    void shouldEndTheCallWithAnInterruptWhenTheUpstreamClosesWith1000BetweenTurns() throws Exception {
        // Given an upstream that used interrupt id 7 already
        start(5);
        backend.unprompted((callId, event) -> unprompted.add(event));
        backend.generate(turn(1, said("interrupt me")), events::add).get(10, TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> unprompted.size() == 1);

        // When it completes an answer and then closes with 1000, no turn open
        backend.generate(turn(2, said("close the line after this")), events::add).get(10, TimeUnit.SECONDS);

        // Then the hang-up is an agent interrupt of its own (the next id) with end_call, and nothing reconnects
        await().atMost(WAIT).until(() -> unprompted.size() == 2);
        assertThat(unprompted.get(1)).isEqualTo(new AgentEvent.Interrupt(8, "", true, true, null, null, null));
        assertThat(backend.counters().hangUps()).isEqualTo(1);
        await().during(Duration.ofMillis(500)).atMost(WAIT).until(() -> upstream.events("connected").size() == 1);
    }

    @Test
    void shouldAddNoEndCallWhenTheUpstreamHangsUpAfterItsOwnEndCall() throws Exception {
        // Given
        start(5);
        backend.unprompted((callId, event) -> unprompted.add(event));

        // When the upstream says goodbye with end_call, then closes its socket with 1000
        backend.generate(turn(1, said("ok bye and close")), events::add).get(10, TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> backend.counters().hangUps() == 1);

        // Then the end_call was relayed once, by the turn; no interrupt adds another
        assertThat(events).containsExactly(new AgentEvent.Text("Goodbye!", false), new AgentEvent.EndCall());
        await().during(Duration.ofMillis(300)).atMost(WAIT).until(unprompted::isEmpty);
        assertThat(backend.counters().reconnects()).isZero();
    }

    @Test
    void shouldSendRequestsAfterTheConfigWaitAndNoPingsWhenTheUpstreamSendsNoConfig() throws Exception {
        // Given a server that sends no config frame at all, on a manual timer
        ManualScheduler timer = new ManualScheduler(new ManualClock(1_000_000));
        upstream = NodeUpstream.start(0, "--no-config");
        backend = new RetellSocketBackend(config(upstream, 5), timer, timer.clock(), null);
        backend.callEvent(CALL, "call_details", callDetails());

        // When a turn is asked
        CompletableFuture<Void> answered = backend.generate(turn(1, said("anyone there")), events::add);
        await().atMost(WAIT).until(() -> upstream.events("connected").size() == 1);
        await().atMost(WAIT).until(() -> timer.pending().stream()
                .anyMatch(t -> t.requestedDelayMs() == UpstreamCall.CONFIG_WAIT_MS));
        assertThat(upstream.received("response_required")).isEmpty();

        // Then the request goes out once the config wait is over, and is answered
        timer.advance(UpstreamCall.CONFIG_WAIT_MS);
        answered.get(10, TimeUnit.SECONDS);
        assertThat(events).containsExactly(new AgentEvent.Text("You said: ", false),
                new AgentEvent.Text("anyone there", true));

        // And with Retell's defaults: no call_details (not asked), no pings, no dead-upstream timer
        assertNoKeepAliveFor(timer, 3 * UpstreamCall.DEAD_AFTER_MS);
        assertThat(upstream.received("call_details")).isEmpty();
    }

    @Test
    void shouldSendNoPingsWhenTheUpstreamsConfigDoesNotAskForAutoReconnect() throws Exception {
        // Given a server whose config has auto_reconnect false, on a manual timer
        ManualScheduler timer = new ManualScheduler(new ManualClock(1_000_000));
        upstream = NodeUpstream.start(0, "--no-auto-reconnect");
        backend = new RetellSocketBackend(config(upstream, 5), timer, timer.clock(), null);

        // When a turn is asked: the config came, so the request goes out without waiting
        backend.generate(turn(1, said("quiet please")), events::add).get(10, TimeUnit.SECONDS);

        // Then no pings are sent however long the call goes on, and silence is not taken for a dead upstream
        assertNoKeepAliveFor(timer, 3 * UpstreamCall.DEAD_AFTER_MS);
    }

    /** After {@code ms} more on the timer: no ping sent or scheduled, no dead-upstream timer, the one socket kept. */
    private void assertNoKeepAliveFor(ManualScheduler timer, long ms) {
        timer.advance(ms);
        assertThat(backend.counters().pingsSent()).isZero();
        assertThat(timer.pending()).noneMatch(t -> t.requestedDelayMs() == UpstreamCall.PING_INTERVAL_MS
                || t.requestedDelayMs() == UpstreamCall.DEAD_AFTER_MS);
        assertThat(upstream.received("ping_pong")).isEmpty();
        assertThat(upstream.events("connected")).hasSize(1);
        assertThat(backend.counters().reconnects()).isZero();
    }

    @Test
    void shouldRandomizeEachReconnectBackoffWithinItsBoundsAndUnderTheMax() {
        // Given backoffs of 100 ms doubling, randomized by half, at most 1000 ms (no upstream needed to draw them)
        Map<String, Object> values = new HashMap<>();
        values.put(ResponderConfig.AGENT_BACKEND_CONFIG, ResponderConfig.BACKEND_RETELL_SOCKET);
        values.put(ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, "ws://127.0.0.1:9/llm-websocket/{call_id}");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG, "100");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG, "1000");
        backend = new RetellSocketBackend(new ResponderConfig(values), scheduler);
        double r = RetellSocketBackend.BACKOFF_RANDOMIZATION;

        for (int attempt = 1; attempt <= 5; attempt++) {
            // When each attempt's wait is drawn many times
            long nominal = 100L << (attempt - 1);
            List<Long> draws = new java.util.ArrayList<>();
            for (int i = 0; i < 400; i++) {
                draws.add(backend.backoffMs(attempt));
            }

            // Then the draws vary, on both sides of the nominal wait, within its randomization and never over the max
            long low = (long) (nominal * (1 - r));
            long high = Math.min((long) Math.ceil(nominal * (1 + r)), 1000);
            assertThat(draws).as("attempt %d", attempt).allSatisfy(d -> assertThat(d).isBetween(low, high));
            assertThat(draws.stream().distinct().count()).as("attempt %d", attempt).isGreaterThan(20);
            assertThat(draws).as("attempt %d", attempt).anyMatch(d -> d < nominal)
                    .anyMatch(d -> d > Math.min(nominal, 999));
        }
        // A wait whose lowest draw is past the max is the max.
        for (int attempt = 6; attempt <= 12; attempt++) {
            assertThat(backend.backoffMs(attempt)).isEqualTo(1000);
        }
    }

    private void start(int maxReconnects, String... flags) {
        upstream = NodeUpstream.start(0, flags);
        backend = new RetellSocketBackend(config(upstream, maxReconnects), scheduler);
    }

    /** A turn as the responder makes it from Retell's request frame. */
    private static Turn fromFrame(JsonNode frame) {
        List<Turn.Utterance> transcript = new java.util.ArrayList<>();
        frame.path("transcript").forEach(u -> transcript.add(new Turn.Utterance(u.path("role").asText(),
                u.path("content").asText())));
        return new Turn(CALL, frame.path("response_id").asLong(), frame.path("interaction_type").asText(), transcript,
                null, Map.of(), null, frame);
    }

    private static ResponderConfig config(NodeUpstream upstream, int maxReconnects) {
        Map<String, Object> values = new HashMap<>();
        values.put(ResponderConfig.AGENT_BACKEND_CONFIG, ResponderConfig.BACKEND_RETELL_SOCKET);
        values.put(ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, upstream.urlTemplate());
        values.put(ResponderConfig.UPSTREAM_CONNECT_TIMEOUT_MS_CONFIG, "1000");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG, "50");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG, "200");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_MAX_ATTEMPTS_CONFIG, Integer.toString(maxReconnects));
        values.put(ResponderConfig.UPSTREAM_TOOL_TIME_LIMIT_MS_CONFIG, Long.toString(TOOL_LIMIT_MS));
        return new ResponderConfig(values);
    }

    private static Turn turn(long responseId, List<Turn.Utterance> transcript) {
        return new Turn(CALL, responseId, "response_required", transcript, null, Map.of());
    }

    private static List<Turn.Utterance> said(String words) {
        return List.of(new Turn.Utterance("user", words));
    }

    private static JsonNode callDetails() throws Exception {
        return JSON.readTree("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"" + CALL + "\","
                + "\"from_number\":\"+15550001\",\"agent_id\":\"agent_1\"}}");
    }
}
