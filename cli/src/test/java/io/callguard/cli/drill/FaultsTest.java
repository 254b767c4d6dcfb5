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
        List<Faults.Outcome> outcomes = faults.outcomes(List.of(), List.of(), started);
        assertThat(outcomes).hasSize(1);
        Faults.Outcome none = outcomes.get(0);
        assertThat(none.killed()).isTrue();
        assertThat(none.healSeconds()).isZero();
        // (no turn was asked after it, so nothing shows that it healed)
        assertThat(none.healed()).isFalse();

        long killedAt = started + (long) (none.atSeconds() * 1e9);
        long s = 1_000_000_000L;
        List<Faults.TurnMark> turns = List.of(new Faults.TurnMark(killedAt - s, Heard.BRIDGED),
                new Faults.TurnMark(killedAt + s, Heard.BRIDGED), new Faults.TurnMark(killedAt + 3 * s, Heard.BRIDGED),
                new Faults.TurnMark(killedAt + 4 * s, Heard.WHOLE), new Faults.TurnMark(killedAt + 5 * s, Heard.WHOLE));
        Faults.Outcome hurt = faults.outcomes(turns, List.of(), started).get(0);
        assertThat(hurt.turnsAfter()).isEqualTo(4);
        assertThat(hurt.hurtTurns()).isEqualTo(2);
        assertThat(hurt.healSeconds()).isBetween(2.99, 3.01);
        // (the last turn came 2 s after the last hurt one: not the 5 s of whole answers that make it healed)
        assertThat(hurt.healed()).isFalse();
    }

    @Test
    void shouldHealAtTheLastHurtTurnBeforeFiveSecondsOfWholeAnswersAndCountLaterHurtTurnsApart() {
        // Given a fault whose turns, one every 500 ms for 30 s, were hurt at 0.5, 1 and 2 s, then whole, and hurt
        // again once at 15 s (a restart of what was killed, say)
        long started = System.nanoTime();
        Faults faults = oneKillAt(started, Faults.HealOn.WHOLE);
        long ms = 1_000_000L;
        List<Faults.TurnMark> turns = new java.util.ArrayList<>();
        for (long t = 500; t <= 30_000; t += 500) {
            boolean hurt = t == 500 || t == 1_000 || t == 2_000 || t == 15_000;
            turns.add(new Faults.TurnMark(started + t * ms, hurt ? (t == 15_000 ? Heard.CLOSING_ONLY : Heard.BRIDGED)
                    : Heard.WHOLE));
        }

        // When its outcome is judged
        Faults.Outcome outcome = faults.outcomes(turns, List.of(), started).get(0);

        // Then it healed at 2 s, and the hurt turn at 15 s is counted as later, not as part of the heal
        assertThat(outcome.healed()).isTrue();
        assertThat(outcome.healSeconds()).isBetween(1.99, 2.01);
        assertThat(outcome.hurtTurns()).isEqualTo(4);
        assertThat(outcome.hurtLater()).isEqualTo(1);
        assertThat(outcome.turnsAfter()).isEqualTo(60);
    }

    @Test
    void shouldHealAtOnceWhenTheFirstFiveSecondsAfterTheKillWereWhole() {
        // Given turns whole for 6 s after a kill, then one hurt
        long started = System.nanoTime();
        Faults faults = oneKillAt(started, Faults.HealOn.WHOLE);
        long s = 1_000_000_000L;
        List<Faults.TurnMark> turns = List.of(new Faults.TurnMark(started + s, Heard.WHOLE),
                new Faults.TurnMark(started + 3 * s, Heard.WHOLE), new Faults.TurnMark(started + 6 * s, Heard.WHOLE),
                new Faults.TurnMark(started + 7 * s, Heard.SILENT));

        // Then the fault healed at once, and the silent turn is a later one
        Faults.Outcome outcome = faults.outcomes(turns, List.of(), started).get(0);
        assertThat(outcome.healed()).isTrue();
        assertThat(outcome.healSeconds()).isZero();
        assertThat(outcome.hurtLater()).isEqualTo(1);
    }

    @Test
    void shouldTimeTheSocketsCutInTheFirstFiveSecondsAfterAKill() {
        // Given a kill at 0, sockets cut 300, 400 and 700 ms after it, one cut before it and one 6 s after it
        long started = System.nanoTime();
        Faults faults = oneKillAt(started, Faults.HealOn.WHOLE);
        long ms = 1_000_000L;
        List<Long> cuts = List.of(started - 100 * ms, started + 700 * ms, started + 300 * ms, started + 400 * ms,
                started + 6_000 * ms);

        // When its outcome is judged
        Faults.Outcome outcome = faults.outcomes(List.of(), cuts, started).get(0);

        // Then the three cuts in its first 5 s count, timed from the kill
        assertThat(outcome.socketsCut()).isEqualTo(3);
        assertThat(outcome.cutMedianMs()).isBetween(399.9, 400.1);
        assertThat(outcome.cutMaxMs()).isBetween(699.9, 700.1);
        // And a fault with no socket cut has no times
        Faults.Outcome quiet = faults.outcomes(List.of(), List.of(), started).get(0);
        assertThat(quiet.socketsCut()).isZero();
        assertThat(quiet.cutMedianMs()).isNaN();
    }

    @Test
    void shouldCountOnlyTurnsTheAgentDidNotAnswerAsHurtWhenHealingOnAnswered() {
        // Given a kill, then turns every 500 ms for 12 s: closing lines only at 0.5 and 1 s (the fault), and a
        // bridged turn every 2 s throughout (a slow backend's natural fillers)
        long started = System.nanoTime();
        long ms = 1_000_000L;
        List<Faults.TurnMark> turns = new java.util.ArrayList<>();
        for (long t = 500; t <= 12_000; t += 500) {
            Heard heard = t <= 1_000 ? Heard.CLOSING_ONLY : t % 2_000 == 0 ? Heard.BRIDGED : Heard.WHOLE;
            turns.add(new Faults.TurnMark(started + t * ms, heard));
        }
        Faults answered = oneKillAt(started, Faults.HealOn.ANSWERED);
        Faults whole = oneKillAt(started, Faults.HealOn.WHOLE);

        // When both judge it
        Faults.Outcome byAnswers = answered.outcomes(turns, List.of(), started).get(0);
        Faults.Outcome byWhole = whole.outcomes(turns, List.of(), started).get(0);

        // Then healing on answered turns, it healed at 1 s with the two closing lines hurt
        assertThat(byAnswers.healed()).isTrue();
        assertThat(byAnswers.healSeconds()).isBetween(0.99, 1.01);
        assertThat(byAnswers.hurtTurns()).isEqualTo(2);
        assertThat(byAnswers.healOn()).isEqualTo(Faults.HealOn.ANSWERED);
        // And healing on whole turns, the natural fillers keep it from ever healing
        assertThat(byWhole.healed()).isFalse();
        assertThat(byWhole.hurtTurns()).isEqualTo(8);
        // And the option parses both names and refuses others
        assertThat(Faults.HealOn.parse("answered")).isEqualTo(Faults.HealOn.ANSWERED);
        assertThat(Faults.HealOn.parse("whole")).isEqualTo(Faults.HealOn.WHOLE);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Faults.HealOn.parse("bridged"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--heal-on");
    }

    @Test
    void shouldDescribeTheTurnsInTheTenSecondsBeforeAKillAndEachFiveSecondsAfterIt() {
        // Given a turn a second from 10 s before a kill to 19 s after it, answered in 500 ms; after it, the turns of
        // its first 5 s bridged and answered in 3 s
        long killedAt = System.nanoTime();
        Faults faults = oneKillAt(killedAt, Faults.HealOn.ANSWERED);
        long s = 1_000_000_000L;
        List<Faults.TurnMark> turns = new java.util.ArrayList<>();
        for (long t = -10; t < 20; t++) {
            boolean hurt = t >= 0 && t < 5;
            turns.add(new Faults.TurnMark(killedAt + t * s, hurt ? Heard.BRIDGED : Heard.WHOLE,
                    hurt ? 3 * s : s / 2));
        }

        // When its outcome is judged
        List<Faults.Window> around = faults.outcomes(turns, List.of(), killedAt - 20 * s).get(0).around();

        // Then the stretches before and after it show the fault's rise and its end
        assertThat(around).extracting(Faults.Window::label).containsExactly("10 s before", "0-5 s after",
                "5-10 s after", "10-15 s after", "15-20 s after");
        assertThat(around).extracting(Faults.Window::asked).containsExactly(10L, 5L, 5L, 5L, 5L);
        assertThat(around).extracting(Faults.Window::hurt).containsExactly(0L, 5L, 0L, 0L, 0L);
        assertThat(around.get(0).answerP90Ms()).isBetween(499.9, 500.1);
        assertThat(around.get(1).answerP90Ms()).isBetween(2_999.9, 3_000.1);
    }

    /** The faults of one kill of a made-up process at {@code atNanos}, judged by {@code healOn}. */
    private static Faults oneKillAt(long atNanos, Faults.HealOn healOn) {
        Faults faults = new Faults(List.of(new Faults.Kill(4242, Duration.ZERO)), healOn);
        faults.recordKill(atNanos, true);
        return faults;
    }
}
