package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.egress.EgressConfig;
import io.callguard.egress.EgressMetrics;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The begin message owed by the agent ({@code EdgeListener.beginRequested}): bridged by the greeting. */
class BeginMessageTest {

    private static final String GREETING = "Hello! How can I help you today? ";

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldBridgeALateBeginWithTheGreetingAndLetTheAgentContinueAndCompleteIt() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When the budget passes, then the agent's begin arrives in two chunks
        fx.scheduler.advance(BUDGET_MS - 1);
        int framesBeforeBudget = socket.frames().size();
        fx.scheduler.advance(1);
        fx.deliver(chunk(0, 0, "This is Ada ", false, ResponseKind.GENERATED));
        fx.deliver(chunk(0, 1, "from Acme.", true, ResponseKind.GENERATED));
        fx.scheduler.advance(60_000);

        // Then
        assertThat(framesBeforeBudget).isZero();
        assertThat(socket.frames()).containsExactly(begin(GREETING, false), begin("This is Ada ", false),
                begin("from Acme.", true));
        assertThat(fx.counter(EgressMetrics.FALLBACKS, EgressMetrics.TAG_REASON, "edge_timeout")).isZero();
    }

    @Test
    void shouldBridgeTheBeginOfACallNotKnownAdmittedWithANeutralFillerNotTheGreeting() {
        // Given an edge that knows only call-1 admitted, and begins owed for a queued and a refused call
        java.util.Set<String> admitted = java.util.concurrent.ConcurrentHashMap.newKeySet();
        admitted.add(CALL);
        fx.edge.ledger().admissionFrom(admitted::contains);
        RecordingSocket queued = fx.open("call-q", "q1");
        RecordingSocket refused = fx.open("call-r", "r1");
        RecordingSocket active = fx.open("a1");
        fx.begin(queued);
        fx.begin(refused);
        fx.begin(active);

        // When the budget passes before the pipeline's answers, which then come: the hold line, the busy line
        fx.scheduler.advance(BUDGET_MS);
        fx.deliver(chunk("call-q", 0, 0, "Please hold.", true, ResponseKind.HOLD));
        fx.deliver(chunk("call-r", 0, 0, "Every line is busy.", true, ResponseKind.BUSY)
                .withActions(true, null, null, null));
        fx.scheduler.advance(60_000);

        // Then the queued and refused callers heard a filler that commits to nothing, never the agent's greeting
        assertThat(queued.frames()).containsExactly(begin(FILLER, false), begin("Please hold.", true));
        assertThat(refused.frames()).containsExactly(begin(FILLER, false),
                "{\"response_type\":\"response\",\"response_id\":0,\"content\":\"Every line is busy.\","
                        + "\"content_complete\":true,\"end_call\":true}");
        // And the admitted call is greeted as before
        assertThat(active.frames()).startsWith(begin(GREETING, false));
    }

    @Test
    void shouldSayTheAgentsBeginAsItIsWhenItComesBeforeTheBudget() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When
        fx.scheduler.advance(BUDGET_MS - 1);
        fx.deliver(answer(0, "Hi, this is Ada."));
        fx.scheduler.advance(60_000);

        // Then
        assertThat(socket.frames()).containsExactly(begin("Hi, this is Ada.", true));
    }

    @Test
    void shouldCompleteTheBeginWithNothingMoreAtTheFirstWordsDeadline() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When the agent's begin never comes, then comes too late
        fx.scheduler.advance(FIRST_WORDS_MS);
        TurnLedger.Outcome late = fx.deliver(answer(0, "Hi, this is Ada."));

        // Then the greeting, then an empty complete frame: no closing line
        assertThat(socket.frames()).containsExactly(begin(GREETING, false), begin("", true));
        assertThat(late).isEqualTo(TurnLedger.Outcome.AFTER_COMPLETE);
    }

    @Test
    void shouldLetARequestSupersedeTheBegin() {
        // Given
        RecordingSocket socket = fx.open("c1");
        fx.begin(socket);

        // When the caller speaks first
        fx.clock.advance(200);
        fx.request(socket, 1);
        TurnLedger.Outcome stale = fx.deliver(answer(0, "Hi, this is Ada."));
        fx.deliver(answer(1, "Sure."));
        fx.scheduler.advance(60_000);

        // Then turn 0 is neither bridged nor completed at the edge
        assertThat(stale).isEqualTo(TurnLedger.Outcome.STALE);
        assertThat(socket.frames()).containsExactly(
                "{\"response_type\":\"response\",\"response_id\":1,\"content\":\"Sure.\",\"content_complete\":true}");
    }

    @Test
    void shouldSayNothingAtTheBudgetWhenTheGreetingIsEmpty() {
        // Given an edge whose greeting is empty (the caller speaks first)
        EdgeDeadlines quiet = new EdgeDeadlines(BUDGET_MS, FIRST_WORDS_MS, STALL_MS, MAX_ANSWER_MS,
                List.of("One moment."), FALLBACK, "");
        EdgeFixture edge = new EdgeFixture(quiet);
        RecordingSocket socket = edge.open("c1");
        edge.begin(socket);

        // When
        edge.scheduler.advance(FIRST_WORDS_MS - 1);
        int framesBeforeDeadline = socket.frames().size();
        edge.scheduler.advance(1);

        // Then
        assertThat(framesBeforeDeadline).isZero();
        assertThat(socket.frames()).containsExactly(begin("", true));
    }

    @Test
    void shouldReadTheGreetingFromTheIngressKey() {
        // When / Then
        assertThat(new EgressConfig(Map.of()).socketGreeting()).isEqualTo("Hello! How can I help you today?");
        assertThat(new EgressConfig(Map.of("socket.greeting", "Hi there.")).socketGreeting()).isEqualTo("Hi there.");
        assertThat(new EgressConfig(Map.of("socket.greeting", "")).socketGreeting()).isEmpty();
    }
}
