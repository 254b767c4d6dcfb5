package io.callguard.common;

import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The phase of one {@link Role}, with one transition method, as resilience4j's breaker keeps its state machine:
 * a role holds one of these instead of started/closed/running flags. Thread-safe.
 */
public final class RoleLifecycle {

    private static final Logger LOG = LoggerFactory.getLogger(RoleLifecycle.class);

    private final String role;
    private RoleState state = RoleState.CREATED;

    public RoleLifecycle(String role) {
        this.role = Objects.requireNonNull(role, "role");
    }

    /** The role's name. */
    public String role() {
        return role;
    }

    public synchronized RoleState state() {
        return state;
    }

    /**
     * Moves to {@code next}.
     *
     * @throws IllegalStateException when {@code next} is not a successor of the current phase
     */
    public synchronized void transitionTo(RoleState next) {
        if (!state.canMoveTo(next)) {
            throw new IllegalStateException(role + " cannot move from " + state + " to " + next);
        }
        LOG.debug("{}: {} -> {}", role, state, next);
        state = next;
    }

    /**
     * Moves to STARTING for {@code start()}.
     *
     * @throws IllegalStateException when the role was already started or closed
     */
    public synchronized void starting() {
        if (state != RoleState.CREATED) {
            throw new IllegalStateException(role + " was already " + (state == RoleState.STOPPING
                    || state == RoleState.STOPPED ? "closed" : "started") + " (" + state + "); create a new one");
        }
        transitionTo(RoleState.STARTING);
    }

    /**
     * Moves to STOPPING for {@code close()}.
     *
     * @return false when the role is already stopping or stopped: the caller has nothing to do
     */
    public synchronized boolean stopping() {
        if (state == RoleState.STOPPING || state == RoleState.STOPPED) {
            return false;
        }
        transitionTo(RoleState.STOPPING);
        return true;
    }

    /**
     * The phase now, after moving a RUNNING role to FAILED when {@code worker}, the thread it runs on, died: for
     * {@code health()}, so a role whose loop ended by itself says so.
     */
    public synchronized RoleState checkWorker(Thread worker) {
        if (state == RoleState.RUNNING && worker != null && !worker.isAlive()) {
            failed();
        }
        return state;
    }

    /**
     * Moves to DRAINING, from RUNNING only.
     *
     * @return false when the role is not RUNNING (never started, failed, already draining or stopping): the caller
     *         has nothing to hand over
     */
    public synchronized boolean draining() {
        if (state != RoleState.RUNNING) {
            return false;
        }
        transitionTo(RoleState.DRAINING);
        return true;
    }

    /** Moves to FAILED unless the role is already failed, stopping or stopped. */
    public synchronized void failed() {
        if (state.canMoveTo(RoleState.FAILED)) {
            transitionTo(RoleState.FAILED);
        }
    }
}
