package io.callguard.ingress;

import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.SocketFrames;

/**
 * What the LLM WebSocket endpoint feeds a socket's frames to: {@link LlmSocketProtocol} (the Kafka-backed path)
 * or, through {@link IngressServer#withSocketFrames}, a handler of one's own (a load tool's direct baseline).
 * Each socket's frames arrive one at a time, in order, on Jetty threads.
 */
public interface SocketFrameHandler extends SocketFrames {

    /** One binary frame: Retell sends none; by default the socket is closed with 1003. */
    default void binary(CallSocket socket, byte[] payload) {
        socket.close(LlmSocketProtocol.CLOSE_UNSUPPORTED_DATA, "text frames only");
    }

    /** A frame over {@code socket.max-frame-bytes}; by default the socket is closed with 1009. */
    default void tooLarge(CallSocket socket, String detail) {
        socket.close(LlmSocketProtocol.CLOSE_TOO_LARGE, "frame too large");
    }
}
