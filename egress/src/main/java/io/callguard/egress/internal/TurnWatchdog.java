package io.callguard.egress.internal;

import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The edge's own deadlines per turn ({@link EdgeDeadlines}): at the budget, when nothing was said and the turn is
 * still the latest, a filler goes out from here; at the first-words deadline, a stall or the hard cap, the closing
 * line. It reads nothing from Kafka, so a stopped broker, processor or responder still does not leave the caller
 * in silence.
 */
public final class TurnWatchdog {

    private static final Logger LOG = LoggerFactory.getLogger(TurnWatchdog.class);

    private final TurnLedger ledger;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;

    public TurnWatchdog(TurnLedger ledger, ScheduledExecutorService scheduler, Clock clock) {
        this.ledger = ledger;
        this.scheduler = scheduler;
        this.clock = clock;
    }

    /** Checks the turn at its deadline (at once when the deadline already passed), and at each one after. */
    public void watch(TurnLedger.TurnTicket ticket) {
        // Not cancelled when the turn completes or is superseded: the check is a no-op then and schedules no more.
        scheduler.schedule(() -> check(ticket), ticket.deadlineMs() - clock.millis(), TimeUnit.MILLISECONDS);
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
