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
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Complete generated answers by everything the backend saw: a bounded LRU with a time to live on an injected
 * clock. Thread-safe.
 *
 * <p>The key is safe by default ({@link #fullKey}): the agent id and version, the turn's interaction type, the
 * call's dynamic variables and the whole transcript, so two callers share an answer only when the backend was
 * given the same thing (typically the first question after the greeting, asked by callers with the same
 * variables). An agent listed in {@code cache.tail-key-agents} uses the looser {@link #tailKey} instead: its
 * answers are shared by every caller whose last {@value #TAIL_ENTRIES} utterances match, whatever came before
 * and whatever their variables. An answer is never shared across agents. A turn whose agent is not known (a call
 * known only by its socket, before any call_details or call_started told the agent) has no key ({@link #key} is
 * null): it is neither read from nor written to the cache, as two such turns may be of two different agents.
 *
 * <p>Every key starts with {@value #KEY_VERSION}{@code /}: entries written through under an older scheme
 * (today's changelog may hold them until their TTL) are not loaded by {@link #restore}, so they can never be
 * served for a key that meant less.
 *
 * <p>Each stored answer is also handed to an optional {@link WriteThrough} (the responder writes it to a
 * compacted topic, {@link ResponseCacheTopic}), and {@link #restore} loads such entries back at start, so a
 * restart or another instance keeps the cache.
 */
public final class ResponseCache {

    /** How many of the latest transcript entries make the tail key. */
    public static final int TAIL_ENTRIES = 2;
    /**
     * The agent part of {@link #fullKey}/{@link #tailKey} when the turn's agent is not known; {@link #key} gives such
     * a turn no key at all, so no entry of the cache is ever stored under it.
     */
    public static final String UNKNOWN_AGENT = "?";
    /** The scheme of the keys: the first segment of every key; entries of another scheme are not loaded. */
    public static final String KEY_VERSION = "k2";
    /** The key segment of the safe default key. */
    public static final String FULL = "full";
    /** The key segment of the opted-in tail key. */
    public static final String TAIL = "tail";

    private static final String KEY_PREFIX = KEY_VERSION + "/";

    private final long ttlMs;
    private final Clock clock;
    private final Set<String> tailKeyAgents;
    private final LinkedHashMap<String, Entry> entries;

    private record Entry(String answer, long expiresAtMs) {
    }

    /** Told about every answer stored, after it is in the cache. Must not block. */
    @FunctionalInterface
    public interface WriteThrough {
        void stored(String key, String answer, long expiresAtMs);
    }

    private volatile WriteThrough writeThrough = (key, answer, expiresAtMs) -> { };

    /** A cache where every agent uses the full key. */
    public ResponseCache(int maxEntries, long ttlMs, Clock clock) {
        this(maxEntries, ttlMs, Set.of(), clock);
    }

    /**
     * @param maxEntries    at least 1; the least recently used entry goes first
     * @param ttlMs         at least 1
     * @param tailKeyAgents agent ids keyed by the transcript tail only ({@code cache.tail-key-agents})
     */
    public ResponseCache(int maxEntries, long ttlMs, Set<String> tailKeyAgents, Clock clock) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be >= 1, was " + maxEntries);
        }
        if (ttlMs < 1) {
            throw new IllegalArgumentException("ttlMs must be >= 1, was " + ttlMs);
        }
        this.ttlMs = ttlMs;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.tailKeyAgents = Set.copyOf(tailKeyAgents);
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                return size() > maxEntries;
            }
        };
    }

    /**
     * The key of a turn: the {@link #tailKey} when its agent opted in, else the {@link #fullKey}; null when the turn's
     * agent is not known (an unknown agent may be any agent: such a turn is not cached, nor served from the cache).
     */
    public String key(Turn turn) {
        String agent = agentOf(turn);
        if (agent == null) {
            return null;
        }
        return tailKeyAgents.contains(agent) ? tailKey(turn) : fullKey(turn);
    }

    /**
     * The safe key: {@code k2/full/<agent>/} and the SHA-256 of the agent id and version, the interaction type,
     * the dynamic variables (sorted by name, values as given) and every transcript entry ({@code role: content}
     * lower-cased with whitespace collapsed).
     */
    public static String fullKey(Turn turn) {
        Digest d = new Digest().field(FULL).field(agentOf(turn)).field(versionOf(turn)).field(turn.interactionType());
        Map<String, String> variables = new TreeMap<>(turn.dynamicVariables());
        d.field(Integer.toString(variables.size()));
        variables.forEach((name, value) -> d.field(name).field(value));
        return key(FULL, agentOf(turn), d.utterances(turn.transcript()));
    }

    /**
     * The opted-in loose key: {@code k2/tail/<agent>/} and the SHA-256 of the agent id and version, the
     * interaction type and the last {@value #TAIL_ENTRIES} transcript entries, normalized as in {@link #fullKey}.
     * Ignores the dynamic variables and the start of the conversation.
     */
    public static String tailKey(Turn turn) {
        List<Turn.Utterance> transcript = turn.transcript();
        Digest d = new Digest().field(TAIL).field(agentOf(turn)).field(versionOf(turn)).field(turn.interactionType());
        return key(TAIL, agentOf(turn),
                d.utterances(transcript.subList(Math.max(0, transcript.size() - TAIL_ENTRIES), transcript.size())));
    }

    /** Whether a key is of the current scheme ({@value #KEY_VERSION}); only such keys are loaded back. */
    public static boolean currentScheme(String key) {
        return key != null && key.startsWith(KEY_PREFIX);
    }

    /** Whether a key names no agent ({@code k2/<kind>/?/...}: written by a version that cached such turns). */
    private static boolean ofUnknownAgent(String key) {
        int kindEnd = key.indexOf('/', KEY_PREFIX.length());
        return kindEnd >= 0 && key.startsWith(UNKNOWN_AGENT + "/", kindEnd + 1);
    }

    /** The turn's agent id; null when not known (an empty id is not known either). */
    private static String agentOf(Turn turn) {
        return turn.agentId() == null || turn.agentId().isEmpty() ? null : turn.agentId();
    }

    private static String versionOf(Turn turn) {
        return turn.agentVersion() == null ? null : turn.agentVersion().toString();
    }

    private static String key(String kind, String agentId, Digest digest) {
        return KEY_PREFIX + kind + "/" + (agentId == null ? UNKNOWN_AGENT : agentId) + "/"
                + digest.hex();
    }

    static String normalize(String text) {
        // Exactly text.toLowerCase(ROOT).replaceAll("\\s+", " ").trim() (keys written through must not change), in
        // one pass and without a regex: every turn's key normalizes every utterance of the transcript.
        String lower = text.toLowerCase(Locale.ROOT);
        int n = lower.length();
        if (n > 0 && lower.charAt(0) > ' ' && lower.charAt(n - 1) > ' ' && !collapsible(lower)) {
            return lower;
        }
        StringBuilder out = new StringBuilder(n);
        boolean inRun = false;
        for (int i = 0; i < n; i++) {
            char c = lower.charAt(i);
            if (isRegexSpace(c)) {
                if (!inRun) {
                    out.append(' ');
                    inRun = true;
                }
            } else {
                out.append(c);
                inRun = false;
            }
        }
        return out.toString().trim();
    }

    /** Whether the text has a whitespace run the regex would change: any but a lone space. */
    private static boolean collapsible(String text) {
        boolean previousSpace = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ' ') {
                if (previousSpace) {
                    return true;
                }
                previousSpace = true;
            } else if (isRegexSpace(c)) {
                return true;
            } else {
                previousSpace = false;
            }
        }
        return false;
    }

    /** {@code \s} of {@link java.util.regex.Pattern} without UNICODE_CHARACTER_CLASS: {@code [ \t\n\x0B\f\r]}. */
    private static boolean isRegexSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
    }

    /** SHA-256 over fields, each length-prefixed (null distinct from empty), so no two inputs run together. */
    private static final class Digest {
        private final MessageDigest sha;

        Digest() {
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is required of every JVM", e);
            }
        }

        Digest field(String value) {
            if (value == null) {
                sha.update((byte) '-');
            } else {
                byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
                sha.update(("+" + bytes.length + ":").getBytes(StandardCharsets.US_ASCII));
                sha.update(bytes);
            }
            return this;
        }

        Digest utterances(List<Turn.Utterance> transcript) {
            field(Integer.toString(transcript.size()));
            for (Turn.Utterance u : transcript) {
                field(normalize(u.role())).field(normalize(u.content()));
            }
            return this;
        }

        String hex() {
            return HexFormat.of().formatHex(sha.digest());
        }
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

    /**
     * Loads an entry written through earlier (not written through again). An expired one, one whose key is of
     * another scheme (see {@link #currentScheme}), or one of no known agent (never served), is skipped.
     *
     * @return whether the entry was loaded
     */
    public synchronized boolean restore(String key, String answer, long expiresAtMs) {
        if (!currentScheme(key) || ofUnknownAgent(key) || expiresAtMs <= clock.millis()) {
            return false;
        }
        entries.put(key, new Entry(answer, expiresAtMs));
        return true;
    }

    /** Sets where stored answers are written through. */
    public void writeThrough(WriteThrough target) {
        this.writeThrough = Objects.requireNonNull(target, "target");
    }

    /** Entries held, expired ones included until they are looked up or evicted. */
    public synchronized int size() {
        return entries.size();
    }
}
