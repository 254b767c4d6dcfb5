package io.callguard.common;

import java.util.Set;

/**
 * Metric tag values from fixed sets. A tag taken from input (an event type, an interaction type, a reason read off a
 * topic) is one of its documented values or {@link #OTHER}, so no client can grow the number of series: each tag
 * value is a Prometheus series, with its histogram buckets for a timer, kept for the process's life.
 */
public final class MetricTags {

    /** The value of a tag whose input is outside the tag's fixed set. */
    public static final String OTHER = "other";

    private MetricTags() {
    }

    /** {@code value} itself when it is one of {@code known}, else {@link #OTHER} (also for null). */
    public static String oneOf(String value, Set<String> known) {
        return value != null && known.contains(value) ? value : OTHER;
    }
}
