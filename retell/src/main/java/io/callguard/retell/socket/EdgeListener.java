package io.callguard.retell.socket;

/**
 * What the edge tells the delivery side (egress) about sockets and turns. Called on socket threads:
 * implementations must return quickly and never block.
 *
 * <p>One writer per socket: a delivering listener ({@link #delivers()}) writes every {@code response} frame of the
 * socket, the begin message ({@code response_id} 0) included, so its turn rules (one {@code content_complete:true}
 * per response id) hold for id 0 too. The edge writes only the config message and ping answers itself.
 */
public interface EdgeListener {

    /** A socket for a call opened; it supersedes any older socket of the same call. */
    void socketOpened(CallSocket socket);

    /** A socket closed, by either side. */
    void socketClosed(CallSocket socket, int code, String reason);

    /**
     * Retell asked for an answer ({@code response_required} or {@code reminder_required}); the turn's
     * budget started at {@code receivedAtMs}. A newer response id supersedes older ones of the call.
     */
    void turnRequested(CallSocket socket, long responseId, long receivedAtMs);

    /**
     * The begin message ({@code response_id} 0) of a newly opened socket, said now: {@code content}, complete, with
     * {@code end_call} when {@code endCall} (the busy line of a call known to be refused). Written by the delivery
     * side under its turn rules, so a begin record for id 0 that comes later is dropped, not said twice.
     */
    void beginNow(CallSocket socket, String content, boolean endCall, long atMs);

    /**
     * The begin message ({@code response_id} 0) of a newly opened socket is owed by the pipeline (the responder says
     * the greeting, the hold or busy line, or the agent's own) rather than said at the edge; its budget started at
     * {@code receivedAtMs}. The delivery side bridges it (the greeting at the budget) and completes it by the
     * first-words deadline if the pipeline's begin does not come.
     */
    default void beginRequested(CallSocket socket, long receivedAtMs) {
    }

    /**
     * Whether this listener writes the sockets' {@code response} frames (true for the egress). When false nobody
     * would give Retell its begin message, so the edge writes it itself and never owes it.
     */
    default boolean delivers() {
        return true;
    }

    /**
     * A listener that does nothing and delivers nothing, for an edge without delivery (tests, ingress-only trials):
     * the edge says each socket's begin message itself.
     */
    EdgeListener NONE = new EdgeListener() {
        @Override
        public void socketOpened(CallSocket socket) {
        }

        @Override
        public void socketClosed(CallSocket socket, int code, String reason) {
        }

        @Override
        public void turnRequested(CallSocket socket, long responseId, long receivedAtMs) {
        }

        @Override
        public void beginNow(CallSocket socket, String content, boolean endCall, long atMs) {
        }

        @Override
        public boolean delivers() {
            return false;
        }
    };
}
