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
}
