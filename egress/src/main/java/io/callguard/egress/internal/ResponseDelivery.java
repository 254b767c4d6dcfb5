package io.callguard.egress.internal;

import io.callguard.schemas.AgentResponse;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers answers read from the responses topic onto the call's socket, when this node holds it, under
 * the {@link TurnLedger} rules. Drops are normal (another node holds the call, a newer turn superseded the
 * answer): they are counted, not logged above debug.
 */
public final class ResponseDelivery {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseDelivery.class);

    private final TurnLedger ledger;
    private final TurnWatchdog watchdog;
    private final Clock clock;

    public ResponseDelivery(TurnLedger ledger, TurnWatchdog watchdog, Clock clock) {
        this.ledger = ledger;
        this.watchdog = watchdog;
        this.clock = clock;
    }

    /** Delivers one answer or chunk; never blocks. */
    public TurnLedger.Outcome deliver(AgentResponse response) {
        TurnLedger.Delivered delivered = ledger.deliver(response, clock.millis());
        if (delivered.opened() != null) {
            watchdog.watch(delivered.opened());
        }
        if (LOG.isDebugEnabled() && delivered.outcome() != TurnLedger.Outcome.SENT) {
            LOG.debug("response for call {} response_id {} chunk {}: {}", response.callId(), response.responseId(),
                    response.chunkIndex(), delivered.outcome());
        }
        return delivered.outcome();
    }
}
