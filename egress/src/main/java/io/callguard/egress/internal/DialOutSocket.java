package io.callguard.egress.internal;

import io.callguard.ingress.CallSocket;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A {@link CallSocket} over a Jetty WebSocket client session that callguard dialled out. */
public final class DialOutSocket implements CallSocket {

    private static final Logger LOG = LoggerFactory.getLogger(DialOutSocket.class);

    private final String callId;
    private final String connectionId;
    private final Session session;
    private final AtomicBoolean open = new AtomicBoolean(true);

    public DialOutSocket(String callId, String connectionId, Session session) {
        this.callId = Objects.requireNonNull(callId, "callId");
        this.connectionId = Objects.requireNonNull(connectionId, "connectionId");
        this.session = Objects.requireNonNull(session, "session");
    }

    @Override
    public String callId() {
        return callId;
    }

    @Override
    public String connectionId() {
        return connectionId;
    }

    /** Queues the frame with Jetty's non-blocking send; a write failure shows up as the session closing. */
    @Override
    public boolean send(String json) {
        if (!isOpen()) {
            return false;
        }
        session.sendText(json, Callback.from(() -> {
        }, failure -> LOG.debug("call {}: send on {} failed: {}", callId, connectionId, failure.toString())));
        return true;
    }

    @Override
    public void close(int code, String reason) {
        if (open.compareAndSet(true, false)) {
            session.close(code, reason, Callback.NOOP);
        }
    }

    @Override
    public boolean isOpen() {
        return open.get() && session.isOpen();
    }

    /** Marks the socket closed after the peer or the network closed it. */
    void markClosed() {
        open.set(false);
    }

    @Override
    public String toString() {
        return "DialOutSocket[" + callId + "/" + connectionId + "]";
    }
}
