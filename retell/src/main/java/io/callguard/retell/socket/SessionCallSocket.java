package io.callguard.retell.socket;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link CallSocket} over a Jetty WebSocket {@link Session}: the one Retell dialled in (ingress) and the one
 * callguard dialled out (egress) alike, since both sides of Jetty share the session API.
 */
public final class SessionCallSocket implements CallSocket {

    private static final Logger LOG = LoggerFactory.getLogger(SessionCallSocket.class);

    private final String callId;
    private final String connectionId;
    private final Session session;
    private final boolean dialledOut;
    private final Runnable sendFailed;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Frames handed to Jetty, and those Jetty reported written (or failed); guarded by this. */
    private long queued;
    private long written;
    /** {@link #abort()} was called: the connection is dropped when the last queued frame is written. */
    private boolean aborting;

    /**
     * @param dialledOut true when callguard opened the socket (dial-out mode)
     * @param sendFailed called when Jetty reports a queued frame as not sent (e.g. to count it)
     */
    public SessionCallSocket(String callId, String connectionId, Session session, boolean dialledOut,
            Runnable sendFailed) {
        this.callId = Objects.requireNonNull(callId, "callId");
        this.connectionId = Objects.requireNonNull(connectionId, "connectionId");
        this.session = Objects.requireNonNull(session, "session");
        this.dialledOut = dialledOut;
        this.sendFailed = Objects.requireNonNull(sendFailed, "sendFailed");
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
    public boolean dialledOut() {
        return dialledOut;
    }

    /**
     * Queues the frame with Jetty's non-blocking send; a write failure shows up as the session closing. Jetty writes
     * a session's frames in the order they were queued, which {@link #abort()} relies on.
     */
    @Override
    public boolean send(String json) {
        synchronized (this) {
            if (!isOpen()) {
                return false;
            }
            queued++;
            session.sendText(json, Callback.from(this::written, failure -> {
                sendFailed.run();
                LOG.debug("frame to call {} ({}) not sent: {}", callId, connectionId, failure.toString());
                written();
            }));
        }
        return true;
    }

    private void written() {
        boolean drop;
        synchronized (this) {
            written++;
            drop = aborting && written == queued;
        }
        if (drop) {
            session.disconnect();
        }
    }

    @Override
    public void close(int code, String reason) {
        if (closed.compareAndSet(false, true)) {
            session.close(code, reason, Callback.NOOP);
        }
    }

    /** Refuses further frames at once; the connection is dropped (no close frame) when the last one is written. */
    @Override
    public void abort() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        boolean drop;
        synchronized (this) {
            aborting = true;
            drop = written == queued;
        }
        if (drop) {
            session.disconnect();
        }
    }

    @Override
    public boolean isOpen() {
        return !closed.get() && session.isOpen();
    }

    /** Marks the socket closed after the peer or the network closed it. */
    public void markClosed() {
        closed.set(true);
    }

    @Override
    public String toString() {
        return "LLM socket of call " + callId + " (" + connectionId + (dialledOut ? ", dialled out)" : ")");
    }
}
