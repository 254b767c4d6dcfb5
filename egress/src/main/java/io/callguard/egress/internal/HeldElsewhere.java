package io.callguard.egress.internal;

import io.callguard.schemas.AgentResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The latest answers of calls whose socket another node holds: every egress reads every partition of the responses
 * topic and drops those (they are counted as not held). When such a call moves here mid-turn, because its node died
 * after the responder had answered (the answer went to a socket that was gone) or while it streamed, and Retell asks
 * the new socket for that turn again, the answer kept here is said at once instead of a filler, then a closing line
 * at the first-words deadline, with the answer in Kafka all the while (the chaos drill's killed gateway).
 *
 * <p>Kept per call: the in-turn records of its latest response id, in arrival order, until {@link #TTL_MS} after the
 * last one, at most {@link #MAX_RECORDS} records in all (the calls with the oldest records go first) and
 * {@link #MAX_RECORDS_PER_CALL} per call. A moved call asks again within a second or so of its node's death; what is
 * older is not owed to anyone. Thread-safe: the responses loop keeps, socket threads take.
 */
final class HeldElsewhere {

    /** How long a call's latest answer is kept after its last record arrived. */
    static final long TTL_MS = 10_000;
    /** Records kept in all, over every call: a bound on memory whatever the traffic (about 1 KB each at most). */
    static final int MAX_RECORDS = 20_000;
    /** Records kept for one call's answer; a longer answer keeps its first ones (what the caller hears first). */
    static final int MAX_RECORDS_PER_CALL = 512;

    /** One call's latest answer. */
    private static final class Answer {
        final long responseId;
        final List<AgentResponse> records = new ArrayList<>();
        long lastAtMs;

        Answer(long responseId) {
            this.responseId = responseId;
        }
    }

    /** By call, the one whose record arrived longest ago first (re-inserted on every record). */
    private final LinkedHashMap<String, Answer> byCall = new LinkedHashMap<>();
    private int records;

    /** Keeps an in-turn record of a call not held here; older response ids than the call's latest are ignored. */
    synchronized void keep(AgentResponse response, long nowMs) {
        if (!response.inTurn()) {
            return;
        }
        Answer answer = byCall.remove(response.callId());
        if (answer == null || response.responseId() > answer.responseId) {
            if (answer != null) {
                records -= answer.records.size();
            }
            answer = new Answer(response.responseId());
        } else if (response.responseId() < answer.responseId) {
            byCall.put(response.callId(), answer);
            return;
        }
        if (answer.records.size() < MAX_RECORDS_PER_CALL) {
            answer.records.add(response);
            records++;
        }
        answer.lastAtMs = nowMs;
        byCall.put(response.callId(), answer);
        evict(nowMs);
    }

    /**
     * Removes and returns the kept records of {@code callId}'s answer to {@code responseId}, in arrival order; empty
     * when none are kept for that id, or they are older than {@link #TTL_MS}.
     */
    synchronized List<AgentResponse> take(String callId, long responseId, long nowMs) {
        Answer answer = byCall.get(callId);
        if (answer == null || answer.responseId != responseId) {
            return List.of();
        }
        byCall.remove(callId);
        records -= answer.records.size();
        return nowMs - answer.lastAtMs > TTL_MS ? List.of() : List.copyOf(answer.records);
    }

    /** Calls with an answer kept. */
    synchronized int size() {
        return byCall.size();
    }

    private void evict(long nowMs) {
        Iterator<Map.Entry<String, Answer>> oldest = byCall.entrySet().iterator();
        while (oldest.hasNext()) {
            Answer answer = oldest.next().getValue();
            if (records <= MAX_RECORDS && nowMs - answer.lastAtMs <= TTL_MS) {
                return;
            }
            records -= answer.records.size();
            oldest.remove();
        }
    }
}
