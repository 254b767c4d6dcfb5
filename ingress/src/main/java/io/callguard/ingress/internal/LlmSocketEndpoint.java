package io.callguard.ingress.internal;

import io.callguard.ingress.CallSocket;
import io.callguard.ingress.IngressMetrics;
import io.callguard.ingress.LlmSocketProtocol;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.exceptions.MessageTooLargeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One LLM WebSocket Retell dialled in: feeds its frames to the {@link LlmSocketProtocol} one at a time (Jetty asks
 * for the next frame when a callback returns) and is the {@link CallSocket} the egress answers through. Public
 * because Jetty requires endpoints to be.
 */
public final class LlmSocketEndpoint implements Session.Listener.AutoDemanding {

    private static final Logger LOG = LoggerFactory.getLogger(LlmSocketEndpoint.class);

    private final LlmSocketProtocol protocol;
    private final String callId;
    private final MeterRegistry meters;
    private volatile JettyCallSocket socket;

    public LlmSocketEndpoint(LlmSocketProtocol protocol, String callId, MeterRegistry meters) {
        this.protocol = Objects.requireNonNull(protocol, "protocol");
        this.callId = Objects.requireNonNull(callId, "callId");
        this.meters = Objects.requireNonNull(meters, "meters");
    }

    @Override
    public void onWebSocketOpen(Session session) {
        JettyCallSocket opened = new JettyCallSocket(session, callId, meters);
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
        JettyCallSocket current = socket;
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
        JettyCallSocket current = socket;
        if (current == null) {
            return;
        }
        current.closed.set(true);
        protocol.closed(current, statusCode, reason);
    }

    /** A {@link CallSocket} over a Jetty session: non-blocking sends, open until either side closes. */
    static final class JettyCallSocket implements CallSocket {
        private final Session session;
        private final String callId;
        private final String connectionId = UUID.randomUUID().toString();
        private final MeterRegistry meters;
        private final AtomicBoolean closed = new AtomicBoolean();

        JettyCallSocket(Session session, String callId, MeterRegistry meters) {
            this.session = session;
            this.callId = callId;
            this.meters = meters;
        }

        @Override
        public String callId() {
            return callId;
        }

        @Override
        public String connectionId() {
            return connectionId;
        }

        @Override
        public boolean send(String json) {
            if (!isOpen()) {
                return false;
            }
            session.sendText(json, Callback.from(() -> {
            }, failure -> {
                meters.counter(IngressMetrics.SOCKET_SEND_FAILURES).increment();
                LOG.debug("frame to call {} ({}) not sent: {}", callId, connectionId, failure.toString());
            }));
            return true;
        }

        @Override
        public void close(int code, String reason) {
            if (closed.compareAndSet(false, true)) {
                session.close(code, reason, Callback.NOOP);
            }
        }

        @Override
        public boolean isOpen() {
            return !closed.get() && session.isOpen();
        }

        @Override
        public String toString() {
            return "LLM socket of call " + callId + " (" + connectionId + ")";
        }
    }
}
