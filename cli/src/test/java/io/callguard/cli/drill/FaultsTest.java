package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FaultsTest {

    @Test
    void shouldParseAKillAndRefuseWhatIsNotOne() {
        assertThat(Faults.Kill.parse("4242@10s")).isEqualTo(new Faults.Kill(4242, Duration.ofSeconds(10)));
        assertThat(Faults.Kill.parse("4242@1500ms").at()).isEqualTo(Duration.ofMillis(1500));
        assertThatThrownBy(() -> Faults.Kill.parse("4242")).hasMessageContaining("PID@TIME");
        assertThatThrownBy(() -> Faults.Kill.parse("x@1s")).hasMessageContaining("not a process id");
        assertThatThrownBy(() -> Faults.Kill.parse("1@1s")).hasMessageContaining("refusing");
        assertThatThrownBy(() -> Faults.Kill.parse(ProcessHandle.current().pid() + "@1s"))
                .hasMessageContaining("refusing");
    }

    @Test
    void shouldKillAProcessAndMeasureTheTimeToTheLastHurtTurnOfItsWindow() throws Exception {
        // Given a real child process, killed at once
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        Faults faults = new Faults(List.of(new Faults.Kill(sleeper.pid(), Duration.ZERO)));
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        long started = System.nanoTime();
        try {
            faults.schedule(scheduler, started);

            // Then the process dies of it
            assertThat(sleeper.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(sleeper.exitValue()).isEqualTo(137);
            // (the kill task records itself after the signal: let it finish before reading the outcomes)
            scheduler.shutdown();
            assertThat(scheduler.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            scheduler.shutdownNow();
        }
        // And of the turns asked after the kill, the last not answered whole sets the time to heal
        List<Faults.Outcome> outcomes = faults.outcomes(List.of(), started);
        assertThat(outcomes).hasSize(1);
        Faults.Outcome none = outcomes.get(0);
        assertThat(none.killed()).isTrue();
        assertThat(none.healSeconds()).isZero();

        long killedAt = started + (long) (none.atSeconds() * 1e9);
        long s = 1_000_000_000L;
        List<Faults.TurnMark> turns = List.of(new Faults.TurnMark(killedAt - s, false),
                new Faults.TurnMark(killedAt + s, false), new Faults.TurnMark(killedAt + 3 * s, false),
                new Faults.TurnMark(killedAt + 4 * s, true), new Faults.TurnMark(killedAt + 5 * s, true));
        Faults.Outcome hurt = faults.outcomes(turns, started).get(0);
        assertThat(hurt.turnsAfter()).isEqualTo(4);
        assertThat(hurt.hurtTurns()).isEqualTo(2);
        assertThat(hurt.healSeconds()).isBetween(2.99, 3.01);
    }
}
