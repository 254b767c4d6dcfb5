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
    void shouldTellAnOwedBeginsSocketIsAReconnectOnceTheCallStateShowsAnotherSocketOrTurns() {
        // Given a call whose state shows only this socket, no turn, no reconnect: a first open
        states.put("call-new", CallState.builder("call-new").status(CallStatus.ACTIVE).connectionId("conn-2").build());
        // And calls whose state shows an earlier socket, a counted reconnect, or turns
        states.put("call-behind", CallState.builder("call-behind").status(CallStatus.ACTIVE)
                .connectionId("conn-1").build());
        states.put("call-counted", CallState.builder("call-counted").status(CallStatus.ACTIVE)
                .connectionId("conn-2").reconnects(1).build());
        states.put("call-talked", CallState.builder("call-talked").status(CallStatus.ACTIVE)
                .connectionId("conn-2").latestResponseId(2L).build());
        // And a refused call that talked (its begin is the busy line, not an empty one)
        states.put("call-busy", CallState.builder("call-busy").status(CallStatus.REJECTED)
                .connectionId("conn-1").latestResponseId(2L).build());

        // Then
        assertThat(policy.knownReconnect("call-new", "conn-2")).isFalse();
        assertThat(policy.knownReconnect("call-unknown", "conn-2")).isFalse();
        assertThat(policy.knownReconnect("call-behind", "conn-2")).isTrue();
        assertThat(policy.knownReconnect("call-counted", "conn-2")).isTrue();
        assertThat(policy.knownReconnect("call-talked", "conn-2")).isTrue();
        assertThat(policy.knownReconnect("call-busy", "conn-2")).isFalse();
    }
}
