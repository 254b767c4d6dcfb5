package io.callguard.retell.frames;

import java.util.Set;

/** The {@code interaction_type} names of the frames Retell sends on the custom-LLM WebSocket. */
public final class InteractionType {

    /** The field that names a frame's type. */
    public static final String FIELD = "interaction_type";

    /** Keep-alive, every 2 s when {@code auto_reconnect} is on; the server echoes it. */
    public static final String PING_PONG = "ping_pong";
    /** The call object, once the socket opens (when the config asked for it). */
    public static final String CALL_DETAILS = "call_details";
    /** A transcript update that needs no answer. */
    public static final String UPDATE_ONLY = "update_only";
    /** A turn: the agent must answer this {@code response_id}. */
    public static final String RESPONSE_REQUIRED = "response_required";
    /** A turn after the user has been silent: the agent must answer this {@code response_id}. */
    public static final String REMINDER_REQUIRED = "reminder_required";

    /** Every interaction type above. */
    public static final Set<String> ALL = Set.of(PING_PONG, CALL_DETAILS, UPDATE_ONLY, RESPONSE_REQUIRED,
            REMINDER_REQUIRED);

    private InteractionType() {
    }

    /** Whether frames of this type ask for an answer (carry a {@code response_id}). */
    public static boolean isTurn(String type) {
        return RESPONSE_REQUIRED.equals(type) || REMINDER_REQUIRED.equals(type);
    }
}
