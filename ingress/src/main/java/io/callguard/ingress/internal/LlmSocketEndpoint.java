package io.callguard.ingress.internal;

import io.callguard.retell.socket.CallSocket;
import io.callguard.ingress.IngressMetrics;
import io.callguard.ingress.SocketFrameHandler;
import io.callguard.retell.socket.SessionCallSocket;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.UUID;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.exceptions.MessageTooLargeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One LLM WebSocket Retell dialled in: feeds its frames to the {@link SocketFrameHandler} one at a time (Jetty asks
 * for the next frame when a callback returns) and is the {@link CallSocket} the egress answers through. Public
 * because Jetty requires endpoints to be.
 */
public final class LlmSocketEndpoint implements Session.Listener.AutoDemanding {

    private static final Logger LOG = LoggerFactory.getLogger(LlmSocketEndpoint.class);

    private final SocketFrameHandler protocol;
    private final String callId;
    private final MeterRegistry meters;
    private volatile SessionCallSocket socket;

    public LlmSocketEndpoint(SocketFrameHandler protocol, String callId, MeterRegistry meters) {
        this.protocol = Objects.requireNonNull(protocol, "protocol");
        this.callId = Objects.requireNonNull(callId, "callId");
        this.meters = Objects.requireNonNull(meters, "meters");
    }

    @Override
    public void onWebSocketOpen(Session session) {
        SessionCallSocket opened = new SessionCallSocket(callId, UUID.randomUUID().toString(), session, false,
                () -> meters.counter(IngressMetrics.SOCKET_SEND_FAILURES).increment());
        socket = opened;
        protocol.opened(opened);
    }

    @Override
    public void onWebSocketText(String message) {
        protocol.text(socket, message);
    }

    @Override
    public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
        byte[] bytes = new byte[payload.remaining()];
        payload.get(bytes);
        callback.succeed();
        protocol.binary(socket, bytes);
    }

    @Override
    public void onWebSocketError(Throwable cause) {
        SessionCallSocket current = socket;
        if (current != null && (cause instanceof MessageTooLargeException
                || cause instanceof org.eclipse.jetty.websocket.core.exception.MessageTooLargeException)) {
            // Jetty already closes with 1009; the protocol records it.
            protocol.tooLarge(current, String.valueOf(cause.getMessage()));
            return;
        }
        LOG.debug("LLM socket of call {} failed", callId, cause);
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
        SessionCallSocket current = socket;
        if (current == null) {
            return;
        }
        current.markClosed();
        protocol.closed(current, statusCode, reason);
    }
}
