package io.callguard.cli.tools;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.SampleRecords;
import java.util.List;
import org.junit.jupiter.api.Test;

class AnswerTextTest {

    @Test
    void shouldShowFramesInOrderThenTheActionsAskedFor() {
        // Given every field set
        AgentResponse full = SampleRecords.fullResponse("call-1");

        // When / Then
        assertThat(AnswerText.effects(full)).containsExactly(
                "tool_call_invocation lookup_order({\"order_id\":\"A1\"}) [tc-1]",
                "tool_call_result [tc-1] ok: shipped",
                "update_agent {\"responsiveness\":0.5,\"reminder_max_count\":2}",
                "metadata {\"step\":\"lookup\",\"n\":1}",
                "quiet 9895 ms",
                "no_interruption",
                "end_call",
                "transfer +15550100 (caller's number shown)",
                "digit 5");
        assertThat(AnswerText.scope(full)).isEqualTo("interrupt 3");
    }

    @Test
    void shouldShowNothingForWordsAloneAndShortenLongArguments() {
        // Given
        AgentResponse words = SampleRecords.response("call-1", 2, ResponseKind.GENERATED);
        String longArguments = "{\"note\":\"" + "x".repeat(100) + "\"}";
        AgentResponse tool = words.withFrames(List.of(AgentFrame.toolCallInvocation("tc-9", "save_note",
                longArguments), AgentFrame.toolCallResult("tc-9", "no", false),
                AgentFrame.toolCallResult("tc-9", "later", null)), null);

        // When / Then
        assertThat(AnswerText.effects(words)).isEmpty();
        assertThat(AnswerText.scope(words)).isEqualTo("turn");
        assertThat(AnswerText.effects(tool)).containsExactly(
                "tool_call_invocation save_note(" + longArguments.substring(0, 57) + "...) [tc-9]",
                "tool_call_result [tc-9] failed: no",
                "tool_call_result [tc-9]: later");
    }
}
