package io.callguard.processor.responder.internal;

import io.callguard.processor.responder.Turn;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Complete generated answers by agent and transcript tail: a bounded LRU with a time to live on an
 * injected clock. Thread-safe.
 *
 * <p>Each stored answer is also handed to an optional {@link WriteThrough} (the responder writes it to a
 * compacted topic, {@link ResponseCacheTopic}), and {@link #restore} loads such entries back at start, so a
 * restart or another instance keeps the cache.
 */
public final class ResponseCache {

    /** How many of the latest transcript entries make the key. */
    public static final int TAIL_ENTRIES = 2;
    /** The agent part of the key when the call's agent is not known (yet). */
    public static final String UNKNOWN_AGENT = "?";

    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private final long ttlMs;
    private final Clock clock;
    private final LinkedHashMap<String, Entry> entries;

    private record Entry(String answer, long expiresAtMs) {
    }

    /** Told about every answer stored, after it is in the cache. Must not block. */
    @FunctionalInterface
    public interface WriteThrough {
        void stored(String key, String answer, long expiresAtMs);
    }

    private volatile WriteThrough writeThrough = (key, answer, expiresAtMs) -> { };

    /**
     * @param maxEntries at least 1; the least recently used entry goes first
     * @param ttlMs      at least 1
     */
    public ResponseCache(int maxEntries, long ttlMs, Clock clock) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be >= 1, was " + maxEntries);
        }
        if (ttlMs < 1) {
            throw new IllegalArgumentException("ttlMs must be >= 1, was " + ttlMs);
        }
        this.ttlMs = ttlMs;
        this.clock = clock;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                return size() > maxEntries;
            }
        };
    }

    /**
     * The cache key of a turn: the agent id (or {@value #UNKNOWN_AGENT}) and the SHA-256 of the last
     * {@value #TAIL_ENTRIES} transcript entries, each {@code role: content} lower-cased with whitespace
     * collapsed.
     */
    public static String key(String agentId, List<Turn.Utterance> transcript) {
        StringBuilder tail = new StringBuilder();
        for (Turn.Utterance u : transcript.subList(Math.max(0, transcript.size() - TAIL_ENTRIES), transcript.size())) {
            tail.append(normalize(u.role())).append(": ").append(normalize(u.content())).append('\n');
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(tail.toString().getBytes(StandardCharsets.UTF_8));
            return (agentId == null || agentId.isEmpty() ? UNKNOWN_AGENT : agentId) + "/"
                    + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    static String normalize(String text) {
        return WHITESPACE.matcher(text.toLowerCase(Locale.ROOT)).replaceAll(" ").trim();
    }

    /** The live answer under that key, if any; an expired one is removed. */
    public synchronized Optional<String> get(String key) {
        Entry entry = entries.get(key);
        if (entry == null) {
            return Optional.empty();
        }
        if (clock.millis() >= entry.expiresAtMs()) {
            entries.remove(key);
            return Optional.empty();
        }
        return Optional.of(entry.answer());
    }

    /** Stores an answer for {@code cache.ttl-ms} from now, replacing any older one, and writes it through. */
    public void put(String key, String answer) {
        long expiresAtMs = clock.millis() + ttlMs;
        synchronized (this) {
            entries.put(key, new Entry(answer, expiresAtMs));
        }
        writeThrough.stored(key, answer, expiresAtMs);
    }

    /** Loads an entry written through earlier (not written through again); an expired one is skipped. */
    public synchronized void restore(String key, String answer, long expiresAtMs) {
        if (expiresAtMs > clock.millis()) {
            entries.put(key, new Entry(answer, expiresAtMs));
        }
    }

    /** Sets where stored answers are written through. */
    public void writeThrough(WriteThrough target) {
        this.writeThrough = java.util.Objects.requireNonNull(target, "target");
    }

    /** Entries held, expired ones included until they are looked up or evicted. */
    public synchronized int size() {
        return entries.size();
    }
}
