package io.callguard.cli.drill;

import io.callguard.processor.responder.ScriptBackend;

/**
 * How a drill call is meant to end: the caller asks for it on the call's {@link #TURN}th turn with the agent's
 * phrase (the script backend's, which sim-llm and the test upstreams share), and that turn's answer must act.
 */
enum Ending {
    /** The caller never asks; the call ends with the drill, as the caller hanging up. */
    NONE("", "", "", "user_hangup"),
    /** The caller says goodbye: the answer must carry {@code end_call:true} by its content_complete. */
    END_CALL(" " + ScriptBackend.END_CALL_PHRASE, "calls_ended_by_agent", DrillReport.END_CALL_MISSING,
            "agent_hangup"),
    /** The caller asks to be transferred: the answer must carry a {@code transfer_number} by its content_complete. */
    TRANSFER(" " + ScriptBackend.TRANSFER_PHRASE, "calls_transferred", DrillReport.TRANSFER_MISSING,
            "call_transfer");

    /**
     * The turn (its response_id, counted from 1) whose utterance asks for the ending: the third, so the call has
     * two plain turns first. A call too short to ask it counts as {@code endings_not_reached}.
     */
    static final long TURN = 3;

    private final String phrase;
    private final String doneCount;
    private final String missingCount;
    private final String disconnectionReason;

    Ending(String phrase, String doneCount, String missingCount, String disconnectionReason) {
        this.phrase = phrase;
        this.doneCount = doneCount;
        this.missingCount = missingCount;
        this.disconnectionReason = disconnectionReason;
    }

    /** What the caller adds to the ending turn's usual {@code call <id> turn <n>}, space included. */
    String phrase() {
        return phrase;
    }

    /** The count of calls that ended this way. */
    String doneCount() {
        return doneCount;
    }

    /** The failure counted when the ending turn completed without its action. */
    String missingCount() {
        return missingCount;
    }

    /** The {@code disconnection_reason} the call's {@code call_ended} webhook gives, as Retell's would. */
    String disconnectionReason() {
        return disconnectionReason;
    }

    /** Picks one call's ending: {@code endCallRate} of the draws end, the next {@code transferRate} transfer. */
    static Ending pick(double draw, double endCallRate, double transferRate) {
        if (draw < endCallRate) {
            return END_CALL;
        }
        return draw < endCallRate + transferRate ? TRANSFER : NONE;
    }
}
