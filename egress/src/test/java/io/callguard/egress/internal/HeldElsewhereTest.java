package io.callguard.egress.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import org.junit.jupiter.api.Test;

class HeldElsewhereTest {

    private final HeldElsewhere kept = new HeldElsewhere();

    private static AgentResponse chunk(String callId, long responseId, int index) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId, ResponseKind.GENERATED, null,
                "word" + index + " ", false, null, index, 0, 0, "node-a");
    }

    @Test
    void shouldKeepOnlyTheLatestAnswerOfACallInOrder() {
        // Given turn 2's chunks, then turn 3's, then a late chunk of turn 2
        kept.keep(chunk("c", 2, 0), 0);
        kept.keep(chunk("c", 3, 0), 10);
        kept.keep(chunk("c", 3, 1), 20);
        kept.keep(chunk("c", 2, 1), 30);

        // Then turn 3's are kept, in order, and taken once
        assertThat(kept.take("c", 2, 40)).isEmpty();
        assertThat(kept.take("c", 3, 40)).extracting(AgentResponse::chunkIndex).containsExactly(0, 1);
        assertThat(kept.take("c", 3, 40)).isEmpty();
        assertThat(kept.size()).isZero();
    }

    @Test
    void shouldDropTheCallsWithTheOldestRecordsBeyondTheBoundsAndExpireOldOnes() {
        // Given more records than the bound, one call after another
        int calls = HeldElsewhere.MAX_RECORDS / 100 + 10;
        for (int c = 0; c < calls; c++) {
            for (int i = 0; i < 100; i++) {
                kept.keep(chunk("call-" + c, 1, i), c);
            }
        }

        // Then the first calls went, the last are whole
        assertThat(kept.size()).isEqualTo(HeldElsewhere.MAX_RECORDS / 100);
        assertThat(kept.take("call-0", 1, calls)).isEmpty();
        assertThat(kept.take("call-" + (calls - 1), 1, calls)).hasSize(100);
        // And a call's answer is kept no longer than the TTL after its last record, nor beyond its own bound
        for (int i = 0; i < HeldElsewhere.MAX_RECORDS_PER_CALL + 5; i++) {
            kept.keep(chunk("long", 1, i), 1_000_000);
        }
        assertThat(kept.take("long", 1, 1_000_000 + HeldElsewhere.TTL_MS)).hasSize(HeldElsewhere.MAX_RECORDS_PER_CALL);
        kept.keep(chunk("late", 1, 0), 2_000_000);
        assertThat(kept.take("late", 1, 2_000_000 + HeldElsewhere.TTL_MS + 1)).isEmpty();
    }

    @Test
    void shouldIgnoreRecordsOfNoTurn() {
        // Given an agent_interrupt's record and one of call-level frames, of a call held elsewhere
        kept.keep(new AgentResponse(AgentResponse.SCHEMA_VERSION, "c", 0, ResponseKind.GENERATED, null, "Hold on.",
                true, null, 0, 0, 0, "node-a", null, null, null, null, AgentResponse.SCOPE_INTERRUPT, 1L,
                java.util.List.of(), null), 0);
        kept.keep(new AgentResponse(AgentResponse.SCHEMA_VERSION, "c", 0, ResponseKind.GENERATED, null, "", true,
                null, 0, 0, 0, "node-a", null, null, null, null, AgentResponse.SCOPE_CALL, null, java.util.List.of(),
                null), 0);

        // Then nothing is kept: neither is a turn's answer owed to a moved call
        assertThat(kept.size()).isZero();
    }
}
