package io.callguard.egress.internal;

import io.callguard.egress.EgressConfig;
import io.callguard.egress.EgressMetrics;
import io.micrometer.core.instrument.Gauge;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The turn path at the edge, wired: ledger, socket registry, watchdog and response delivery sharing one
 * scheduler and clock. Free of Kafka and Jetty, so it is tested with a manual clock.
 */
public final class EdgeDelivery {

    private final TurnLedger ledger;
    private final SocketRegistry registry;
    private final ResponseDelivery delivery;
    private final TurnWatchdog watchdog;

    /** @param deadlines the watchdog's deadlines, fillers and closing line */
    public EdgeDelivery(EgressConfig config, EdgeDeadlines deadlines, ScheduledExecutorService scheduler, Clock clock,
                        EgressMeters meters) {
        this.ledger = new TurnLedger(deadlines, meters);
        this.watchdog = new TurnWatchdog(ledger, scheduler, clock);
        this.registry = new SocketRegistry(ledger, watchdog, scheduler, clock, meters, config.supersededCloseCode(),
                config.detachedRetentionMs());
        this.delivery = new ResponseDelivery(ledger, watchdog, clock);
        Gauge.builder(EgressMetrics.SOCKET_CONNECTIONS, ledger, TurnLedger::attachedCount)
                .description("Call sockets held by this edge node").register(meters.registry());
    }

    /** See {@link TurnWatchdog#knownReconnects}. */
    public void knownReconnects(KnownReconnects knownReconnects) {
        watchdog.knownReconnects(knownReconnects);
    }

    public TurnLedger ledger() {
        return ledger;
    }

    public SocketRegistry registry() {
        return registry;
    }

    public ResponseDelivery delivery() {
        return delivery;
    }
}
