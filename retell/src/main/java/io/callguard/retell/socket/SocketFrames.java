package io.callguard.retell.socket;

/**
 * Where a call socket's life goes, whichever side opened it: ingress's socket protocol implements it, so the
 * egress's dial-out client hands Retell's frames on a socket callguard dialled straight to the same path as
 * dial-in frames (call events and turn requests like any others). Called on Jetty threads: implementations return
 * quickly and never block.
 */
public interface SocketFrames {

    /** A dial-out socket opened (already registered with the edge listener). */
    void opened(CallSocket socket);

    /** One text frame (one JSON object) arrived on the socket. */
    void text(CallSocket socket, String frame);

    /** The socket closed, by either side; 1006 when the connection was cut. */
    void closed(CallSocket socket, int code, String reason);
}
