package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The begin message a socket gets: busy line with end_call, a first open, or nothing for a reconnect. */
class GreetingPolicyTest {

    private static final String BUSY = "All lines are busy.";
    private final Map<String, CallState> states = new HashMap<>();
    private final GreetingPolicy policy = new GreetingPolicy(id -> Optional.ofNullable(states.get(id)), BUSY, 2);

    @Test
    void shouldGreetTheFirstOpenAndSayNothingOnAReconnect() {
        assertThat(policy.apply("call-1")).isEqualTo(GreetingPolicy.Begin.FIRST_OPEN);
        assertThat(policy.apply("call-1")).isEqualTo(new GreetingPolicy.Begin("", false));
    }

    @Test
    void shouldSayTheBusyLineToARejectedCallEveryTime() {
        states.put("call-busy", CallState.initial("call-busy", CallStatus.REJECTED, 0));

        assertThat(policy.apply("call-busy")).isEqualTo(new GreetingPolicy.Begin(BUSY, true));
        assertThat(policy.apply("call-busy")).isEqualTo(new GreetingPolicy.Begin(BUSY, true));
    }

    @Test
    void shouldNotGreetACallThatAlreadyHadTurnsEvenOnThisNodesFirstOpen() {
        states.put("call-moved", CallState.builder("call-moved").status(CallStatus.ACTIVE).latestResponseId(3L)
                .build());

        assertThat(policy.apply("call-moved")).isEqualTo(GreetingPolicy.Begin.RECONNECT);
    }

    @Test
    void shouldNotGreetACallWhoseSocketWasOpenedElsewhereEvenBeforeItsFirstTurn() {
        // Given call-state knows a socket of the call (opened on another edge node), and no turn yet
        states.put("call-elsewhere", CallState.builder("call-elsewhere").status(CallStatus.ACTIVE)
                .connectionId("conn-on-node-a").build());

        // Then its first socket here is a reconnect: an empty begin, not the greeting
        assertThat(policy.apply("call-elsewhere")).isEqualTo(GreetingPolicy.Begin.RECONNECT);
    }

    @Test
    void shouldForgetTheOldestCallsBeyondItsCapacity() {
        policy.apply("a");
        policy.apply("b");
        policy.apply("c");

        assertThat(policy.apply("a").firstOpen()).as("forgotten, so a first open again").isTrue();
        assertThat(policy.apply("c")).isEqualTo(GreetingPolicy.Begin.RECONNECT);
    }

    @Test
    void shouldTellAnOwedBeginsSocketIsAReconnectOnceTheCallStateShowsAnEarlierSocketOrTurns() {
        // Given sockets opened at t=1000 (conn-2), and call states as they may be by the budget
        // A first open: the state shows only this socket, no turn, no reconnect
        states.put("call-new", state("call-new", "conn-2", 1000L).build());
        // The state behind: an earlier socket is its current one
        states.put("call-behind", state("call-behind", "conn-1", 400L).build());
        // Caught up: this socket, after another one (a reconnect counted)
        states.put("call-counted", state("call-counted", "conn-2", 1000L).reconnects(1).build());
        // Turns were taken
        states.put("call-talked", state("call-talked", "conn-2", 1000L).latestResponseId(2L).build());
        // A later socket took over (this one, the first, was superseded): nothing known of one before it
        states.put("call-later", state("call-later", "conn-3", 1500L).reconnects(1).build());
        // A refused call that talked (its begin is the busy line, not an empty one)
        states.put("call-busy", state("call-busy", "conn-1", 400L).status(CallStatus.REJECTED).latestResponseId(2L)
                .build());

        // Then
        assertThat(policy.knownReconnect("call-new", "conn-2", 1000)).isFalse();
        assertThat(policy.knownReconnect("call-unknown", "conn-2", 1000)).isFalse();
        assertThat(policy.knownReconnect("call-behind", "conn-2", 1000)).isTrue();
        assertThat(policy.knownReconnect("call-counted", "conn-2", 1000)).isTrue();
        assertThat(policy.knownReconnect("call-talked", "conn-2", 1000)).isTrue();
        assertThat(policy.knownReconnect("call-later", "conn-2", 1000)).isFalse();
        assertThat(policy.knownReconnect("call-busy", "conn-2", 1000)).isFalse();
    }

    private static CallState.Builder state(String callId, String connectionId, long openedAtMs) {
        return CallState.builder(callId).status(CallStatus.ACTIVE).connectionId(connectionId)
                .socketOpenedAtMs(openedAtMs);
    }
}
