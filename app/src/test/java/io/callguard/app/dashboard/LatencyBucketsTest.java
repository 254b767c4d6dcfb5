package io.callguard.app.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LatencyBucketsTest {

    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    private Timer timer(String kind) {
        return Timer.builder("callguard.turn.latency").tag("kind", kind).publishPercentiles(0.5, 0.99)
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30)).register(meters);
    }

    @Test
    void shouldReadQuantilesAcrossTagsFromTheSummedBuckets() {
        // Given 90 fast generated turns and 10 slow fallbacks, in two timers
        for (int i = 0; i < 90; i++) {
            timer("generated").record(Duration.ofMillis(20));
        }
        for (int i = 0; i < 10; i++) {
            timer("fallback").record(Duration.ofMillis(800));
        }

        // When
        LatencyBuckets buckets = LatencyBuckets.of(meters.find("callguard.turn.latency").timers());

        // Then: the median is a fast turn, p99 a slow one (within a bucket's width)
        assertThat(buckets.count()).isEqualTo(100.0);
        assertThat(buckets.quantileMs(0.5)).isBetween(15.0, 25.0);
        assertThat(buckets.quantileMs(0.99)).isBetween(600.0, 900.0);
    }

    @Test
    void shouldCountOnlyWhatCameAfterTheBaseline() {
        // Given slow turns before the baseline
        for (int i = 0; i < 50; i++) {
            timer("generated").record(Duration.ofMillis(900));
        }
        LatencyBuckets baseline = LatencyBuckets.of(meters.find("callguard.turn.latency").timers());

        // When fast turns follow
        for (int i = 0; i < 10; i++) {
            timer("generated").record(Duration.ofMillis(5));
        }
        LatencyBuckets window = LatencyBuckets.of(meters.find("callguard.turn.latency").timers()).since(baseline);

        // Then
        assertThat(window.count()).isEqualTo(10.0);
        assertThat(window.quantileMs(0.99)).isCloseTo(5.0, within(1.5));
    }

    @Test
    void shouldAnswerZeroWithoutRecordings() {
        assertThat(LatencyBuckets.EMPTY.quantileMs(0.5)).isZero();
        assertThat(LatencyBuckets.of(meters.find("callguard.turn.latency").timers()).quantileMs(0.99)).isZero();
    }
}
