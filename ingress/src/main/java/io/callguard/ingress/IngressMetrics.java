package io.callguard.ingress;

import io.callguard.common.MetricTags;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
import java.util.Set;

/** Names and tags of every metric the ingress role records; exported by Prometheus as {@code callguard_...}. */
public final class IngressMetrics {

    /** Timer, receipt of a webhook to its answer (for accepted ones: to Kafka's ack). Tags: event, outcome. */
    public static final String WEBHOOK_LATENCY = "callguard.webhook.latency";
    /** Counter, webhooks answered later than {@code webhook.slow-threshold-ms}. Tags: event, outcome. */
    public static final String WEBHOOK_SLOW = "callguard.webhook.slow";
    /**
     * Gauge, bytes: webhook bodies held by requests not answered yet, against {@code webhook.body-budget-bytes}
     * (Prometheus {@code callguard_webhook_body_in_flight_bytes}).
     */
    public static final String WEBHOOK_BODY_IN_FLIGHT = "callguard.webhook.body.in-flight";
    /** Gauge: network connections the public listener holds, HTTP and WebSockets ({@code http.max-connections}). */
    public static final String HTTP_CONNECTIONS = "callguard.http.connections";
    /** Counter: connections closed because a request's headers did not complete in {@code http.header-timeout-ms}. */
    public static final String HTTP_HEADER_TIMEOUTS = "callguard.http.header-timeouts";
    /**
     * Counter, webhooks refused (4xx and 5xx). Tag: reason. The reason is kept off the latency timer (one
     * histogram per reason would multiply its buckets); duplicates are known only to the processor
     * ({@code callguard.duplicates.dropped}), so they are {@code accepted} here.
     */
    public static final String WEBHOOKS_REJECTED = "callguard.webhooks.rejected";
    /** Counter, dead letters produced. Tags: source, reason. */
    public static final String DEAD_LETTERS = "callguard.dead-letters";
    /**
     * Counter, inbound-call webhooks ({@code call_inbound}) answered. Tags: outcome ({@code passed},
     * {@code busy_agent}: routed to {@code capacity.inbound-busy-agent-id}, {@code number_default}: over capacity
     * with no busy agent set, so Retell goes on as the number is configured) and capacity (what the capacity view
     * said: {@code room}, {@code full}, {@code unknown}, {@code timeout}).
     */
    public static final String INBOUND_CALLS = "callguard.inbound.calls";
    public static final String TAG_CAPACITY = "capacity";
    public static final String INBOUND_PASSED = "passed";
    public static final String INBOUND_BUSY_AGENT = "busy_agent";
    public static final String INBOUND_NUMBER_DEFAULT = "number_default";
    public static final String CAPACITY_TIMEOUT = "timeout";

    /** Counter, frames received on LLM WebSockets. Tag: type (an interaction type, or one of the FRAME_ tags). */
    public static final String SOCKET_FRAMES = "callguard.socket.frames";
    /**
     * Counter, fields of Retell's frames that this version does not know (tolerated, kept in the event's payload).
     * Tag: type (the frame's type tag). Field names are logged at debug, not tagged: they are unbounded.
     */
    public static final String SOCKET_UNKNOWN_FIELDS = "callguard.socket.unknown-fields";
    /**
     * Counter, admin listener requests refused with 401 ({@code admin.token} set). Tag: reason ({@code missing_token},
     * {@code wrong_token}).
     */
    public static final String ADMIN_AUTH_FAILURES = "callguard.admin.auth-failures";
    /** Counter, LLM WebSocket upgrades refused with 401. Tag: reason. */
    public static final String SOCKET_AUTH_FAILURES = "callguard.socket.auth-failures";
    /** Counter, tag reason: LLM WebSocket upgrades refused (503) for a reason other than auth, e.g. {@code draining}. */
    public static final String SOCKETS_REFUSED = "callguard.socket.refused";
    /**
     * Counter, socket events or dead letters that did not reach Kafka. Tag: reason ({@code queue_full},
     * {@code closed}, {@code send_failed}, {@code kafka_error}).
     */
    public static final String SOCKET_PRODUCE_FAILURES = "callguard.socket.produce-failures";
    /** Counter, frames to Retell that could not be written (socket gone mid-send). */
    public static final String SOCKET_SEND_FAILURES = "callguard.socket.send-failures";

    public static final String TAG_EVENT = "event";
    public static final String TAG_TYPE = "type";
    public static final String TAG_OUTCOME = "outcome";
    public static final String TAG_REASON = "reason";
    public static final String TAG_SOURCE = "source";

    public static final String OUTCOME_ACCEPTED = "accepted";
    public static final String OUTCOME_REJECTED = "rejected";

    /** The {@code event} tag of a webhook whose type is not known yet (refused before its body was parsed). */
    public static final String EVENT_UNKNOWN = "unknown";
    /** The {@code event} tag of a webhook whose type is not one of {@link #KNOWN_EVENTS}. */
    public static final String EVENT_OTHER = MetricTags.OTHER;

    /** The {@code type} tag of a frame with an interaction type not in {@link #KNOWN_INTERACTIONS}. */
    public static final String FRAME_OTHER = MetricTags.OTHER;
    /** The {@code type} tag of a text frame refused as bad input (dead-lettered). */
    public static final String FRAME_INVALID = "invalid";
    /** The {@code type} tag of a binary frame. */
    public static final String FRAME_BINARY = "binary";
    /** The {@code type} tag of a frame over {@code socket.max-frame-bytes}. */
    public static final String FRAME_TOO_LARGE = "too_large";

    /** Retell's interaction types, each its own {@code type} tag; any other is tagged {@link #FRAME_OTHER}. */
    public static final Set<String> KNOWN_INTERACTIONS = InteractionType.ALL;

    /** Webhook types that get their own {@code event} tag; any other is tagged {@link #EVENT_OTHER}. */
    public static final Set<String> KNOWN_EVENTS = WebhookEvent.ALL;

    private IngressMetrics() {
    }

    /**
     * The {@code event} tag of a webhook type: itself when known, {@link #EVENT_OTHER} when not, {@link #EVENT_UNKNOWN}
     * when there is none yet (null), keeping tags bounded.
     */
    public static String eventTag(String event) {
        return event == null ? EVENT_UNKNOWN : MetricTags.oneOf(event, KNOWN_EVENTS);
    }

    /** The {@code type} tag of an interaction type: itself when known, else {@link #FRAME_OTHER}. */
    public static String frameTag(String interactionType) {
        return MetricTags.oneOf(interactionType, KNOWN_INTERACTIONS);
    }
}
