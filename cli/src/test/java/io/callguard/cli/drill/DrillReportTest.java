package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import org.junit.jupiter.api.Test;

/** The whole-answer share and the gate on it, in every form of the report. */
class DrillReportTest {

    @Test
    void shouldCountBridgedAsWholeAndFailBelowTheMinimumSayingWhy() throws Exception {
        // Given 97 whole, 1 bridged, 1 truncated and 1 closing-only turn against a minimum of 0.99
        DrillReport report = new DrillReport(0.99);
        for (int i = 0; i < 97; i++) {
            report.recordHeard(Heard.WHOLE);
        }
        report.recordHeard(Heard.BRIDGED);
        report.recordHeard(Heard.TRUNCATED);
        report.recordHeard(Heard.CLOSING_ONLY);
        report.recordFirstWords(5_000_000);
        report.recordTurn(9_000_000);

        // When the drill ends
        report.finish(1, 0, Double.NaN, null);

        // Then 98% were whole answers, below 99%: the run fails on that alone, saying so in text and JSON
        assertThat(report.wholeShare()).isEqualTo(0.98);
        assertThat(report.passed()).isFalse();
        assertThat(report.failures()).containsExactly(
                "whole answers 98.0% of 100 turns, below --min-whole-answers 99.0%");
        assertThat(report.text()).contains("drill FAILED").contains("failed: whole answers 98.0%")
                .contains("heard bridged            1 (1.0%)").contains("first words    n=1  p50 5.00 ms")
                .contains("whole answer   n=1  p50 9.00 ms");
        JsonNode json = Json.mapper().readTree(report.json());
        assertThat(json.path("heard").path("whole_answers_share").asDouble()).isEqualTo(0.98);
        assertThat(json.path("heard").path("shares").path("truncated").asDouble()).isEqualTo(0.01);
        assertThat(json.path("first_words_latency_ms").path("p50").asDouble()).isEqualTo(5.0);
        assertThat(json.path("whole_answer_latency_ms").path("max").asDouble()).isEqualTo(9.0);
    }

    @Test
    void shouldCountTurnsWhoseFirstWordsMissedTheGatewaysBudget() throws Exception {
        // Given first words at 5 ms, exactly at the gateway's default budget, and 30 ms and 1.2 s after it
        long budgetNanos = DrillOptions.gatewayBudgetMs() * 1_000_000L;
        DrillReport report = new DrillReport(0);
        for (long nanos : new long[] {5_000_000, budgetNanos, budgetNanos + 30_000_000, budgetNanos + 1_200_000_000}) {
            report.recordFirstWords(nanos);
        }

        // When the drill ends
        report.finish(1, 0, Double.NaN, null);

        // Then the two later than the budget are over it, in text and JSON
        assertThat(report.firstWordsOverBudget()).isEqualTo(2);
        assertThat(report.text()).contains("first words over " + DrillOptions.gatewayBudgetMs() + " ms  2");
        JsonNode json = Json.mapper().readTree(report.json());
        assertThat(json.path("first_words_over_budget").path("turns").asLong()).isEqualTo(2);
        assertThat(json.path("first_words_over_budget").path("budget_ms").asLong())
                .isEqualTo(DrillOptions.gatewayBudgetMs());
    }

    @Test
    void shouldPassWithTheGateOffAndCountSilentTurnsAsSilence() {
        DrillReport report = new DrillReport(0);
        report.recordHeard(Heard.CLOSING_ONLY);
        report.finish(1, 0, Double.NaN, null);
        assertThat(report.passed()).isTrue();

        DrillReport silent = new DrillReport(0);
        silent.recordHeard(Heard.SILENT);
        silent.finish(1, 0, Double.NaN, null);
        assertThat(silent.failures()).containsExactly("silent_turns: 1");
    }

    @Test
    void shouldReportEndingsAndAgentFramesAndFailOnAMissingOrUnaskedAction() throws Exception {
        // Given two calls ended by the agent, one transferred, one whose goodbye got no end_call, one unasked
        // end_call, and agent frames of two types
        DrillReport report = new DrillReport(0);
        report.count(Ending.END_CALL.doneCount());
        report.count(Ending.END_CALL.doneCount());
        report.recordTransfer("+15550001234");
        report.count(DrillReport.END_CALL_MISSING);
        report.count(DrillReport.UNEXPECTED_END_CALL);
        report.recordAgentFrame("tool_call_invocation");
        report.recordAgentFrame("tool_call_invocation");
        report.recordAgentFrame("agent_interrupt");

        // When the drill ends
        report.finish(1, 0, Double.NaN, null);

        // Then both failures fail it, and every form of the report says how the calls ended and which frames came
        assertThat(report.failures()).containsExactly("end_call_missing: 1", "unexpected_end_call: 1");
        assertThat(report.text()).contains("endings                  calls_ended_by_agent 2, calls_transferred 1, "
                + "end_call_missing 1, transfer_missing 0, unexpected_end_call 1, endings_not_reached 0, "
                + "transferred to +15550001234 1").contains("agent frames             tool_call_invocation 2, "
                + "tool_call_result 0, agent_interrupt 1, update_agent 0, metadata 0");
        JsonNode json = Json.mapper().readTree(report.json());
        assertThat(json.path("endings").path("calls_ended_by_agent").asLong()).isEqualTo(2);
        assertThat(json.path("endings").path("transfer_numbers").path("+15550001234").asLong()).isEqualTo(1);
        assertThat(json.path("agent_frames").path("tool_call_invocation").asLong()).isEqualTo(2);
        assertThat(json.path("agent_frames").path("metadata").asLong()).isZero();
        DrillOptions options = new DrillOptions(java.net.URI.create("http://127.0.0.1:8080/"), "k", "t", 1,
                java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(1), 1,
                0, false, 0, 1, java.time.Duration.ZERO);
        assertThat(DrillHtml.render(report, options)).contains("<h2>How calls ended</h2>")
                .contains("<tr><td>calls_transferred</td><td>1</td></tr>")
                .contains("<tr><td>+15550001234</td><td>1</td></tr>")
                .contains("<tr><td>agent_interrupt</td><td>1</td></tr>");
    }
}
