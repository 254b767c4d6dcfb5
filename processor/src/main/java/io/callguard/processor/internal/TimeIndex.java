package io.callguard.processor.internal;

import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Finds what is due by a time with a range scan: entries are keyed by zero-padded due time plus an id,
 * so the store's byte order is due-time order and a purge reads only what is due, never the whole store.
 * The index is a hint: whoever drains it re-checks the entry against the store that owns the truth.
 */
public final class TimeIndex {

    /** One due entry. */
    public record Due(long dueAtMs, String id) {
    }

    private static final char SEPARATOR = '|';
    /** Sorts right after {@link #SEPARATOR}: the exclusive-ish upper bound of one due time's entries. */
    private static final char AFTER_SEPARATOR = '}';

    private final KeyValueStore<String, String> store;

    public TimeIndex(KeyValueStore<String, String> store) {
        this.store = store;
    }

    /** Remembers that {@code id} is due at {@code dueAtMs}; scheduling the same pair twice is harmless. */
    public void schedule(long dueAtMs, String id) {
        store.put(key(dueAtMs, id), id);
    }

    /** Forgets the entry of {@code id} at {@code dueAtMs}, if any. */
    public void cancel(long dueAtMs, String id) {
        store.delete(key(dueAtMs, id));
    }

    /**
     * Removes and returns the entries due at or before {@code nowMs}, oldest first, at most {@code limit}
     * (the rest stay for the next call, so one punctuation never holds the stream thread for long).
     */
    public List<Due> takeDue(long nowMs, int limit) {
        List<Due> due = new ArrayList<>();
        String upper = pad(Math.max(0, nowMs)) + AFTER_SEPARATOR;
        try (KeyValueIterator<String, String> it = store.range(null, upper)) {
            while (it.hasNext() && due.size() < limit) {
                KeyValue<String, String> entry = it.next();
                if (entry.key.compareTo(upper) >= 0) {
                    break;
                }
                due.add(new Due(Long.parseLong(entry.key.substring(0, 19)), entry.value));
            }
        }
        for (Due d : due) {
            store.delete(key(d.dueAtMs(), d.id()));
        }
        return due;
    }

    static String key(long dueAtMs, String id) {
        return pad(Math.max(0, dueAtMs)) + SEPARATOR + id;
    }

    /**
     * A non-negative number as 19 digits with leading zeros, so keys sort by number. Hand-rolled: it runs for
     * every event on a Streams thread, where {@code String.format} showed up in profiles.
     */
    static String pad(long value) {
        String digits = Long.toString(value);
        return "0".repeat(Math.max(0, 19 - digits.length())) + digits;
    }
}
