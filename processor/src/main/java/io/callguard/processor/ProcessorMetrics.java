package io.callguard.processor;

import io.callguard.common.MetricTags;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.CallEvent;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Names and tags of the processor's Micrometer meters, in one place (exported to Prometheus with
 * dots as underscores, e.g. {@code callguard_duplicates_dropped_total}).
 */
public final class ProcessorMetrics {

    /** Counter: duplicate deliveries dropped; tag {@link #TAG_KIND} = event type ({@link #kindTag}). */
    public static final String DUPLICATES_DROPPED = "callguard.duplicates.dropped";
    /** Counter: events folded into a call's state; tag {@link #TAG_KIND} = event type ({@link #kindTag}). */
    public static final String EVENTS_APPLIED = "callguard.events.applied";
    /** Counter: events dropped for a reason other than duplication; tag {@link #TAG_REASON}. */
    public static final String EVENTS_DROPPED = "callguard.events.dropped";
    /**
     * Counter: records sent to the dead-letter topic; tags {@link #TAG_SOURCE} ({@code processor}) and
     * {@link #TAG_REASON}. Same name and tag keys as the ingress's dead letters, so Prometheus holds one series family.
     */
    public static final String DEAD_LETTERS = "callguard.dead-letters";
    /** Gauge: calls holding a capacity slot; tag {@link #TAG_PARTITION}. */
    public static final String CALLS_ACTIVE = "callguard.calls.active";
    /** Gauge: calls waiting for a slot; tag {@link #TAG_PARTITION}. */
    public static final String CALLS_QUEUED = "callguard.calls.queued";
    /** Gauge: capacity slots; tag {@link #TAG_PARTITION}. */
    public static final String CAPACITY = "callguard.capacity";
    /** Gauge: calls holding a slot divided by the slots, 0 to 1; tag {@link #TAG_PARTITION}. */
    public static final String CAPACITY_UTILIZATION = "callguard.capacity.utilization";
    /** Counter: calls refused for capacity; tag {@link #TAG_REASON} ({@code queue_full}, {@code queue_timeout}). */
    public static final String CALLS_REJECTED = "callguard.calls.rejected";
    /**
     * Counter: calls archived; tag {@link #TAG_REASON} ({@code ended}, {@code expired}, {@code rejected},
     * {@code socket_lost}).
     */
    public static final String CALLS_ARCHIVED = "callguard.calls.archived";
    /**
     * Counter: socket-lost grace decisions of live calls; tag {@link #TAG_OUTCOME}: {@value #GRACE_STARTED} (the
     * call's socket closed, its slot kept for {@code capacity.socket-lost-grace-ms}), {@value #GRACE_RECONNECTED}
     * (a socket opened in time), {@value #GRACE_RELEASED} (none did: slot or queue place released).
     */
    public static final String SOCKET_GRACE = "callguard.calls.socket.grace";
    public static final String GRACE_STARTED = "started";
    public static final String GRACE_RECONNECTED = "reconnected";
    public static final String GRACE_RELEASED = "released";
    /** Counter: stream threads replaced after an uncaught exception. */
    public static final String STREAM_THREADS_REPLACED = "callguard.processor.threads.replaced";
    /**
     * Counter: output records Kafka refused and that were skipped; tag {@link #TAG_REASON}:
     * {@value #SKIPPED_TOO_LARGE} (over the topic's record size) or {@value #SKIPPED_SERIALIZATION}.
     */
    public static final String PRODUCTION_ERRORS_SKIPPED = "callguard.processor.production.errors.skipped";
    public static final String SKIPPED_TOO_LARGE = "record_too_large";
    public static final String SKIPPED_SERIALIZATION = "serialization";

    /**
     * The event types that get their own {@link #TAG_KIND}: Retell's webhook events and interaction types, and the
     * edge's socket events. Anything else (call-events takes unknown types, so a client chooses them) is
     * {@link MetricTags#OTHER}.
     */
    public static final Set<String> KNOWN_KINDS = Stream.of(WebhookEvent.ALL, InteractionType.ALL,
            Set.of(CallEvent.TYPE_SOCKET_OPENED, CallEvent.TYPE_SOCKET_CLOSED)).flatMap(Set::stream)
            .collect(Collectors.toUnmodifiableSet());

    public static final String TAG_KIND = "kind";
    public static final String TAG_REASON = "reason";
    public static final String TAG_PARTITION = "partition";
    public static final String TAG_SOURCE = "source";
    public static final String TAG_OUTCOME = "outcome";

    private ProcessorMetrics() {
    }

    /** The {@link #TAG_KIND} of an event type: itself when one of {@link #KNOWN_KINDS}, else {@code other}. */
    public static String kindTag(String eventType) {
        return MetricTags.oneOf(eventType, KNOWN_KINDS);
    }
}
