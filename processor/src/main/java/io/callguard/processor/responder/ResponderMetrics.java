package io.callguard.processor.responder;

/** Names and tags of the responder's own meters (resilience4j's binders add theirs under {@code resilience4j.*}). */
public final class ResponderMetrics {

    /** Counter: fallback answers, tagged {@link #TAG_REASON}. */
    public static final String FALLBACKS = "callguard.fallbacks";
    /** Counter: circuit breaker state transitions, tagged {@link #TAG_FROM} and {@link #TAG_TO}. */
    public static final String BREAKER_TRANSITIONS = "callguard.breaker.transitions";
    /** Counter: turns the responder finished, tagged {@link #TAG_OUTCOME}. */
    public static final String TURNS = "callguard.responder.turns";
    /** Timer: from the edge receiving a turn to the responder handing over its complete answer, tagged kind. */
    public static final String TURN_LATENCY = "callguard.responder.turn.latency";
    /** Timer: from the edge receiving a turn to the first non-empty record for it (filler or words), tagged kind. */
    public static final String FIRST_WORDS_LATENCY = "callguard.responder.first-words.latency";
    /** Counter: hedges started (the fallback racing a slow primary), tagged {@link #TAG_BACKEND}. */
    public static final String HEDGES_STARTED = "callguard.responder.hedges.started";
    /** Counter: races won, tagged {@link #TAG_BACKEND} (the backend whose first chunk came first). */
    public static final String HEDGES_WON = "callguard.responder.hedges.won";
    /** Timer: a winning backend attempt's first chunk, from the attempt's start, tagged {@link #TAG_BACKEND}. */
    public static final String FIRST_CHUNK_LATENCY = "callguard.responder.backend.first-chunk.latency";
    /** Counter: filler lines sent because the budget passed with no words. */
    public static final String FILLERS = "callguard.responder.fillers";
    /** Counter: response cache lookups, tagged {@link #TAG_RESULT} (hit, miss). */
    public static final String CACHE_LOOKUPS = "callguard.responder.cache.lookups";
    /** Counter: call-events records the responder dropped, tagged {@link #TAG_REASON}. */
    public static final String RECORDS_DROPPED = "callguard.responder.records.dropped";
    /** Counter: hold lines said to queued calls, tagged {@link #TAG_AT} ({@value #AT_BEGIN}, {@value #AT_TURN}, {@value #AT_REPEAT}). */
    public static final String HOLDS = "callguard.responder.holds";
    /**
     * Counter: busy lines (with {@code end_call}) said to rejected calls, tagged {@link #TAG_AT} ({@value #AT_BEGIN},
     * {@value #AT_TURN}, {@value #AT_INTERRUPT}).
     */
    public static final String BUSY = "callguard.responder.busy";
    /**
     * Counter: turns and begin messages that came before their call's admission was known and waited for it,
     * tagged {@link #TAG_RESULT}: the status that came ({@code active}, {@code queued}, {@code rejected}) or
     * {@value #RESULT_UNKNOWN} (none by the first-words deadline: closed with reason {@code admission_unknown}).
     */
    public static final String ADMISSION_WAITS = "callguard.responder.admission.waits";
    /**
     * Counter: a turn's answer so far re-sent as one record because the call's socket moved (a reconnect, perhaps to
     * another edge node) while it was owed, tagged {@link #TAG_AT}: {@value #AT_RECONNECT} (the answer was still being
     * written when the new socket opened) or {@value #AT_ASKED_AGAIN} (Retell asked for the turn again on the new
     * socket).
     */
    public static final String ANSWERS_RESENT = "callguard.responder.answers.resent";
    /**
     * Counter: begin messages owed by an edge that could not tell a reconnect, answered with an empty begin (the call
     * already had a socket or turns: the caller is not greeted again).
     */
    public static final String RECONNECT_BEGINS = "callguard.responder.reconnect-begins";
    /** Counter: answers the producer failed to write, after its own retries. */
    public static final String SEND_ERRORS = "callguard.responder.send.errors";

    /**
     * Counter: backend attempts by time limiter outcome, tagged {@link #TAG_NAME} and {@link #TAG_KIND}
     * ({@code successful}, {@code failed}, {@code timeout}); resilience4j's own name, kept by hand because every
     * attempt has its own limiter.
     */
    public static final String TIME_LIMITER_CALLS = "resilience4j.timelimiter.calls";

    public static final String TAG_REASON = "reason";
    public static final String TAG_NAME = "name";
    public static final String TAG_FROM = "from";
    public static final String TAG_TO = "to";
    public static final String TAG_OUTCOME = "outcome";
    public static final String TAG_KIND = "kind";
    public static final String TAG_RESULT = "result";
    /** Where a hold or busy line was said: on the begin message, on a turn, or as an agent interrupt. */
    public static final String TAG_AT = "at";
    public static final String AT_BEGIN = "begin";
    public static final String AT_TURN = "turn";
    /** {@link #HOLDS}: the hold line said again while the call waits. */
    public static final String AT_REPEAT = "repeat";
    /** {@link #BUSY}: said as an agent interrupt (no response id was open). */
    public static final String AT_INTERRUPT = "interrupt";
    /** {@link #ANSWERS_RESENT}: when the call's new socket opened. */
    public static final String AT_RECONNECT = "reconnect";
    /** {@link #ANSWERS_RESENT}: when Retell asked for the turn again on the new socket. */
    public static final String AT_ASKED_AGAIN = "asked_again";
    /** {@link #ADMISSION_WAITS}: no admission decision by the first-words deadline. */
    public static final String RESULT_UNKNOWN = "unknown";
    /** The backend's name: {@code agent-backend} (primary) or {@code agent-fallback}. */
    public static final String TAG_BACKEND = "backend";

    /** {@link #TURNS} outcome: a newer request of the call cancelled this one; nothing was sent for it. */
    public static final String OUTCOME_SUPERSEDED = "superseded";
    /** {@link #TURNS} outcome: not newer than the latest request already seen for the call; ignored. */
    public static final String OUTCOME_STALE = "stale";
    /** {@link #TURNS} outcome: the call was rejected while the turn generated; the busy line replaced it. */
    public static final String OUTCOME_REJECTED = "rejected";

    private ResponderMetrics() {
    }
}
