package io.callguard.cli.replay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.processor.ProcessorConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

/**
 * The replay timeline shows the socket-lost decisions (the grace started, the slot released with its reason), the hold
 * and busy answers, and the live admission decisions next to the ones re-made for the call alone when they differ.
 */
class CallReplayTest {

    private static final long T = 1_700_000_000_000L;
    private final Topics topics = Topics.defaults();

    @Test
    void shouldShowTheGraceStartedAndTheSlotReleasedBeforeTheLateCallEnded() {
        // Given a socket-only call whose socket dropped, and a call_ended two minutes later
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        records.add(record(0, socket(CallEvent.TYPE_SOCKET_OPENED, T)));
        records.add(record(1, socket(CallEvent.TYPE_SOCKET_CLOSED, T + 1_000)));
        ObjectNode body = Json.mapper().createObjectNode().put("event", "call_ended");
        body.putObject("call").put("call_id", "call-s").put("call_status", "ended");
        records.add(record(2, new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), "call-s",
                EventSource.WEBHOOK, "call_ended", "call_ended:call-s", T + 120_000, null, "edge-a", body)));

        // When it is replayed with a grace of 60 s
        CallReplay.Result result = CallReplay.run(topics, new ProcessorConfig(Map.of(
                ProcessorConfig.CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG, 60_000L)), "call-s", records, null);

        // Then the close, a timers entry of its own, then the call_ended that changes nothing twice
        assertThat(result.entries()).hasSize(4);
        assertThat(decisions(result.entries().get(0))).containsExactly("admitted", "applied");
        assertThat(decisions(result.entries().get(1)))
                .containsExactly("applied", "socket lost: slot kept for the grace of 60000 ms");
        JsonNode timers = result.entries().get(2);
        assertThat(timers.path("kind").asText()).isEqualTo("timers");
        assertThat(timers.path("time").asText()).isEqualTo("2023-11-14T22:15:20Z");
        assertThat(decisions(timers)).containsExactlyInAnyOrder(
                "socket lost past the grace with no call_ended: slot released (socket_lost)", "archived (socket_lost)");
        assertThat(timers.path("transition").path("status_before").asText()).isEqualTo("active");
        assertThat(timers.path("transition").path("status_after").asText()).isEqualTo("expired");
        assertThat(decisions(result.entries().get(3))).containsExactly("applied");
        assertThat(result.archiveReason()).isEqualTo("socket_lost");
        assertThat(result.finalState().status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(result.finalState().ended()).isTrue();
        assertThat(TimelineText.render(timeline(result))).contains("(wall clock advanced: timers)\n"
                + "    state active -> expired", "socket lost past the grace with no call_ended: slot released (socket_lost)");
    }

    @Test
    void shouldShowTheLiveQueueDecisionsNextToTheRemadeAdmissionWithTheHoldAnswers() {
        // Given a socket-only call that was queued live behind another call, heard the hold line (its begin, its
        // turn, a repeat), was admitted from the queue 5 s later (the agent's begin as an interrupt), then ended
        List<ConsumerRecord<String, byte[]>> records = List.of(
                record(0, socket(CallEvent.TYPE_SOCKET_OPENED, T)),
                record(1, turn(1, T + 2_000)),
                record(2, ended(T + 60_000)));
        List<CallState> live = List.of(
                state(CallStatus.QUEUED).queuedAtMs(T).updatedAtMs(T).build(),
                state(CallStatus.QUEUED).queuedAtMs(T).updatedAtMs(T + 2_000).build(),
                state(CallStatus.ACTIVE).queuedAtMs(T).admittedAtMs(T + 5_000).updatedAtMs(T + 5_000).build(),
                state(CallStatus.ENDED).queuedAtMs(T).admittedAtMs(T + 5_000).updatedAtMs(T + 60_000).build());
        List<ConsumerRecord<String, byte[]>> answers = List.of(
                answer(0, answer(0, ResponseKind.HOLD, HOLD, T)),
                answer(1, answer(1, ResponseKind.HOLD, HOLD, T + 2_000)),
                answer(2, answer(1, ResponseKind.HOLD, HOLD, T + 4_000).withScope(AgentResponse.SCOPE_INTERRUPT, 1L)),
                answer(3, answer(1, ResponseKind.GENERATED, "Hello, how can I help?", T + 5_000)
                        .withScope(AgentResponse.SCOPE_INTERRUPT, 2L)));

        // When it is replayed (for the call alone: it is admitted at once) and compared with call-state
        CallReplay.Result result = CallReplay.run(topics, new ProcessorConfig(Map.of()), "call-s", records, null);
        ReplayCommand.attachAnswers(result.entries(), answers);
        boolean differs = CallReplay.annotateLive(result.entries(), CallReplay.liveAdmissions(live));

        // Then the re-made decision is shown with the live ones beside it: queued, then admitted from the queue
        assertThat(differs).isTrue();
        JsonNode opened = result.entries().get(0);
        assertThat(decisions(opened)).contains("admitted");
        assertThat(opened.path("live_admission")).extracting(d -> d.path("decision").asText())
                .containsExactly("queued", "admitted from queue");
        assertThat(opened.path("live_admission").get(1).path("time").asText()).isEqualTo("2023-11-14T22:13:25Z");
        assertThat(opened.path("admission_remade")).extracting(JsonNode::asText).containsExactly("admitted");
        // And the hold answers are on the timeline: the begin, the turn, the repeat, then the agent's begin
        assertThat(opened.path("answers")).extracting(a -> a.path("kind").asText()).containsExactly("hold");
        assertThat(result.entries().get(1).path("answers")).extracting(a -> a.path("kind").asText())
                .containsExactly("hold", "hold", "generated");
        String text = TimelineText.render(timeline(result));
        assertThat(text).contains("    answer id=0 hold, 1 chunk(s), complete,",
                "    answer id=1 hold, 1 chunk(s), complete,", "    interrupt id=1 hold,",
                "    interrupt id=2 generated,",
                "    live admission (call-state): queued at 2023-11-14T22:13:20Z, admitted from queue at "
                        + "2023-11-14T22:13:25Z; re-made for this call alone: admitted\n");
    }

    @Test
    void shouldShowTheLiveRejectionNextToTheRemadeAdmissionWithTheBusyAnswer() {
        // Given a call refused live (queue full), whose begin was the busy line with end_call
        List<ConsumerRecord<String, byte[]>> records = List.of(record(0, socket(CallEvent.TYPE_SOCKET_OPENED, T)));
        List<CallState> live = List.of(state(CallStatus.REJECTED).rejectionReason(CallState.REJECTED_QUEUE_FULL)
                .updatedAtMs(T).build());
        List<ConsumerRecord<String, byte[]>> answers = List.of(answer(0,
                answer(0, ResponseKind.BUSY, "All lines are busy. Goodbye.", T).withActions(true, null, null, null)));

        // When
        CallReplay.Result result = CallReplay.run(topics, new ProcessorConfig(Map.of()), "call-s", records, null);
        ReplayCommand.attachAnswers(result.entries(), answers);
        CallReplay.annotateLive(result.entries(), CallReplay.liveAdmissions(live));

        // Then
        JsonNode opened = result.entries().get(0);
        assertThat(opened.path("live_admission")).extracting(d -> d.path("decision").asText())
                .containsExactly("rejected (queue_full)");
        assertThat(TimelineText.render(timeline(result))).contains(
                "    answer id=0 busy, 1 chunk(s), complete,", "All lines are busy. Goodbye.  [end_call]",
                "    live admission (call-state): rejected (queue_full) at 2023-11-14T22:13:20Z; "
                        + "re-made for this call alone: admitted\n");
    }

    @Test
    void shouldAddNothingWhenTheLiveAdmissionIsTheRemadeOne() {
        // Given a call admitted live at its first event, as the replay re-makes it
        List<ConsumerRecord<String, byte[]>> records = List.of(record(0, socket(CallEvent.TYPE_SOCKET_OPENED, T)));
        List<CallState> live = java.util.Arrays.asList(state(CallStatus.ACTIVE).admittedAtMs(T).updatedAtMs(T).build(), null,
                state(CallStatus.ACTIVE).admittedAtMs(T + 9_000).updatedAtMs(T + 9_000).build());

        // When
        CallReplay.Result result = CallReplay.run(topics, new ProcessorConfig(Map.of()), "call-s", records, null);
        ArrayNode liveAdmissions = CallReplay.liveAdmissions(live.subList(0, 1));

        // Then nothing is added; and a tombstone starts a new life of the id (admitted again)
        assertThat(CallReplay.annotateLive(result.entries(), liveAdmissions)).isFalse();
        assertThat(result.entries().get(0).has("live_admission")).isFalse();
        assertThat(CallReplay.liveAdmissions(live)).extracting(d -> d.path("decision").asText())
                .containsExactly("admitted", "admitted");
    }

    private static final String HOLD = "Please hold, you are next in line.";

    private static CallState.Builder state(CallStatus status) {
        return CallState.builder("call-s").status(status);
    }

    private static AgentResponse answer(long responseId, ResponseKind kind, String content, long at) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, "call-s", responseId, kind, null, content, true, null,
                0, at, at + 50, "node-a");
    }

    private ConsumerRecord<String, byte[]> answer(long offset, AgentResponse a) {
        byte[] value = topics.responses().valueSerde().serializer().serialize("", a);
        return new ConsumerRecord<>(topics.responses().name(), 0, offset, a.createdAtMs(), TimestampType.CREATE_TIME,
                -1, value.length, a.callId(), value, new RecordHeaders(), Optional.empty());
    }

    private static CallEvent turn(long responseId, long at) {
        ObjectNode frame = Json.mapper().createObjectNode().put("interaction_type", "response_required")
                .put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "are you there");
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), "call-s", EventSource.SOCKET,
                "response_required", "response_required:call-s:" + responseId, at, responseId, "edge-a", frame);
    }

    private static CallEvent ended(long at) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", "call_ended");
        body.putObject("call").put("call_id", "call-s").put("call_status", "ended");
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), "call-s", EventSource.WEBHOOK,
                "call_ended", "call_ended:call-s", at, null, "edge-a", body);
    }

    private static List<String> decisions(JsonNode entry) {
        List<String> all = new ArrayList<>();
        entry.path("decisions").forEach(d -> all.add(d.asText()));
        return all;
    }

    private static ObjectNode timeline(CallReplay.Result result) {
        ObjectNode timeline = Json.mapper().createObjectNode().put("call_id", "call-s");
        timeline.set("timeline", result.entries());
        return timeline;
    }

    private static CallEvent socket(String type, long at) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "conn-1");
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), "call-s", EventSource.SOCKET,
                type, null, at, null, "edge-a", payload);
    }

    private ConsumerRecord<String, byte[]> record(long offset, CallEvent event) {
        byte[] value = topics.callEvents().valueSerde().serializer().serialize("", event);
        return new ConsumerRecord<>(topics.callEvents().name(), 0, offset, event.receivedAtMs(),
                TimestampType.CREATE_TIME, -1, value.length, event.callId(), value, new RecordHeaders(),
                Optional.empty());
    }
}
