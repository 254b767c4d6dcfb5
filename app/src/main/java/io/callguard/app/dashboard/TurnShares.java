package io.callguard.app.dashboard;

import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * How turns ended, told from the records on {@code callguard.responses}: <b>whole</b> (the answer with no filler
 * record before it), <b>bridged</b> (a filler record, then a generated or cached complete of the same
 * response id), <b>closed</b> (a complete of kind fallback), by reason. Busy lines and the begin message
 * (response id 0) are not turns.
 *
 * <p>Remembers the response ids that had a filler until their complete, at most {@code maxOpen} of them (the
 * oldest are forgotten, so a turn whose complete never comes costs nothing for long). Not thread-safe: the
 * dashboard calls it under its lock.
 */
final class TurnShares {

    private final Map<String, Boolean> bridging;
    private long whole;
    private long bridged;
    private final Map<String, Long> closedByReason = new TreeMap<>();

    /** @param maxOpen response ids with a filler and no complete yet to remember, at least 1 */
    TurnShares(int maxOpen) {
        if (maxOpen < 1) {
            throw new IllegalArgumentException("maxOpen must be at least 1, was " + maxOpen);
        }
        this.bridging = new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > maxOpen;
            }
        };
    }

    /** Takes one record of the responses topic, chunk or complete. */
    void record(AgentResponse r) {
        if (r == null || r.responseId() <= 0) {
            return;
        }
        String key = r.callId() + "/" + r.responseId();
        if (!r.contentComplete()) {
            if (r.kind() == ResponseKind.FILLER && !r.content().isEmpty()) {
                bridging.put(key, Boolean.TRUE);
            }
            return;
        }
        boolean filler = bridging.remove(key) != null;
        switch (r.kind()) {
            case GENERATED, CACHED -> {
                if (filler) {
                    bridged++;
                } else {
                    whole++;
                }
            }
            case FALLBACK -> closedByReason.merge(EgressMetrics.closingReasonTag(r.reason()), 1L, Long::sum);
            default -> {
            }
        }
    }

    /** The counts and shares so far, as {@link #shares} lays them out. */
    Map<String, Object> snapshot() {
        return shares(whole, bridged, closedByReason);
    }

    /**
     * The JSON of turn shares: {@code turns}, {@code whole}, {@code bridged}, {@code closed}, their shares of all
     * turns ({@code whole_share}, {@code bridged_share}, {@code closed_share}, 0 without turns) and
     * {@code closed_by_reason}.
     */
    static Map<String, Object> shares(long whole, long bridged, Map<String, Long> closedByReason) {
        long closed = closedByReason.values().stream().mapToLong(Long::longValue).sum();
        long turns = whole + bridged + closed;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("turns", turns);
        out.put("whole", whole);
        out.put("bridged", bridged);
        out.put("closed", closed);
        out.put("whole_share", share(whole, turns));
        out.put("bridged_share", share(bridged, turns));
        out.put("closed_share", share(closed, turns));
        out.put("closed_by_reason", new TreeMap<>(closedByReason));
        return out;
    }

    private static double share(long n, long of) {
        return of > 0 ? (double) n / of : 0.0;
    }
}
