package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.AgentResponse;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The responder's reasons are the ones readers count by: a reason outside {@link AgentResponse#REASONS} is "other". */
class FallbackReasonTest {

    @Test
    void shouldWriteOnlyReasonsTheReadersKnow() {
        assertThat(Arrays.stream(FallbackReason.values()).map(FallbackReason::wireName))
                .allSatisfy(reason -> assertThat(AgentResponse.REASONS).contains(reason));
    }
}
