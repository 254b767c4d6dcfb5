package io.callguard.app.drill;

import io.callguard.app.tools.PrometheusText;
import java.net.URI;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;

/**
 * How many webhooks a gateway has acknowledged that its processor has not taken yet, read from the gateway's
 * {@code /metrics}: webhooks accepted by the ingress minus call events the processor applied, dropped as
 * duplicates or closed, or dead-lettered. An acknowledgement only says Kafka has the event; this says whether
 * the processor keeps up with the rate the edge acknowledges. Exact only while webhooks are the gateway's only
 * traffic (a socket's events count on the processor's side, not the ingress's), which is how bench-webhooks
 * runs; it needs the processor in the target's process.
 */
final class ProcessorBacklog {

    /** Present in a scrape when the target runs the processor (Kafka Streams' thread metrics). */
    static final String PROCESSOR_PRESENT = "kafka_stream_thread_process_rate";

    private final HttpClient client;
    private final URI metrics;

    ProcessorBacklog(HttpClient client, URI target) {
        this.client = client;
        this.metrics = target.resolve("metrics");
    }

    /** The backlog now; empty when the target does not run the processor or its metrics cannot be read. */
    OptionalLong read() {
        try {
            ContentResponse response = client.newRequest(metrics).timeout(5, TimeUnit.SECONDS).send();
            return response.getStatus() == 200 ? of(new PrometheusText(response.getContentAsString()))
                    : OptionalLong.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return OptionalLong.empty();
        } catch (Exception e) {
            return OptionalLong.empty();
        }
    }

    /** The backlog in one scrape; empty when it has no processor. Never negative (an ack can trail processing). */
    static OptionalLong of(PrometheusText scrape) {
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
}
