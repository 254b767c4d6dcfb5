package io.callguard.retell.socket;

/**
 * Where a dial-out socket's life goes: the app wires it into the same ingress path as dial-in sockets, so
 * Retell's frames on a socket callguard dialled become call events and turn requests like any others.
 * Called on Jetty client threads: implementations return quickly and never block.
 */
public interface SocketFrames {

    /** A dial-out socket opened (already registered with the edge listener). */
    void opened(CallSocket socket);

    /** One text frame (one JSON object) arrived on the socket. */
    void text(CallSocket socket, String frame);

    /** The socket closed, by either side; 1006 when the connection was cut. */
    void closed(CallSocket socket, int code, String reason);
}
