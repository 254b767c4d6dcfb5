package io.callguard.schemas;

import java.util.Objects;

/**
 * One complete generated answer kept by the responder's cache, on {@code callguard.response-cache} keyed by
 * cache key (agent id and transcript-tail digest); compacted, and deleted by time after {@code cache.ttl-ms}.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION} when written by this code; 0 when read from a record written
 *                      before the field existed (same shape otherwise)
 * @param answer        the answer's whole text
 * @param expiresAtMs   wall-clock ms after which the answer is no longer served
 */
public record CachedAnswer(int schemaVersion, String answer, long expiresAtMs) {

    public static final int SCHEMA_VERSION = 1;

    public CachedAnswer {
        Objects.requireNonNull(answer, "answer");
    }

    /** An answer written by this code. */
    public static CachedAnswer of(String answer, long expiresAtMs) {
        return new CachedAnswer(SCHEMA_VERSION, answer, expiresAtMs);
    }
}
