package io.callguard.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The one state machine every role keeps: its legal moves, and the refusals a role relies on. */
class RoleLifecycleTest {

    @Test
    void shouldWalkTheHappyPathFromCreatedToStopped() {
        // Given
        RoleLifecycle lifecycle = new RoleLifecycle("egress");
        assertThat(lifecycle.state()).isEqualTo(RoleState.CREATED);

        // When / Then
        lifecycle.starting();
        assertThat(lifecycle.state()).isEqualTo(RoleState.STARTING);
        lifecycle.transitionTo(RoleState.RUNNING);
        assertThat(lifecycle.state()).isEqualTo(RoleState.RUNNING);
        assertThat(lifecycle.stopping()).isTrue();
        assertThat(lifecycle.state()).isEqualTo(RoleState.STOPPING);
        lifecycle.transitionTo(RoleState.STOPPED);
        assertThat(lifecycle.state()).isEqualTo(RoleState.STOPPED);
    }

    @Test
    void shouldRefuseASecondStartAndAStartAfterClose() {
        // Given
        RoleLifecycle started = new RoleLifecycle("processor");
        started.starting();
        RoleLifecycle closed = new RoleLifecycle("responder");
        closed.stopping();
        closed.transitionTo(RoleState.STOPPED);

        // Then
        assertThatThrownBy(started::starting).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("processor").hasMessageContaining("started");
        assertThatThrownBy(closed::starting).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void shouldStopOnceWithOrWithoutStart() {
        // Given
        RoleLifecycle lifecycle = new RoleLifecycle("ingress");

        // When / Then: close without start is legal, and the second close has nothing to do
        assertThat(lifecycle.stopping()).isTrue();
        lifecycle.transitionTo(RoleState.STOPPED);
        assertThat(lifecycle.stopping()).isFalse();
        assertThat(lifecycle.state()).isEqualTo(RoleState.STOPPED);
    }

    @Test
    void shouldFailOnlyFromALivePhaseAndStillStopAfterwards() {
        // Given
        RoleLifecycle lifecycle = new RoleLifecycle("responder");
        lifecycle.failed();
        assertThat(lifecycle.state()).as("a created role cannot fail").isEqualTo(RoleState.CREATED);
        lifecycle.starting();
        lifecycle.transitionTo(RoleState.RUNNING);

        // When
        lifecycle.failed();
        lifecycle.failed();

        // Then
        assertThat(lifecycle.state()).isEqualTo(RoleState.FAILED);
        assertThatThrownBy(() -> lifecycle.transitionTo(RoleState.RUNNING)).isInstanceOf(IllegalStateException.class);
        assertThat(lifecycle.stopping()).isTrue();
        lifecycle.failed();
        assertThat(lifecycle.state()).isEqualTo(RoleState.STOPPING);
    }

    @Test
    void shouldDrainOnlyWhenRunningThenStillStop() {
        // Given a role that never started, and one running
        RoleLifecycle created = new RoleLifecycle("responder");
        RoleLifecycle running = new RoleLifecycle("responder");
        running.starting();
        running.transitionTo(RoleState.RUNNING);

        // When / Then: only the running one drains, once; it can fail while draining, and stops afterwards
        assertThat(created.draining()).isFalse();
        assertThat(created.state()).isEqualTo(RoleState.CREATED);
        assertThat(running.draining()).isTrue();
        assertThat(running.state()).isEqualTo(RoleState.DRAINING);
        assertThat(running.draining()).isFalse();
        assertThat(RoleHealth.of("responder", RoleState.DRAINING, "handing over").ready()).isFalse();
        assertThat(RoleState.DRAINING.isAlive()).isTrue();
        assertThatThrownBy(() -> running.transitionTo(RoleState.RUNNING)).isInstanceOf(IllegalStateException.class);
        assertThat(running.stopping()).isTrue();
        assertThat(running.state()).isEqualTo(RoleState.STOPPING);
    }

    @Test
    void shouldBeReadyOnlyWhenRunningAndLiveUnlessFailed() {
        assertThat(RoleHealth.of("egress", RoleState.RUNNING, "ok").ready()).isTrue();
        assertThat(RoleHealth.of("egress", RoleState.STARTING, "starting").ready()).isFalse();
        assertThat(RoleHealth.of("egress", RoleState.STOPPED, "stopped").live()).isTrue();
        assertThat(RoleHealth.of("egress", RoleState.FAILED, "dead").live()).isFalse();
        assertThatThrownBy(() -> new RoleHealth("egress", RoleState.FAILED, true, "?"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
