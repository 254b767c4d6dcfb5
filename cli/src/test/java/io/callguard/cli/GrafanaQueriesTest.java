package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GrafanaQueriesTest {

    @Test
    void shouldTakeTheMetricNamesOutOfAQuery() {
        assertThat(GrafanaQueries.metricNames(
                "histogram_quantile(0.99, sum by (le, kind) (rate(callguard_turn_latency_seconds_bucket{kind=~\"gen.*\"}[$__rate_interval])))"))
                .containsExactly("callguard_turn_latency_seconds_bucket");
        assertThat(GrafanaQueries.metricNames(
                "sum(callguard_calls_active) / clamp_min(sum(callguard_capacity), 1) * 100"))
                .containsExactly("callguard_calls_active", "callguard_capacity");
        assertThat(GrafanaQueries.metricNames("max by (client_id) (kafka_consumer_fetch_manager_records_lag_max) offset 5m"))
                .containsExactly("kafka_consumer_fetch_manager_records_lag_max");
    }
}
