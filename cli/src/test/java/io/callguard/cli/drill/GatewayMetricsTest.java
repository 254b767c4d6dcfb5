package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.cli.tools.PrometheusText;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class GatewayMetricsTest {

    private static final String PROCESSOR = "kafka_stream_thread_process_rate{thread_id=\"t-1\"} 12.5\n";

    @Test
    void shouldCountAcceptedWebhooksTheProcessorHasNotTaken() {
        // Given a scrape of a gateway running the processor
        PrometheusText scrape = new PrometheusText(PROCESSOR + """
                callguard_webhook_latency_seconds_count{event="call_started",outcome="accepted"} 600
                callguard_webhook_latency_seconds_count{event="call_ended",outcome="accepted"} 400
                callguard_webhook_latency_seconds_count{event="call_ended",outcome="rejected"} 50
                callguard_events_applied_total{kind="call_started"} 500
                callguard_events_applied_total{kind="call_ended"} 200
                callguard_duplicates_dropped_total{kind="call_ended"} 30
                callguard_events_dropped_total{reason="call_closed"} 10
                callguard_dead_letters_total{reason="invalid_call_event",source="processor"} 5
                callguard_dead_letters_total{reason="invalid_json",source="webhook"} 70
                """);

        // When the backlog is read from it
        OptionalLong backlog = GatewayMetrics.processorBacklog(scrape);

        // Then it is the accepted webhooks less everything the processor took; rejections and the edge's dead
        // letters are neither
        assertThat(backlog).hasValue(1000 - (700 + 30 + 10 + 5));
    }

    @Test
    void shouldNeverBeNegativeWhenProcessingOvertakesTheAck() {
        PrometheusText scrape = new PrometheusText(PROCESSOR + """
                callguard_webhook_latency_seconds_count{event="call_started",outcome="accepted"} 99
                callguard_events_applied_total{kind="call_started"} 100
                """);

        assertThat(GatewayMetrics.processorBacklog(scrape)).hasValue(0);
    }

    @Test
    void shouldBeEmptyWhenTheTargetRunsNoProcessor() {
        PrometheusText edgeOnly = new PrometheusText("""
                callguard_webhook_latency_seconds_count{event="call_started",outcome="accepted"} 99
                """);

        assertThat(GatewayMetrics.processorBacklog(edgeOnly)).isEmpty();
    }

    @Test
    void shouldReadTheGatewaysCpuTimeInSeconds() {
        PrometheusText scrape = new PrometheusText("process_cpu_time_ns_total 9.79E9\nprocess_cpu_usage 0.25\n");

        assertThat(GatewayMetrics.cpuSeconds(scrape)).hasValue(9.79);
        assertThat(GatewayMetrics.cpuSeconds(new PrometheusText("process_cpu_usage 0.25\n"))).isEmpty();
    }

    @Test
    void shouldSumTheGatewaysFallbacksByReason() {
        PrometheusText scrape = new PrometheusText("""
                callguard_fallbacks_total{reason="timeout"} 3.0
                callguard_fallbacks_total{kind="x",reason="circuit_open"} 5.0
                callguard_fallbacks_total{reason="circuit_open",kind="y"} 2.0
                callguard_fallbacks_other_total{reason="timeout"} 100.0
                """);

        assertThat(GatewayMetrics.fallbacks(scrape)).containsExactly(Map.entry("circuit_open", 7L),
                Map.entry("timeout", 3L));
        assertThat(GatewayMetrics.fallbacks(new PrometheusText("process_cpu_usage 0.25\n"))).isEmpty();
    }
}
