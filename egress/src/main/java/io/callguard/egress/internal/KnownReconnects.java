package io.callguard.egress.internal;

/**
 * Whether a socket whose begin message is owed to the pipeline is, by the shared call state, not its call's first
 * (the edge could not tell at its open); asked by the watchdog before it would bridge that begin with the greeting.
 */
@FunctionalInterface
public interface KnownReconnects {

    /** None is known: every owed begin is bridged with the greeting. */
    KnownReconnects NONE = (callId, connectionId, openedAtMs) -> false;

    /**
     * @param connectionId the socket the begin is owed to
     * @param openedAtMs   when it opened (edge receipt time)
     */
    boolean test(String callId, String connectionId, long openedAtMs);
}
