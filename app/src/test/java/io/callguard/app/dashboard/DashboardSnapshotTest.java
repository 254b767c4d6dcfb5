package io.callguard.app.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.common.KafkaClients;
import io.callguard.egress.EgressMetrics;
import io.callguard.processor.responder.ResponderMetrics;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** This instance's numbers in {@code /dashboard}, from meters alone (the responses reader is not started). */
class DashboardSnapshotTest {

    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Dashboard dashboard = new Dashboard(meters, Clock.systemUTC(),
            new KafkaClients("127.0.0.1:1", "node-test"), Topics.defaults(), Map::of);

    @AfterEach
    void close() {
        dashboard.close();
    }

    private static Timer timer(MeterRegistry meters, String name, String kind) {
        return Timer.builder(name).tag("kind", kind).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30))
                .register(meters);
    }

    private void breaker(String name, String current) {
        for (String state : new String[] {"closed", "open", "half_open"}) {
            Gauge.builder("resilience4j.circuitbreaker.state", () -> state.equals(current) ? 1 : 0)
                    .tag("name", name).tag("state", state).register(meters);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void shouldReportFirstWordsApartFromTheWholeAnswerWithSharesHedgesAndBreakersPerBackend() {
        // Given an edge whose turns said their first words at 100 ms (a filler at 800 for one in ten) and whose
        // answers took 2 s
        for (int i = 0; i < 90; i++) {
            timer(meters, EgressMetrics.TURN_FIRST_WORDS_LATENCY, "generated").record(Duration.ofMillis(100));
        }
        for (int i = 0; i < 10; i++) {
            timer(meters, EgressMetrics.TURN_FIRST_WORDS_LATENCY, "filler").record(Duration.ofMillis(800));
        }
        for (int i = 0; i < 100; i++) {
            timer(meters, EgressMetrics.TURN_LATENCY, "generated").record(Duration.ofMillis(2_000));
        }
        meters.counter(EgressMetrics.TURN_OUTCOMES, "outcome", "whole", "reason", "none").increment(90);
        meters.counter(EgressMetrics.TURN_OUTCOMES, "outcome", "bridged", "reason", "none").increment(8);
        meters.counter(EgressMetrics.TURN_OUTCOMES, "outcome", "closed", "reason", "stall").increment(2);
        meters.counter(ResponderMetrics.HEDGES_WON, "backend", "agent-backend").increment(3);
        meters.counter(ResponderMetrics.HEDGES_WON, "backend", "agent-fallback").increment(5);
        meters.counter(ResponderMetrics.HEDGES_STARTED, "backend", "agent-fallback").increment(8);
        breaker("agent-backend", "open");
        breaker("agent-fallback", "closed");

        // When
        Map<String, Object> d = dashboard.snapshot();

        // Then first words are the seed's p50/p99, the whole answer its own pair
        assertThat(d.get("first_words_source")).isEqualTo("edge");
        assertThat((double) d.get("p50_latency")).isBetween(80.0, 120.0);
        assertThat((double) d.get("p99_latency")).isBetween(600.0, 900.0);
        assertThat((double) d.get("p50_answer_ms")).isBetween(1_500.0, 2_300.0);
        assertThat((double) d.get("p99_answer_ms")).isBetween(1_500.0, 2_300.0);
        // And the shares, hedges and breakers per backend
        Map<String, Object> shares = (Map<String, Object>) d.get("turn_shares");
        assertThat(shares).containsEntry("turns", 100L).containsEntry("whole_share", 0.9)
                .containsEntry("bridged_share", 0.08).containsEntry("closed_share", 0.02);
        assertThat(shares.get("closed_by_reason")).isEqualTo(Map.of("stall", 2L));
        assertThat(d.get("hedges_won")).isEqualTo(Map.of("agent-backend", 3L, "agent-fallback", 5L));
        assertThat(d.get("hedges_started")).isEqualTo(Map.of("agent-fallback", 8L));
        assertThat(d.get("breakers")).isEqualTo(Map.of("agent-backend", "open", "agent-fallback", "closed"));
        assertThat(d.get("breaker_state")).isEqualTo("open");
    }

    @Test
    void shouldReadTheRespondersFirstWordsWhenNoEdgeRunsHere() {
        // Given only the responder's timers
        timer(meters, ResponderMetrics.FIRST_WORDS_LATENCY, "filler").record(Duration.ofMillis(800));
        timer(meters, ResponderMetrics.TURN_LATENCY, "generated").record(Duration.ofMillis(3_000));

        // When
        Map<String, Object> d = dashboard.snapshot();

        // Then
        assertThat(d.get("first_words_source")).isEqualTo("responder");
        assertThat((double) d.get("p50_latency")).isBetween(600.0, 900.0);
        assertThat((double) d.get("p50_answer_ms")).isBetween(2_000.0, 3_500.0);
        assertThat(d.get("breaker_state")).isEqualTo("unknown");
    }

    @Test
    @SuppressWarnings("unchecked")
    void shouldShowTheHoldAndBusyLinesThisInstanceSaid() {
        // Given a responder that held queued callers and turned rejected ones away
        meters.counter(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT, ResponderMetrics.AT_BEGIN).increment(2);
        meters.counter(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT, ResponderMetrics.AT_REPEAT).increment(5);
        meters.counter(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT, ResponderMetrics.AT_BEGIN).increment(3);
        meters.counter(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT, ResponderMetrics.AT_INTERRUPT).increment();
        meters.counter(ResponderMetrics.ADMISSION_WAITS, ResponderMetrics.TAG_RESULT, "unknown").increment();
        // and whose edge said the busy line itself to sockets of calls already known refused
        meters.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_BEGIN).increment(2);
        meters.counter(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT, EgressMetrics.AT_RECONNECT).increment();

        // When
        Map<String, Object> d = dashboard.snapshot();

        // Then every busy line said here is counted, the edge's own included
        assertThat(d.get("holds_said")).isEqualTo(7L);
        assertThat(d.get("holds_by_at")).isEqualTo(Map.of("begin", 2L, "repeat", 5L));
        assertThat(d.get("busy_said")).isEqualTo(7L);
        assertThat(d.get("busy_by_at")).isEqualTo(Map.of("begin", 3L, "interrupt", 1L, "edge_begin", 2L,
                "edge_reconnect", 1L));
        assertThat(d.get("admission_waits")).isEqualTo(Map.of("unknown", 1L));
        assertThat((Map<String, Object>) d.get("application")).containsEntry("holds", 0L).containsEntry("busy", 0L);
    }
}
