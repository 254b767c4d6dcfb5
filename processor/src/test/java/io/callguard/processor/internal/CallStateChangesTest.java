package io.callguard.processor.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Which changes of a call's state are counters only, and which events are socket turns. */
class CallStateChangesTest {

    private static final long T0 = 1_700_000_000_000L;

    private static final CallState AFTER_FIRST_TURN = CallState.initial("c1", CallStatus.ACTIVE, T0).toBuilder()
            .connectionId("conn-1").socketOpenedAtMs(T0).turnCount(1).latestResponseId(1L).transcriptLength(1)
            .eventsApplied(2).build();

    @Test
    void shouldCallATurnAfterTheFirstACounterChange() {
        CallState next = AFTER_FIRST_TURN.toBuilder().turnCount(2).latestResponseId(2L).transcriptLength(3)
                .eventsApplied(3).duplicatesDropped(1).lastEventAtMs(T0 + 1_000).updatedAtMs(T0 + 1_001).build();

        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN, next)).isTrue();
    }

    @Test
    void shouldNotCallTheFirstTurnACounterChange() {
        CallState before = CallState.initial("c1", CallStatus.ACTIVE, T0);
        CallState next = before.toBuilder().turnCount(1).latestResponseId(1L).eventsApplied(1).build();

        assertThat(CallStateChanges.countersOnly(before, next)).isFalse();
    }

    @Test
    void shouldNotCallAnyOtherChangeACounterChange() {
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN,
                AFTER_FIRST_TURN.toBuilder().status(CallStatus.ENDED).build())).isFalse();
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN,
                AFTER_FIRST_TURN.toBuilder().socketLostAtMs(T0 + 5).build())).isFalse();
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN,
                AFTER_FIRST_TURN.toBuilder().reconnects(1).connectionId("conn-2").build())).isFalse();
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN,
                AFTER_FIRST_TURN.toBuilder().metadata(JsonNodeFactory.instance.objectNode().put("k", "v")).build()))
                .isFalse();
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN,
                AFTER_FIRST_TURN.toBuilder().firstEventAtMs(T0 - 10).build())).isFalse();
        assertThat(CallStateChanges.countersOnly(AFTER_FIRST_TURN, AFTER_FIRST_TURN.toBuilder().fallbacks(1).build()))
                .isFalse();
    }

    @Test
    void shouldTakeOnlySocketTurnsWithAResponseId() {
        assertThat(CallStateChanges.turnResponseId(event(EventSource.SOCKET, "response_required", 4L))).isEqualTo(4L);
        assertThat(CallStateChanges.turnResponseId(event(EventSource.SOCKET, "reminder_required", 5L))).isEqualTo(5L);
        assertThat(CallStateChanges.turnResponseId(event(EventSource.SOCKET, "update_only", null))).isNull();
        assertThat(CallStateChanges.turnResponseId(event(EventSource.SOCKET, "call_details", null))).isNull();
        assertThat(CallStateChanges.turnResponseId(event(EventSource.WEBHOOK, "response_required", 4L))).isNull();
    }

    @Test
    void shouldTellATurnAlreadyAppliedByTheLatestResponseId() {
        assertThat(CallStateChanges.turnAlreadyApplied(null, 1)).isFalse();
        assertThat(CallStateChanges.turnAlreadyApplied(CallState.initial("c1", CallStatus.ACTIVE, T0), 1)).isFalse();
        assertThat(CallStateChanges.turnAlreadyApplied(AFTER_FIRST_TURN, 1)).isTrue();
        assertThat(CallStateChanges.turnAlreadyApplied(AFTER_FIRST_TURN, 0)).isTrue();
        assertThat(CallStateChanges.turnAlreadyApplied(AFTER_FIRST_TURN, 2)).isFalse();
    }

    private static CallEvent event(EventSource source, String type, Long responseId) {
        var payload = JsonNodeFactory.instance.objectNode().put("interaction_type", type);
        if (responseId != null) {
            payload.put("response_id", responseId);
        }
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), "c1", source, type, null, T0,
                responseId, "edge-a", payload);
    }
}
