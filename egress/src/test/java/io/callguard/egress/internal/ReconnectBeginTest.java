package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.egress.EgressMetrics;
import io.callguard.testkit.RecordingSocket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * An owed begin of a socket the edge took for a first open, learned to be a reconnect by the budget (call-state caught
 * up): completed empty, never bridged with the greeting.
 */
class ReconnectBeginTest {

    private static final String GREETING = "Hello! How can I help you today?";

    private final EdgeFixture fx = new EdgeFixture();
    /** The sockets the shared call state shows as reconnects, as {@code callId/connectionId}. */
    private final Set<String> reconnects = new HashSet<>();
    /** What the watchdog asked, as {@code callId/connectionId@openedAtMs}. */
    private final List<String> asked = new ArrayList<>();

    ReconnectBeginTest() {
        fx.edge.knownReconnects((callId, connectionId, openedAtMs) -> {
            asked.add(callId + "/" + connectionId + "@" + openedAtMs);
            return reconnects.contains(callId + "/" + connectionId);
        });
    }

    @Test
    void shouldCompleteALateBeginOfAKnownReconnectEmptyInsteadOfGreeting() {
        // Given a socket whose begin is owed to the pipeline, and which call-state shows as a reconnect by the budget
        RecordingSocket socket = fx.open("c2");
        fx.begin(socket);
        reconnects.add(CALL + "/c2");

        // When the budget passes with nothing from the pipeline, then its empty begin comes late
        fx.scheduler.advance(BUDGET_MS);
        TurnLedger.Outcome late = fx.deliver(answer(0, ""));
        fx.scheduler.advance(60_000);

        // Then the begin was completed empty at the budget, once, and the caller was not greeted
        assertThat(socket.frames()).containsExactly(begin("", true));
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
        assertThat(asked).containsExactly(CALL + "/c2@" + T0);
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldStillGreetALateBeginOfASocketNotKnownAsAReconnect() {
        // Given an owed begin of a first open
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When the budget passes
        fx.scheduler.advance(BUDGET_MS);

        // Then it is bridged with the greeting, as before, after the call state was asked about this socket
        assertThat(socket.frames()).containsExactly(begin(GREETING + " ", false));
        assertThat(asked).containsExactly(CALL + "/c1@" + T0);
    }

    @Test
    void shouldAskAboutTheSocketTheBeginWasOwedToWhenANewSocketTookItOver() {
        // Given a first socket whose begin is owed, and a second socket of the call (a reconnect to this node before
        // anything was said) that takes the owed begin over; the call state shows the second as a reconnect
        RecordingSocket first = fx.open("c1");
        fx.begin(first);
        fx.clock.advance(200);
        RecordingSocket second = fx.open("c2");
        fx.sayBegin(second, "", false);
        reconnects.add(CALL + "/c2");

        // When the budget passes with nothing from the pipeline
        fx.scheduler.advance(BUDGET_MS);

        // Then the call state was asked about the first socket, which was the call's first: the caller, who heard
        // nothing yet, is greeted on the second
        assertThat(asked).containsExactly(CALL + "/c1@" + T0);
        assertThat(second.frames()).containsExactly(begin(GREETING + " ", false));
    }

    @Test
    void shouldLeaveABeginThePipelineAnsweredInTimeAlone() {
        // Given an owed begin of a reconnect the pipeline answered (empty) before the budget
        RecordingSocket socket = fx.open("c2");
        fx.begin(socket);
        reconnects.add(CALL + "/c2");
        fx.deliver(answer(0, ""));

        // When the budget passes
        fx.scheduler.advance(60_000);

        // Then the pipeline's begin is the one complete frame
        assertThat(socket.frames()).containsExactly(begin("", true));
        assertThat(completes(socket)).isOne();
    }
}
