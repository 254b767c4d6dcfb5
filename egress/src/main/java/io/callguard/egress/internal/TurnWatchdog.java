package io.callguard.egress.internal;

import java.time.Clock;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The edge's own deadlines per turn ({@link EdgeDeadlines}): at the budget, when nothing was said and the turn is
 * still the latest, a filler goes out from here; at the first-words deadline, a stall or the hard cap, the closing
 * line. It reads nothing from Kafka, so a stopped broker, processor or responder still does not leave the caller
 * in silence.
 *
 * <p>A begin message owed to the pipeline ({@code response_id} 0) that nothing was said of by its budget is asked
 * about first ({@link #knownReconnects}): when the shared call state shows by then that its socket is a reconnect (the
 * edge could not tell at the open: call-state was behind), it is completed empty, as the responder answers a
 * reconnect's begin, and never bridged with the greeting.
 */
public final class TurnWatchdog {

    private static final Logger LOG = LoggerFactory.getLogger(TurnWatchdog.class);

    private final TurnLedger ledger;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private volatile KnownReconnects knownReconnects = KnownReconnects.NONE;

    public TurnWatchdog(TurnLedger ledger, ScheduledExecutorService scheduler, Clock clock) {
        this.ledger = ledger;
        this.scheduler = scheduler;
        this.clock = clock;
    }

    /**
     * Sets how an owed begin's socket is told to be a reconnect from the shared call state; by default none is. Asked
     * on a watchdog thread, once per owed begin, at its budget.
     */
    public void knownReconnects(KnownReconnects knownReconnects) {
        this.knownReconnects = Objects.requireNonNull(knownReconnects, "knownReconnects");
    }

    /** Checks the turn at its deadline (at once when the deadline already passed), and at each one after. */
    public void watch(TurnLedger.TurnTicket ticket) {
        // Not cancelled when the turn completes or is superseded: the check is a no-op then and schedules no more.
        scheduler.schedule(() -> check(ticket), ticket.deadlineMs() - clock.millis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Watches the begin message owed to socket {@code connectionId}, opened at {@code openedAtMs}: at its budget, a
     * begin the call state shows by then to be a reconnect's is completed empty; otherwise it is checked as any turn.
     */
    public void watchBegin(TurnLedger.TurnTicket ticket, String connectionId, long openedAtMs) {
        scheduler.schedule(() -> {
            try {
                if (!knownReconnects.test(ticket.callId(), connectionId, openedAtMs)
                        || !ledger.completeBeginEmpty(ticket, clock.millis())) {
                    check(ticket);
                    return;
                }
                LOG.debug("call {}: the begin owed to socket {} is a reconnect's: completed empty, not bridged with "
                        + "the greeting", ticket.callId(), connectionId);
            } catch (RuntimeException e) {
                LOG.error("watchdog check failed for the begin of call {}", ticket.callId(), e);
            }
        }, ticket.deadlineMs() - clock.millis(), TimeUnit.MILLISECONDS);
    }

    private void check(TurnLedger.TurnTicket ticket) {
        try {
            long next = ledger.check(ticket, clock.millis());
            if (next >= 0) {
                watch(ticket.at(next));
            }
        } catch (RuntimeException e) {
            LOG.error("watchdog check failed for call {} response_id {}", ticket.callId(), ticket.responseId(), e);
        }
    }
}
