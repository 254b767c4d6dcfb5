package io.callguard.cli.replay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.processor.ProcessorConfig;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
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

/** The replay timeline shows the socket-lost decisions: the grace started, and the slot released with its reason. */
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
