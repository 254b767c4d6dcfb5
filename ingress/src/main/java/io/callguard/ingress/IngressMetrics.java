package io.callguard.ingress;

import java.util.Set;

/** Names and tags of every metric the ingress role records; exported by Prometheus as {@code callguard_...}. */
public final class IngressMetrics {

    /** Timer, receipt of a webhook to its answer (for accepted ones: to Kafka's ack). Tags: event, outcome. */
    public static final String WEBHOOK_LATENCY = "callguard.webhook.latency";
    /** Counter, webhooks answered later than {@code webhook.slow-threshold-ms}. Tag: event. */
    public static final String WEBHOOK_SLOW = "callguard.webhook.slow";
    /** Counter, webhooks refused (4xx and 5xx). Tag: reason. */
    public static final String WEBHOOKS_REJECTED = "callguard.webhooks.rejected";
    /** Counter, dead letters produced. Tags: source, reason. */
    public static final String DEAD_LETTERS = "callguard.dead-letters";

    public static final String TAG_EVENT = "event";
    public static final String TAG_OUTCOME = "outcome";
    public static final String TAG_REASON = "reason";
    public static final String TAG_SOURCE = "source";

    public static final String OUTCOME_ACCEPTED = "accepted";
    public static final String OUTCOME_REJECTED = "rejected";

    /** The {@code event} tag of a webhook whose type is not one of {@link #KNOWN_EVENTS}, or not known yet. */
    public static final String EVENT_UNKNOWN = "unknown";

    /** Webhook types that get their own {@code event} tag; any other is tagged {@link #EVENT_UNKNOWN}. */
    public static final Set<String> KNOWN_EVENTS = Set.of(
            "call_started", "call_ended", "call_analyzed", "transcript_updated",
            "transfer_started", "transfer_bridged", "transfer_cancelled", "transfer_ended",
            "call_inbound");

    private IngressMetrics() {
    }

    /** The {@code event} tag of a webhook type: itself when known, else {@link #EVENT_UNKNOWN}, keeping tags bounded. */
    public static String eventTag(String event) {
        return event != null && KNOWN_EVENTS.contains(event) ? event : EVENT_UNKNOWN;
    }
}
