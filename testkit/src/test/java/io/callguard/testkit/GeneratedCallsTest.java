package io.callguard.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.common.RecordLimits;
import io.callguard.retell.frames.ResponseType;
import io.callguard.retell.webhook.WebhookBody;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The generated end-of-call webhooks look like Retell's, and are as large as the body limit's sizing says. */
class GeneratedCallsTest {

    @Test
    void shouldGenerateAnHourOfConversationAsRetellReportsIt() throws Exception {
        // When
        JsonNode body = Json.mapper().readTree(GeneratedCalls.callEnded("call_hour", Duration.ofHours(1), 42));

        // Then it is a call_ended of that call, an hour long (and the last utterance's end)
        assertThat(WebhookBody.event(body)).isEqualTo(WebhookEvent.CALL_ENDED);
        assertThat(WebhookBody.callId(body)).isEqualTo("call_hour");
        JsonNode call = body.path("call");
        assertThat(call.path("duration_ms").asLong()).isBetween(3_600_000L, 3_660_000L);
        assertThat(call.path("end_timestamp").asLong() - call.path("start_timestamp").asLong())
                .isEqualTo(call.path("duration_ms").asLong());

        // And both roles speak, in turn, at conversational rates, each word timed, times rising
        JsonNode utterances = call.path("transcript_object");
        long words = 0;
        double lastEnd = 0;
        String lastRole = null;
        for (JsonNode utterance : utterances) {
            String role = utterance.path("role").asText();
            assertThat(role).isIn(GeneratedCalls.AGENT, GeneratedCalls.USER).isNotEqualTo(lastRole);
            lastRole = role;
            assertThat(utterance.path("content").asText()).isNotBlank();
            for (JsonNode word : utterance.path("words")) {
                assertThat(word.path("word").asText()).isNotBlank();
                assertThat(word.path("start").asDouble()).isGreaterThanOrEqualTo(lastEnd);
                assertThat(word.path("end").asDouble()).isGreaterThan(word.path("start").asDouble());
                lastEnd = word.path("end").asDouble();
                words++;
            }
        }
        assertThat(words / 60.0).as("words a minute of call, both roles").isBetween(110.0, 150.0);
        assertThat(call.path("transcript").asText().lines().count()).isEqualTo(utterances.size());

        // And the tool calls are woven into transcript_with_tool_calls, invocation then result
        long invocations = 0;
        long results = 0;
        for (JsonNode entry : call.path("transcript_with_tool_calls")) {
            String role = entry.path("role").asText();
            if (role.equals(ResponseType.TOOL_CALL_INVOCATION)) {
                invocations++;
                assertThat(Json.mapper().readTree(entry.path("arguments").asText()).isObject()).isTrue();
            } else if (role.equals(ResponseType.TOOL_CALL_RESULT)) {
                results++;
            } else {
                assertThat(entry.path("words").size()).isPositive();
            }
        }
        assertThat(invocations).isPositive().isEqualTo(results);
    }

    @Test
    void shouldFitAFourHourCallUnderTheDefaultBodyLimitWithMoreThanTwiceItsSizeToSpare() {
        // When
        int hour = utf8Length(GeneratedCalls.callEnded("call_1h", Duration.ofHours(1), 7));
        int fourHours = utf8Length(GeneratedCalls.callAnalyzed("call_4h", Duration.ofHours(4), 7));

        // Then an hour is about a megabyte (Retell's own order of magnitude), and grows with the call
        assertThat(hour).isBetween(700_000, 1_200_000);
        assertThat(fourHours).isBetween(4 * hour - 100_000, 4 * hour + 100_000);
        assertThat(2L * fourHours).isLessThan(RecordLimits.DEFAULT_MAX_BODY_BYTES);
    }

    @Test
    void shouldGenerateTheSameCallForTheSameSeed() {
        assertThat(GeneratedCalls.callEnded("c", Duration.ofMinutes(10), 3))
                .isEqualTo(GeneratedCalls.callEnded("c", Duration.ofMinutes(10), 3))
                .isNotEqualTo(GeneratedCalls.callEnded("c", Duration.ofMinutes(10), 4));
    }

    private static int utf8Length(String body) {
        return body.getBytes(StandardCharsets.UTF_8).length;
    }
}
