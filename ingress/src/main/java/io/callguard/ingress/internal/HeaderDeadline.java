package io.callguard.ingress.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes an HTTP/1 connection whose request headers do not complete in time: the connector's idle timeout alone lets
 * a client that sends a header byte now and then hold a connection for ever. Jetty 12 has no such deadline of its own
 * (its idle timeout restarts with every byte).
 *
 * <p>Added as a listener of the HTTP connection factory, so it sees HTTP/1 connections only; a connection upgraded to
 * a WebSocket is left to the WebSocket's own idle timeout. Every {@code timeoutMs} it looks at each connection's
 * counters ({@link Connection#getMessagesIn()} counts requests whose headers completed, {@code getMessagesOut()}
 * responses sent) and closes it when:
 * <ul>
 *   <li>no request's headers completed since it opened (at the first look: within {@code timeoutMs} of opening);</li>
 *   <li>or, between requests (no request open at either look), bytes came in since the last look but no headers
 *       completed: headers trickling in on a kept-alive connection, closed within twice {@code timeoutMs}.</li>
 * </ul>
 * A request whose headers completed is the body's business from then on (the webhook's minimum data rate, the
 * idle timeout); a kept-alive connection that receives nothing is the idle timeout's.
 */
public final class HeaderDeadline implements Connection.Listener {

    private static final Logger LOG = LoggerFactory.getLogger(HeaderDeadline.class);

    private final Scheduler scheduler;
    private final long timeoutMs;
    private final LongAdder closed = new LongAdder();

    /**
     * @param scheduler the connector's scheduler
     * @param timeoutMs how long a request's headers may take
     */
    public HeaderDeadline(Scheduler scheduler, long timeoutMs) {
        if (timeoutMs <= 0) {
            throw new IllegalArgumentException("the header timeout must be positive, was " + timeoutMs);
        }
        this.scheduler = scheduler;
        this.timeoutMs = timeoutMs;
    }

    @Override
    public void onOpened(Connection connection) {
        new Watch(connection).arm();
    }

    /** Connections closed because their headers did not complete in time, since start. */
    public long closedCount() {
        return closed.sum();
    }

    /** One connection's looks; each look runs on the scheduler, one after the other. */
    private final class Watch {
        private final Connection connection;
        private long requestsSeen;
        private long bytesSeen;
        private boolean openAtLastLook;

        Watch(Connection connection) {
            this.connection = connection;
        }

        void arm() {
            scheduler.schedule(this::look, timeoutMs, TimeUnit.MILLISECONDS);
        }

        private void look() {
            EndPoint endPoint = connection.getEndPoint();
            if (!endPoint.isOpen() || endPoint.getConnection() != connection) {
                // Closed, or upgraded (a WebSocket keeps its own timeouts).
                return;
            }
            long requests = connection.getMessagesIn();
            long bytes = connection.getBytesIn();
            boolean open = requests > connection.getMessagesOut();
            boolean noHeadersYet = requests == 0;
            boolean trickling = !open && !openAtLastLook && requests == requestsSeen && bytes > bytesSeen;
            if (noHeadersYet || trickling) {
                closed.increment();
                LOG.debug("closing {}: no request headers completed within {} ms", endPoint.getRemoteSocketAddress(),
                        timeoutMs);
                endPoint.close();
                return;
            }
            requestsSeen = requests;
            bytesSeen = bytes;
            openAtLastLook = open;
            arm();
        }
    }
}
