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
}
