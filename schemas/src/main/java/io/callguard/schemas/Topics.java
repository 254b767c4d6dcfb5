package io.callguard.schemas;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The topics of DESIGN.md under one prefix. Names are a public contract: analytics taps read them.
 *
 * @param prefix       the prefix, e.g. {@code callguard.}
 * @param callEvents   every webhook and socket event, as received; the replay source
 * @param responses    answers owed to Retell
 * @param callState    compacted; the latest state per call
 * @param callArchive  one record per finished, expired or rejected call
 * @param deadLetters  what could not be parsed or validated
 * @param responseCache compacted and deleted by time; the responder's cached answers, read back at start
 */
public record Topics(
        String prefix,
        Topic<String, CallEvent> callEvents,
        Topic<String, AgentResponse> responses,
        Topic<String, CallState> callState,
        Topic<String, CallArchive> callArchive,
        Topic<String, DeadLetter> deadLetters,
        Topic<String, CachedAnswer> responseCache) {

    /** The default prefix. */
    public static final String DEFAULT_PREFIX = "callguard.";

    public static final String CALL_EVENTS = "call-events";
    public static final String RESPONSES = "responses";
    public static final String CALL_STATE = "call-state";
    public static final String CALL_ARCHIVE = "call-archive";
    public static final String DEAD_LETTERS = "dead-letters";
    public static final String RESPONSE_CACHE = "response-cache";

    private static final Pattern LEGAL_PREFIX = Pattern.compile("[a-zA-Z0-9._-]*");

    public Topics {
        Objects.requireNonNull(prefix, "prefix");
    }

    /**
     * The topics under a prefix.
     *
     * @throws IllegalArgumentException when the prefix has characters Kafka does not allow in topic names
     */
    public static Topics withPrefix(String prefix) {
        if (prefix == null || !LEGAL_PREFIX.matcher(prefix).matches() || prefix.length() > 200) {
            throw new IllegalArgumentException("topic prefix '" + prefix
                    + "' is not allowed: use up to 200 of a-z A-Z 0-9 . _ -");
        }
        Serde<String> keys = Serdes.String();
        return new Topics(prefix,
                new Topic<>(prefix + CALL_EVENTS, keys, JsonSerde.of(CallEvent.class), false),
                new Topic<>(prefix + RESPONSES, keys, JsonSerde.of(AgentResponse.class), false),
                new Topic<>(prefix + CALL_STATE, keys, JsonSerde.of(CallState.class), true),
                new Topic<>(prefix + CALL_ARCHIVE, keys, JsonSerde.of(CallArchive.class), false),
                new Topic<>(prefix + DEAD_LETTERS, keys, JsonSerde.of(DeadLetter.class), false),
                new Topic<>(prefix + RESPONSE_CACHE, keys, JsonSerde.of(CachedAnswer.class), true));
    }

    /** The default topics, under {@value #DEFAULT_PREFIX}. */
    public static Topics defaults() {
        return withPrefix(DEFAULT_PREFIX);
    }

    /** Every topic, in DESIGN.md's order, the response cache last. */
    public List<Topic<String, ?>> all() {
        return List.of(callEvents, responses, callState, callArchive, deadLetters, responseCache);
    }

    /** The topic of that full name, if it is one of these. */
    public java.util.Optional<Topic<String, ?>> byName(String name) {
        return all().stream().filter(t -> t.name().equals(name)).findFirst();
    }
}
