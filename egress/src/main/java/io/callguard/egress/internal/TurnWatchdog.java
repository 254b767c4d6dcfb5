package io.callguard.egress.internal;

import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The edge's own deadline per turn: at the turn's budget end, if no complete answer went out and the turn
 * is still the latest, the fallback is sent from here. It reads nothing from Kafka, so a stopped broker,
 * processor or responder still does not leave the caller in silence.
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

    /** Checks the turn at its deadline (at once when the deadline already passed). */
    public void watch(TurnLedger.TurnTicket ticket) {
        // Not cancelled when the turn completes or is superseded: the check is a no-op then, and a task lives
        // only one budget long.
        scheduler.schedule(() -> check(ticket), ticket.deadlineMs() - clock.millis(), TimeUnit.MILLISECONDS);
    }

    private void check(TurnLedger.TurnTicket ticket) {
        try {
            if (ledger.expire(ticket, clock.millis())) {
                LOG.info("edge fallback for call {} response_id {}: no complete answer within the budget",
                        ticket.callId(), ticket.responseId());
            }
        } catch (RuntimeException e) {
            LOG.error("watchdog check failed for call {} response_id {}", ticket.callId(), ticket.responseId(), e);
        }
    }
}
