package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class SimulatedStreamTest {

    private static SimulatedStream stream(long median, long p99, int chunks, long gap, double hang, double error,
            double stall, long stallMs) {
        return new SimulatedStream(0, median, p99, chunks, gap, hang, error, stall, stallMs);
    }

    @Test
    void shouldDrawFirstChunksWithTheConfiguredMedianAndP99() {
        // Given a hosted-model-like tail: median 300 ms, p99 2 s
        SimulatedStream sim = stream(300, 2_000, 0, 0, 0, 0, 0, 0);
        SplittableRandom random = new SplittableRandom(11);

        // When
        long[] firsts = new long[20_000];
        for (int i = 0; i < firsts.length; i++) {
            firsts[i] = sim.plan("You said: hi", random).atMs().get(0);
        }
        Arrays.sort(firsts);

        // Then
        assertThat(firsts[firsts.length / 2]).isBetween(285L, 315L);
        assertThat(firsts[(int) (firsts.length * 0.99)]).isBetween(1_800L, 2_250L);
        assertThat(firsts[0]).isPositive();
    }

    @Test
    void shouldSpaceChunksByTheGapAfterTheFirst() {
        // Given
        SimulatedStream sim = new SimulatedStream(100, 0, 0, 0, 40, 0, 0, 0, 0);

        // When
        SimulatedStream.Plan plan = sim.plan("one two three", new SplittableRandom(1));

        // Then
        assertThat(plan.outcome()).isEqualTo(SimulatedStream.Outcome.ANSWER);
        assertThat(plan.chunks()).containsExactly("one ", "two ", "three");
        assertThat(plan.atMs()).containsExactly(100L, 140L, 180L);
    }

    @Test
    void shouldPadAShortAnswerToTheChunkCountAndJoinTheTailOfALongOne() {
        // Given
        SimulatedStream eight = stream(0, 0, 8, 0, 0, 0, 0, 0);
        SimulatedStream two = stream(0, 0, 2, 0, 0, 0, 0, 0);

        // When
        List<String> padded = eight.chunksOf("You said: hello");
        List<String> joined = two.chunksOf("You said: hello there");

        // Then
        assertThat(padded).hasSize(8);
        assertThat(String.join("", padded)).isEqualTo("You said: hello. I can help you with.");
        assertThat(joined).containsExactly("You ", "said: hello there");
    }

    @Test
    void shouldStallMidAnswerAfterSomeWordsWereSent() {
        // Given every answer stalls 20 s
        SimulatedStream sim = stream(0, 0, 8, 10, 0, 0, 1.0, 20_000);

        // When
        SimulatedStream.Plan plan = sim.plan("a b c d e f g h", new SplittableRandom(3));

        // Then the first half goes at the gap, the rest after the stall
        assertThat(plan.atMs()).containsExactly(0L, 10L, 20L, 30L, 20_040L, 20_050L, 20_060L, 20_070L);
    }

    @Test
    void shouldHangAndFailAtTheirRates() {
        // Given
        SimulatedStream sim = stream(0, 0, 0, 0, 0.1, 0.2, 0, 0);
        SplittableRandom random = new SplittableRandom(5);
        List<SimulatedStream.Outcome> outcomes = new ArrayList<>();

        // When
        for (int i = 0; i < 10_000; i++) {
            outcomes.add(sim.plan("hi", random).outcome());
        }

        // Then (error is drawn for hung answers too, so it covers 0.9 * 0.2 of them)
        assertThat(outcomes.stream().filter(SimulatedStream.Outcome.HANG::equals).count()).isBetween(900L, 1_100L);
        assertThat(outcomes.stream().filter(SimulatedStream.Outcome.ERROR::equals).count()).isBetween(1_650L, 1_950L);
    }

    @Test
    void shouldRefuseAP99BelowTheMedianInConfigAndInCode() {
        assertThatThrownBy(() -> stream(500, 400, 0, 0, 0, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("p99 (400 ms) must be at least the median (500 ms)");
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, 500,
                ResponderConfig.SCRIPT_FIRST_CHUNK_P99_MS_CONFIG, 400))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("agent.script.first-chunk-p99-ms").hasMessageContaining("500");
        assertThat(SimulatedStream.of(new ResponderConfig(Map.of(
                ResponderConfig.SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, 500))).firstChunkP99Ms()).isEqualTo(500);
    }
}
