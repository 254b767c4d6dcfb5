package io.callguard.processor.internal;

import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Remembers idempotency keys for a TTL in a changelogged store: key -> expiry (wall-clock ms), with a
 * {@link TimeIndex} so a purge range-scans only the expired keys. An expired key counts as unseen even
 * before it is purged, so the TTL is exact whatever the purge interval.
 */
public final class DedupeLedger {

    private final KeyValueStore<String, Long> expiryByKey;
    private final TimeIndex expiryIndex;
    private final long ttlMs;

    public DedupeLedger(KeyValueStore<String, Long> expiryByKey, KeyValueStore<String, String> expiryIndex, long ttlMs) {
        this.expiryByKey = expiryByKey;
        this.expiryIndex = new TimeIndex(expiryIndex);
        this.ttlMs = ttlMs;
    }

    /** True when the key was remembered and has not expired by {@code nowMs}. */
    public boolean seen(String key, long nowMs) {
        Long expiresAtMs = expiryByKey.get(key);
        return expiresAtMs != null && expiresAtMs > nowMs;
    }

    /** Remembers the key until {@code nowMs + ttl}. */
    public void remember(String key, long nowMs) {
        Long previous = expiryByKey.get(key);
        if (previous != null) {
            expiryIndex.cancel(previous, key);
        }
        long expiresAtMs = nowMs + ttlMs;
        expiryByKey.put(key, expiresAtMs);
        expiryIndex.schedule(expiresAtMs, key);
    }

    /**
     * Deletes keys expired by {@code nowMs}, at most {@code limit} of them.
     *
     * @return how many keys were deleted
     */
    public int purge(long nowMs, int limit) {
        int purged = 0;
        for (TimeIndex.Due due : expiryIndex.takeDue(nowMs, limit)) {
            Long expiresAtMs = expiryByKey.get(due.id());
            // Re-remembered since it was indexed: a newer index entry owns it.
            if (expiresAtMs != null && expiresAtMs <= nowMs) {
                expiryByKey.delete(due.id());
                purged++;
            }
        }
        return purged;
    }
}
