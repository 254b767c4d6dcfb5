package io.callguard.egress.internal;

import io.callguard.egress.EgressMetrics;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The edge's view of call sockets: keeps each call's current socket (in the {@link TurnLedger}), lets a
 * reconnect supersede the old socket, and starts the watchdog for every requested turn. Idempotent: the
 * same socket opened or closed twice (a dial-out socket is reported by the dial-out client and again by the
 * ingress path its frames go through) counts once.
 */
public final class SocketRegistry implements EdgeListener {

    private static final Logger LOG = LoggerFactory.getLogger(SocketRegistry.class);

    private final TurnLedger ledger;
    private final TurnWatchdog watchdog;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final EgressMeters meters;
    private final int supersededCloseCode;
    private final long detachedRetentionMs;

    /**
     * @param supersededCloseCode close code for a socket replaced by a reconnect (never 1000)
     * @param detachedRetentionMs how long a closed call's turn state waits for a reconnect
     */
    public SocketRegistry(TurnLedger ledger, TurnWatchdog watchdog, ScheduledExecutorService scheduler, Clock clock,
                          EgressMeters meters, int supersededCloseCode, long detachedRetentionMs) {
        if (supersededCloseCode == 1000) {
            throw new IllegalArgumentException("supersededCloseCode must not be 1000: Retell reads it as hang-up");
        }
        this.ledger = ledger;
        this.watchdog = watchdog;
        this.scheduler = scheduler;
        this.clock = clock;
        this.meters = meters;
        this.supersededCloseCode = supersededCloseCode;
        this.detachedRetentionMs = detachedRetentionMs;
    }

    @Override
    public void socketOpened(CallSocket socket) {
        TurnLedger.Attached attached = ledger.attach(socket, clock.millis());
        if (attached.duplicate()) {
            return;
        }
        if (attached.reconnect()) {
            String mode = socket.dialledOut() ? EgressMetrics.MODE_DIAL_OUT : EgressMetrics.MODE_DIAL_IN;
            LOG.info("call {}: reconnected ({}) with socket {}", socket.callId(), mode, socket.connectionId());
            meters.reconnect(mode);
        }
        CallSocket previous = attached.previous();
        if (previous != null && previous.isOpen()) {
            LOG.info("call {}: socket {} supersedes {}", socket.callId(), socket.connectionId(),
                    previous.connectionId());
            previous.close(supersededCloseCode, "superseded by a newer socket for this call");
            meters.superseded();
        }
    }

    @Override
    public void socketClosed(CallSocket socket, int code, String reason) {
        long detachSeq = ledger.detach(socket);
        if (detachSeq >= 0) {
            String callId = socket.callId();
            scheduler.schedule(() -> ledger.evictIfDetached(callId, detachSeq), detachedRetentionMs,
                    TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void turnRequested(CallSocket socket, long responseId, long receivedAtMs) {
        TurnLedger.TurnTicket ticket = ledger.request(socket, responseId, receivedAtMs, clock.millis());
        if (ticket != null) {
            watchdog.watch(ticket);
        }
    }

    /** The begin message said now, through the ledger: turn 0's one complete frame on this socket. */
    @Override
    public void beginNow(CallSocket socket, String content, boolean endCall, long atMs) {
        if (!ledger.begin(socket, content, endCall, clock.millis())) {
            LOG.debug("call {}: begin message not written on socket {} (superseded, closed or owed already)",
                    socket.callId(), socket.connectionId());
        }
    }

    /** The begin message is the pipeline's: turn 0 is watched (bridged by the greeting) from {@code receivedAtMs}. */
    @Override
    public void beginRequested(CallSocket socket, long receivedAtMs) {
        TurnLedger.TurnTicket ticket = ledger.begin(socket, receivedAtMs);
        if (ticket != null) {
            watchdog.watchBegin(ticket, socket.connectionId(), receivedAtMs);
        }
    }

    /** The socket currently carrying the call on this node, if any. */
    public Optional<CallSocket> current(String callId) {
        return ledger.socket(callId);
    }
}
