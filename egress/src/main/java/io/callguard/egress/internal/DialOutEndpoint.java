package io.callguard.egress.internal;

import io.callguard.retell.socket.SessionCallSocket;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * Jetty client endpoint of one dial-out connection attempt; forwards its events to the owner. Public because
 * Jetty requires endpoint classes to be.
 */
public final class DialOutEndpoint implements Session.Listener.AutoDemanding {

    /** What the endpoint reports to. */
    public interface Events {
        void opened(DialOutEndpoint endpoint, Session session);

        void text(DialOutEndpoint endpoint, String frame);

        void closed(DialOutEndpoint endpoint, int code, String reason);

        void error(DialOutEndpoint endpoint, Throwable cause);
    }

    private final String callId;
    private final String connectionId;
    private final Events events;
    private volatile SessionCallSocket socket;

    public DialOutEndpoint(String callId, String connectionId, Events events) {
        this.callId = callId;
        this.connectionId = connectionId;
        this.events = events;
    }

    public String callId() {
        return callId;
    }

    public String connectionId() {
        return connectionId;
    }

    /** The socket once open; null before. */
    public SessionCallSocket socket() {
        return socket;
    }

    @Override
    public void onWebSocketOpen(Session session) {
        socket = new SessionCallSocket(callId, connectionId, session, true, () -> {
        });
        events.opened(this, session);
    }

    @Override
    public void onWebSocketText(String message) {
        events.text(this, message);
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason, Callback callback) {
        SessionCallSocket open = socket;
        if (open != null) {
            open.markClosed();
        }
        try {
            events.closed(this, statusCode, reason);
        } finally {
            callback.succeed();
        }
    }

    @Override
    public void onWebSocketError(Throwable cause) {
        events.error(this, cause);
    }
}
