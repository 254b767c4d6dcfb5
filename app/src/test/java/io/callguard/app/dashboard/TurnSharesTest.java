package io.callguard.app.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TurnSharesTest {

    private static AgentResponse record(String call, long id, int index, ResponseKind kind, String reason,
                                        String content, boolean complete) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, call, id, kind, reason, content, complete, null, index,
                1_000, 1_500, "node-a");
    }

    @Test
    void shouldClassifyTurnsAsWholeBridgedOrClosedByReason() {
        // Given the records of five turns, interleaved across two calls
        TurnShares shares = new TurnShares(100);
        shares.record(record("a", 1, 0, ResponseKind.GENERATED, null, "Hi ", false));
        shares.record(record("b", 1, 0, ResponseKind.FILLER, null, "One moment. ", false));
        shares.record(record("a", 1, 1, ResponseKind.GENERATED, null, "there.", true));         // whole
        shares.record(record("b", 1, 1, ResponseKind.GENERATED, null, "Here it is.", true));    // bridged
        shares.record(record("b", 2, 0, ResponseKind.FILLER, null, "Just a second. ", false));
        shares.record(record("b", 2, 1, ResponseKind.CACHED, null, "Cached.", true));           // bridged
        shares.record(record("a", 2, 0, ResponseKind.FILLER, null, "One moment. ", false));
        shares.record(record("a", 2, 1, ResponseKind.FALLBACK, "stall", "Sorry.", true));       // closed: stall
        shares.record(record("a", 3, 0, ResponseKind.FALLBACK, "error", "Sorry.", true));       // closed: error

        // When
        Map<String, Object> s = shares.snapshot();

        // Then
        assertThat(s).containsEntry("turns", 5L).containsEntry("whole", 1L).containsEntry("bridged", 2L)
                .containsEntry("closed", 2L).containsEntry("whole_share", 0.2).containsEntry("bridged_share", 0.4)
                .containsEntry("closed_share", 0.4);
        assertThat(s.get("closed_by_reason")).isEqualTo(Map.of("stall", 1L, "error", 1L));
    }

    @Test
    void shouldNotCountTheBeginMessageBusyLinesOrAFillerOfAnotherResponse() {
        // Given a begin message, a busy line, and a filler for response 1 whose answer is response 2's
        TurnShares shares = new TurnShares(100);
        shares.record(record("a", 0, 0, ResponseKind.GENERATED, null, "Hello!", true));
        shares.record(record("b", 0, 0, ResponseKind.BUSY, "queue_full", "Busy.", true));
        shares.record(record("a", 1, 0, ResponseKind.FILLER, null, "One moment. ", false));
        shares.record(record("a", 2, 0, ResponseKind.GENERATED, null, "Answer.", true));

        // Then only response 2 is a turn, and it was whole
        assertThat(shares.snapshot()).containsEntry("turns", 1L).containsEntry("whole", 1L)
                .containsEntry("bridged", 0L);
    }

    @Test
    void shouldForgetTheOldestOpenFillersBeyondItsBound() {
        // Given room for one open filler and two fillers
        TurnShares shares = new TurnShares(1);
        shares.record(record("a", 1, 0, ResponseKind.FILLER, null, "One moment. ", false));
        shares.record(record("b", 1, 0, ResponseKind.FILLER, null, "One moment. ", false));

        // When both answers come
        shares.record(record("a", 1, 1, ResponseKind.GENERATED, null, "A.", true));
        shares.record(record("b", 1, 1, ResponseKind.GENERATED, null, "B.", true));

        // Then the forgotten one counts as whole, the remembered one as bridged
        assertThat(shares.snapshot()).containsEntry("whole", 1L).containsEntry("bridged", 1L);
    }

    @Test
    void shouldAnswerZeroSharesWithoutTurnsAndRejectABadBound() {
        assertThat(new TurnShares(1).snapshot()).containsEntry("turns", 0L).containsEntry("whole_share", 0.0);
        assertThatThrownBy(() -> new TurnShares(0)).hasMessageContaining("was 0");
    }
}
