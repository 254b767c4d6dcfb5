package io.callguard.cli.replay;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The replay timeline shows what an answer did besides its words: tool frames, actions, interrupts. */
class TimelineTextTest {

    private static final long T = 1_700_000_000_000L;

    private static AgentResponse chunk(int index, String content, boolean complete) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, "call-1", 3, ResponseKind.GENERATED, null, content,
                complete, null, index, T, T + 100 * (index + 1), "node-a");
    }

    @Test
    void shouldShowToolFramesActionsInterruptsAndCallFramesOfAnAnswer() {
        // Given a request whose answer invoked a tool, then hung up; an interrupt; call-level metadata
        ArrayNode answers = Json.mapper().createArrayNode();
        ReplayCommand.addAnswer(answers, chunk(0, "Let me check. ", false).withFrames(
                List.of(AgentFrame.toolCallInvocation("tc-1", "lookup_order", "{\"id\":\"A1\"}")), T + 8_100));
        ReplayCommand.addAnswer(answers, chunk(1, "", false).withFrames(
                List.of(AgentFrame.toolCallResult("tc-1", "shipped", true)), null));
        ReplayCommand.addAnswer(answers, chunk(2, "It shipped. Bye.", true).withActions(true, null, null, null));
        ReplayCommand.addAnswer(answers, chunk(0, "Wait!", true).withScope(AgentResponse.SCOPE_INTERRUPT, 7L)
                .withActions(null, "+15550100", null, null));
        ReplayCommand.addAnswer(answers, chunk(0, "", false).withScope(AgentResponse.SCOPE_CALL, null)
                .withFrames(List.of(AgentFrame.metadata(Json.mapper().createObjectNode().put("step", 2))), null));
        ReplayCommand.addAnswer(answers, chunk(3, "", false).withFrames(
                List.of(AgentFrame.toolCallInvocation("tc-2", "refund", "{}")), null));
        ObjectNode timeline = Json.mapper().createObjectNode().put("call_id", "call-1");
        ObjectNode event = timeline.putArray("timeline").addObject().put("kind", "event")
                .put("time", "2023-11-14T22:13:20Z").put("source", "socket").put("type", "response_required")
                .put("response_id", 3).put("offset", 4);
        event.set("answers", answers);

        // When
        String text = TimelineText.render(timeline);

        // Then
        assertThat(text).contains(
                "    answer id=3 generated, 3 chunk(s), complete, latency 300 ms: It shipped. Bye.  "
                        + "[tool_call_invocation lookup_order({\"id\":\"A1\"}) [tc-1], quiet 8000 ms, "
                        + "tool_call_result [tc-1] ok: shipped, end_call]\n",
                "    interrupt id=7 generated, 1 chunk(s), complete, latency 100 ms: Wait!  [transfer +15550100]\n",
                "    call-level: metadata {\"step\":2}\n",
                "    answer id=3, 1 chunk(s), not complete: [tool_call_invocation refund({}) [tc-2]]\n");
        assertThat(answers.get(3).path("scope").asText()).isEqualTo("interrupt");
        assertThat(answers.get(3).path("interrupt_id").asLong()).isEqualTo(7);
        assertThat(answers.get(2).path("effects")).extracting(e -> e.asText()).containsExactly("end_call");
        assertThat(answers.get(2).has("scope")).isFalse();
    }
}
