package io.callguard.cli.drill;

import io.callguard.cli.tools.PrometheusText;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.http.HttpHeader;

/**
 * What the load tools read from the gateway they measure, off its {@code /metrics} on the admin listener (with the
 * admin token when it has one): the gateway process's CPU time, its fallback answers by reason, and the processor's
 * backlog.
 *
 * <p>The backlog is how many webhooks the gateway acknowledged that its processor has not taken yet: webhooks
 * accepted by the ingress minus call events the processor applied, dropped as duplicates or closed, or
 * dead-lettered. An acknowledgement only says Kafka has the event; the backlog says whether the processor keeps
 * up with the rate the edge acknowledges. It is exact only while webhooks are the gateway's only traffic (a
 * socket's events count on the processor's side, not the ingress's), which is how bench-webhooks runs, and it
 * needs the processor in the target's process.
 */
final class GatewayMetrics {

    /** Present in a scrape when the target runs the processor (Kafka Streams' thread metrics). */
    static final String PROCESSOR_PRESENT = "kafka_stream_thread_process_rate";
    /** Micrometer's process CPU time counter, in nanoseconds. */
    static final String PROCESS_CPU_TIME = "process_cpu_time_ns_total";
    /** The gateway's fallback answers, tagged by reason. */
    static final String FALLBACKS = "callguard_fallbacks_total";

    private final HttpClient client;
    private final GatewayAdmin admin;
    /** Why the last scrape failed, for the tools to say; null after one that worked. */
    private volatile String lastFailure;

    GatewayMetrics(HttpClient client, GatewayAdmin admin) {
        this.client = client;
        this.admin = admin;
    }

    /** A scrape of the gateway's metrics now; empty when they cannot be read (see {@link #lastFailure()}). */
    Optional<PrometheusText> scrape() {
        try {
            Request request = client.newRequest(admin.metrics()).timeout(5, TimeUnit.SECONDS);
            if (!admin.token().isEmpty()) {
                request.headers(h -> h.put(HttpHeader.AUTHORIZATION, "Bearer " + admin.token()));
            }
            ContentResponse response = request.send();
            if (response.getStatus() != 200) {
                lastFailure = "HTTP " + response.getStatus() + (response.getStatus() == 401
                        ? ": give the gateway's admin.token as --admin-token" : "");
                return Optional.empty();
            }
            lastFailure = null;
            return Optional.of(new PrometheusText(response.getContentAsString()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            lastFailure = "interrupted";
            return Optional.empty();
        } catch (Exception e) {
            lastFailure = e.toString();
            return Optional.empty();
        }
    }

    /** Where the metrics are read and why the last scrape failed, e.g. {@code http://h:8081/metrics: HTTP 401}. */
    String lastFailure() {
        String failure = lastFailure;
        return admin.metrics() + ": " + (failure == null ? "no failure" : failure);
    }

    /** The processor's backlog now; empty when the target runs no processor or cannot be read. */
    OptionalLong processorBacklog() {
        return scrape().map(GatewayMetrics::processorBacklog).orElse(OptionalLong.empty());
    }

    /** The backlog in one scrape; empty when it has no processor. Never negative (an ack can trail processing). */
    static OptionalLong processorBacklog(PrometheusText scrape) {
        if (!scrape.has(PROCESSOR_PRESENT)) {
            return OptionalLong.empty();
        }
        double accepted = scrape.sum("callguard_webhook_latency_seconds_count", "outcome", "accepted");
        double taken = scrape.sum("callguard_events_applied_total")
                + scrape.sum("callguard_duplicates_dropped_total")
                + scrape.sum("callguard_events_dropped_total")
                + scrape.sum("callguard_dead_letters_total", "source", "processor");
        return OptionalLong.of(Math.max(0, Math.round(accepted - taken)));
    }

    /** Fallback answers the gateway has given so far, by reason ({@code callguard_fallbacks_total}). */
    static Map<String, Long> fallbacks(PrometheusText scrape) {
        Map<String, Long> out = new TreeMap<>();
        scrape.sumBy(FALLBACKS, "reason").forEach((reason, n) -> out.put(reason, Math.round(n)));
        return out;
    }

    /** The gateway's CPU seconds between two scrapes of its metrics; NaN when either is missing or has none. */
    static double cpuSecondsBetween(Optional<PrometheusText> start, Optional<PrometheusText> end) {
        OptionalDouble from = start.map(GatewayMetrics::cpuSeconds).orElse(OptionalDouble.empty());
        OptionalDouble to = end.map(GatewayMetrics::cpuSeconds).orElse(OptionalDouble.empty());
        return from.isPresent() && to.isPresent() ? to.getAsDouble() - from.getAsDouble() : Double.NaN;
    }

    /** The gateway's fallback answers between two scrapes, by reason; null when either scrape is missing. */
    static Map<String, Long> fallbacksBetween(Optional<PrometheusText> start, Optional<PrometheusText> end) {
        if (start.isEmpty() || end.isEmpty()) {
            return null;
        }
        Map<String, Long> before = fallbacks(start.get());
        Map<String, Long> during = new TreeMap<>();
        fallbacks(end.get()).forEach((reason, n) -> {
            long added = n - before.getOrDefault(reason, 0L);
            if (added > 0) {
                during.put(reason, added);
            }
        });
        return during;
    }

    /** The process CPU time in one scrape, in seconds; empty when it has none. */
    static OptionalDouble cpuSeconds(PrometheusText scrape) {
        return scrape.has(PROCESS_CPU_TIME) ? OptionalDouble.of(scrape.sum(PROCESS_CPU_TIME) / 1e9)
                : OptionalDouble.empty();
    }
}
