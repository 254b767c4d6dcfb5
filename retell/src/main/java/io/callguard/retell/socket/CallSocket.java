package io.callguard.retell.socket;

/**
 * One open Retell custom-LLM WebSocket, dialled in by Retell or out by callguard, as the delivery side
 * sees it. Implementations are thread-safe and never block the caller.
 */
public interface CallSocket {

    /** The call this socket carries. */
    String callId();

    /** Unique per socket; a reconnect for the same call gets a new one. */
    String connectionId();

    /**
     * Queues one text frame (one JSON object) for sending.
     *
     * @return false when the socket is already closed and the frame was not queued
     */
    boolean send(String json);

    /** Closes the socket with a WebSocket close code (1000 means a deliberate hang-up to Retell). */
    void close(int code, String reason);

    /**
     * Drops the connection without a close handshake, once every frame queued before was written: the peer sees an
     * abnormal close (1006), which Retell answers by reconnecting (retell-protocol.md, "Keep-alive and
     * reconnect"). How a draining instance hands a call to another one between two turns.
     */
    void abort();

    /** True until the socket is closed by either side. */
    boolean isOpen();

    /** True when callguard opened the socket itself (dial-out mode); false when Retell dialled in. */
    default boolean dialledOut() {
        return false;
    }
}
