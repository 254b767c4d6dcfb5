package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SimulatedCallTest {

    @Test
    void shouldAskTheFirstTurnAtTheCallsPhaseAfterAtLeastOneInterval() {
        // Socket opened 130 ms after the epoch, phase 500 ms: first turn at 1500 ms from the epoch
        assertThat(130 + SimulatedCall.firstTurnDelayMs(1_000, 500, 130)).isEqualTo(1_500);
        // Socket opened past the phase within the interval: the next interval's phase
        assertThat(730 + SimulatedCall.firstTurnDelayMs(1_000, 500, 730)).isEqualTo(2_500);
        // Socket opened exactly on the phase, several intervals late
        assertThat(SimulatedCall.firstTurnDelayMs(1_000, 200, 3_200)).isEqualTo(1_000);
    }

    @Test
    void shouldSpreadCallsOpenedTogetherOverTheInterval() {
        // Ten calls whose sockets all opened at 2,000 ms ask at ten different offsets, 100 ms apart
        long[] offsets = new long[10];
        for (int i = 0; i < 10; i++) {
            offsets[i] = (2_000 + SimulatedCall.firstTurnDelayMs(1_000, 1_000L * i / 10, 2_000)) % 1_000;
        }
        assertThat(offsets).containsExactly(0, 100, 200, 300, 400, 500, 600, 700, 800, 900);
    }

    @Test
    void shouldTellAnAnswerForAnotherTurnOrCallFromOneCutShort() {
        // An answer naming this call and turn, with or without the ending's words, is this turn's
        assertThat(SimulatedCall.misrouted("You said: call c-1 turn 25", "c-1", 25)).isFalse();
        assertThat(SimulatedCall.misrouted("One moment. You said: call c-1 turn 25 goodbye", "c-1", 25)).isFalse();
        // Another turn's, another call's: misrouted
        assertThat(SimulatedCall.misrouted("You said: call c-1 turn 24", "c-1", 25)).isTrue();
        assertThat(SimulatedCall.misrouted("You said: call c-12 turn 25", "c-1", 25)).isTrue();
        assertThat(SimulatedCall.misrouted("You said: call c-1 turn 25You said: call c-1 turn 26", "c-1", 25)).isTrue();
        // Cut short when its node died mid-stream, then the new node's filler and closing line: truncated, not
        // misrouted (what ClusterChaosIT first counted as misrouted)
        assertThat(SimulatedCall.misrouted("You said: call c-1 turn One moment. Sorry, one moment please.", "c-1", 25))
                .isFalse();
    }
}
