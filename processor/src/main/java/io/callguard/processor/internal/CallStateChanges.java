package io.callguard.processor.internal;

import io.callguard.retell.frames.InteractionType;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.EventSource;

/**
 * What one event changed of a call's state, for the two per-turn savings of the processor: a socket turn is deduped
 * against the call's latest response id (no idempotency-key store writes for it), and a change of counters only is
 * published to call-state later, batched, not as one record per event.
 */
public final class CallStateChanges {

    private CallStateChanges() {
    }

    /**
     * The response id of a socket turn ({@code response_required} or {@code reminder_required} from the socket, with a
     * response id), else null. Retell's response ids only grow on a call's socket, so a turn at or below the call's
     * latest is a redelivery (the ingress retrying, a reconnect repeating the last request) or one it already moved
     * past: the call's state decides, where an idempotency key per turn would cost two changelog records a turn.
     */
    public static Long turnResponseId(CallEvent event) {
        if (event.source() != EventSource.SOCKET || !InteractionType.isTurn(event.type())) {
            return null;
        }
        return CallEventFold.responseId(event);
    }

    /** Whether the call's state already applied a turn with this response id or a later one. */
    public static boolean turnAlreadyApplied(CallState prior, long responseId) {
        return prior != null && prior.latestResponseId() != null && responseId <= prior.latestResponseId();
    }

    /**
     * Whether {@code next} differs from {@code prior} in counters only: turn count, latest response id, transcript
     * length, events applied, duplicates dropped, the last event's time, the update time. The call's first turn is not
     * a counter change (a node deciding a reconnect's begin reads it: "the call took turns"), nor is an earlier first
     * event (the origin of the responder's interrupt ids, the same on every member).
     */
    public static boolean countersOnly(CallState prior, CallState next) {
        if (tookTurns(prior) != tookTurns(next)) {
            return false;
        }
        CallState countersAligned = prior.toBuilder()
                .turnCount(next.turnCount())
                .latestResponseId(next.latestResponseId())
                .transcriptLength(next.transcriptLength())
                .eventsApplied(next.eventsApplied())
                .duplicatesDropped(next.duplicatesDropped())
                .lastEventAtMs(next.lastEventAtMs())
                .updatedAtMs(next.updatedAtMs())
                .build();
        return countersAligned.equals(next);
    }

    private static boolean tookTurns(CallState state) {
        return state.turnCount() > 0 || (state.latestResponseId() != null && state.latestResponseId() > 0);
    }
}
