package io.callguard.retell.socket;

/**
 * What the edge tells the delivery side (egress) about sockets and turns. Called on socket threads:
 * implementations must return quickly and never block.
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
     * The begin message ({@code response_id} 0) of a newly opened socket is owed by the agent backend rather than
     * said at the edge; its budget started at {@code receivedAtMs}. The delivery side bridges it (the greeting at
     * the budget) and completes it by the first-words deadline if the agent's own begin message does not come.
     */
    default void beginRequested(CallSocket socket, long receivedAtMs) {
    }

    /** A listener that does nothing, for an edge without delivery (tests, ingress-only trials). */
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
    };
}
