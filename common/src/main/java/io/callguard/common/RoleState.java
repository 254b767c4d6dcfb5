package io.callguard.common;

import java.util.EnumSet;
import java.util.Set;

/**
 * The phases of a {@link Role}, as Kafka Streams' {@code KafkaStreams.State}: each phase names the phases it may
 * move to, and {@link RoleLifecycle#transitionTo} refuses any other move.
 *
 * <pre>
 * CREATED -> STARTING -> RUNNING -> (DRAINING ->) STOPPING -> STOPPED
 *    |          |  \        |                        ^
 *    |          |   +-> FAILED ----------------------+
 *    +----------+--------------------------------------+ (close before or during start)
 * </pre>
 */
public enum RoleState {
    /** Constructed; nothing runs yet. */
    CREATED,
    /** {@code start()} is under way. */
    STARTING,
    /** Started and working (it may still be getting ready, see {@link RoleHealth#ready()}). */
    RUNNING,
    /**
     * Handing its work over before a stop (the gateway's drain on SIGTERM): it takes no new work and finishes what
     * it holds; never ready. Only roles that stop taking work before their {@code close()} pass through it.
     */
    DRAINING,
    /** A part a restart would cure died (a stream thread, a poll thread); the liveness check fails. */
    FAILED,
    /** {@code close()} is under way. */
    STOPPING,
    /** Closed; final. */
    STOPPED;

    /** Whether a role in this phase may move to {@code next}. */
    public boolean canMoveTo(RoleState next) {
        return successors().contains(next);
    }

    private Set<RoleState> successors() {
        switch (this) {
            case CREATED:
                return EnumSet.of(STARTING, STOPPING);
            case STARTING:
                return EnumSet.of(RUNNING, FAILED, STOPPING);
            case RUNNING:
                return EnumSet.of(DRAINING, FAILED, STOPPING);
            case DRAINING:
                return EnumSet.of(FAILED, STOPPING);
            case FAILED:
                return EnumSet.of(STOPPING);
            case STOPPING:
                return EnumSet.of(STOPPED);
            default:
                return EnumSet.noneOf(RoleState.class);
        }
    }

    /** True in the phases where the role's threads may be working. */
    public boolean isAlive() {
        return this == STARTING || this == RUNNING || this == DRAINING;
    }
}
