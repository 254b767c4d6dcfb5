package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Topics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** An edge node's view of call-state: what a begin message needs, per live call, from the topic's own records. */
class CallStateViewTest {

    private static final Topics TOPICS = Topics.defaults();
    /** Never started here: the records are handed in as the poll loop would (that loop runs in the edge ITs). */
    private final CallStateView view = new CallStateView(TOPICS, () -> {
        throw new IllegalStateException("not started in these tests");
    });
    private final GreetingPolicy policy = new GreetingPolicy(view, "busy");

    private byte[] record(CallState state) {
        return TOPICS.callState().valueSerde().serializer().serialize(TOPICS.callState().name(), state);
    }

    @Test
    void shouldTellAReconnectFromAnotherNodeFromTheSharedStateAlone() throws Exception {
        // Given call-state says call-1 had a socket and a turn (on another node), call-2 only started
        view.accept("call-1", record(CallState.builder("call-1").status(CallStatus.ACTIVE).connectionId("conn-a")
                .socketOpenedAtMs(1234L).latestResponseId(2L).reconnects(1).agentId("agent-7").build()));
        view.accept("call-2", record(CallState.builder("call-2").status(CallStatus.ACTIVE).build()));

        // Then this node, which never saw either socket, greets call-2's first socket and not call-1's
        assertThat(policy.apply("call-1")).isEqualTo(GreetingPolicy.Begin.RECONNECT);
        assertThat(policy.apply("call-2")).isEqualTo(GreetingPolicy.Begin.FIRST_OPEN);
        // And only what the begin needs is kept
        assertThat(view.apply("call-1")).hasValueSatisfying(s -> {
            assertThat(s.status()).isEqualTo(CallStatus.ACTIVE);
            assertThat(s.connectionId()).isEqualTo("conn-a");
            assertThat(s.latestResponseId()).isEqualTo(2L);
            assertThat(s.reconnects()).isEqualTo(1L);
            assertThat(s.socketOpenedAtMs()).isEqualTo(1234L);
            assertThat(s.agentId()).isNull();
        });
    }

    @Test
    void shouldSayTheBusyLineToACallRefusedElsewhere() throws Exception {
        view.accept("call-busy", record(CallState.initial("call-busy", CallStatus.REJECTED, 0)));

        assertThat(policy.apply("call-busy")).isEqualTo(GreetingPolicy.Begin.busy("busy"));
    }

    @Test
    void shouldForgetEndedCallsAndTombstonesAndKeepTheLatestState() throws Exception {
        // Given two live calls
        view.accept("call-1", record(CallState.builder("call-1").status(CallStatus.QUEUED).build()));
        view.accept("call-2", record(CallState.builder("call-2").status(CallStatus.ACTIVE).build()));
        view.accept("call-1", record(CallState.builder("call-1").status(CallStatus.ACTIVE).connectionId("c").build()));

        // When one ends and the other is deleted
        view.accept("call-1", record(CallState.builder("call-1").status(CallStatus.ENDED).connectionId("c").build()));
        view.accept("call-2", null);

        // Then neither is kept
        assertThat(view.size()).isZero();
        assertThat(view.apply("call-1")).isEmpty();
    }

    @Test
    void shouldRefuseARecordThatIsNotACallStateAndKeepWhatItHad() throws Exception {
        view.accept("call-1", record(CallState.builder("call-1").status(CallStatus.ACTIVE).build()));

        assertThatThrownBy(() -> view.accept("call-1", "not json".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class);
        assertThat(view.apply("call-1")).isPresent();
    }
}
