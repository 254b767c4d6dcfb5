package io.callguard.common;

import java.util.Objects;

/**
 * What a {@link Role} says about itself: its phase, whether it may take traffic now, and why not.
 *
 * @param role   the role's name
 * @param state  its phase
 * @param ready  true only when the role does its whole job now (readiness: {@code /readyz})
 * @param detail a short sentence for operators: what it is doing, or what is missing
 */
public record RoleHealth(String role, RoleState state, boolean ready, String detail) {

    public RoleHealth {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(detail, "detail");
        if (ready && state != RoleState.RUNNING) {
            throw new IllegalArgumentException("a role in " + state + " cannot be ready");
        }
    }

    /** Liveness ({@code /healthz}): false only when a restart would help. */
    public boolean live() {
        return state != RoleState.FAILED;
    }

    /** A health whose readiness follows from the phase alone: ready exactly when RUNNING. */
    public static RoleHealth of(String role, RoleState state, String detail) {
        return new RoleHealth(role, state, state == RoleState.RUNNING, detail);
    }
}
