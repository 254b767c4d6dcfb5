package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.egress.EgressMetrics;
import io.callguard.retell.socket.CallSocket;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RecordingSocket;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * A draining node hands each call over between two turns: never mid-answer unless its time is up, and not in the
 * moment right after an answer, while the other nodes may still be reading it.
 */
class DrainTest {

    private static final long SETTLE_MS = 250;

    private final EdgeFixture fx = new EdgeFixture();

    private CompletableFuture<Void> drain() {
        return fx.edge.ledger().drain(CallSocket::abort, SETTLE_MS, fx.clock.millis());
    }

    /** Time passes; the egress sweeps the settled calls meanwhile. */
    private void advance(long ms) {
        fx.scheduler.advance(ms);
        fx.edge.ledger().handOverSettled(fx.clock.millis());
    }

    @Test
    void shouldDropIdleSocketsAtOnceAndABusyOneOnlyOnceItsAnswerSettled() {
        // Given a call answered a while ago, a call greeted a while ago, a call asked nothing, and a call whose answer
        // is streaming
        RecordingSocket answered = fx.open("call-answered", "a");
        fx.request(answered, 1);
        fx.deliver(chunk("call-answered", 1, 0, "Done.", true, ResponseKind.GENERATED));
        RecordingSocket greeted = fx.open("call-greeted", "g");
        fx.sayBegin(greeted, "Hello!", false);
        fx.clock.advance(SETTLE_MS);
        RecordingSocket silent = fx.open("call-silent", "n");
        RecordingSocket streaming = fx.open("call-streaming", "s");
        fx.request(streaming, 4);
        fx.deliver(chunk("call-streaming", 4, 0, "Your order ", false, ResponseKind.GENERATED));

        // When the node drains
        CompletableFuture<Void> drained = drain();

        // Then the idle ones are dropped at once (no close frame), the streaming one is left to finish
        assertThat(answered.aborted()).isTrue();
        assertThat(greeted.aborted()).isTrue();
        assertThat(silent.aborted()).isTrue();
        assertThat(streaming.isOpen()).isTrue();
        assertThat(drained).isNotDone();

        // When the rest of its answer arrives
        fx.deliver(chunk("call-streaming", 4, 1, "ships today.", true, ResponseKind.GENERATED));

        // Then the whole answer went out, and the socket is kept for the settle time, then dropped: the drain is done
        assertThat(parsed(streaming)).extracting(f -> f.get("content").asText() + "|" + f.get("content_complete"))
                .containsExactly("Your order |false", "ships today.|true");
        advance(SETTLE_MS - 1);
        assertThat(streaming.isOpen()).isTrue();
        assertThat(drained).isNotDone();
        advance(1);
        assertThat(streaming.aborted()).isTrue();
        assertThat(drained).isDone();
        assertThat(fx.counter(EgressMetrics.SOCKET_HANDED_OVER, EgressMetrics.TAG_WHEN,
                EgressMetrics.WHEN_BETWEEN_TURNS)).isEqualTo(4.0);
    }

    @Test
    void shouldKeepASocketWhoseAnswerJustCompletedForTheSettleTime() {
        // Given a call answered just now
        RecordingSocket socket = fx.open("A");
        fx.request(socket, 1);
        fx.deliver(answer(1, "Done."));

        // When the node drains
        CompletableFuture<Void> drained = drain();

        // Then the socket stays until the other nodes had time to read that answer
        assertThat(socket.isOpen()).isTrue();
        advance(SETTLE_MS);
        assertThat(socket.aborted()).isTrue();
        assertThat(drained).isDone();
    }

    @Test
    void shouldWaitForTheWatchdogsBridgeAndClosingLineWhenNoAnswerComes() {
        // Given a turn asked just before the drain, whose answer never comes
        RecordingSocket socket = fx.open("A");
        fx.request(socket, 2);
        CompletableFuture<Void> drained = drain();

        // When the budget passes
        advance(BUDGET_MS);

        // Then the caller hears the filler on the same socket, still held
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly(FILLER);
        assertThat(socket.isOpen()).isTrue();

        // When the first-words deadline passes, and the settle time after it
        advance(FIRST_WORDS_MS - BUDGET_MS);
        assertThat(completes(socket)).isEqualTo(1);
        advance(SETTLE_MS);

        // Then the closing line completed the turn, and only then was the socket dropped
        assertThat(socket.aborted()).isTrue();
        assertThat(drained).isDone();
    }

    @Test
    void shouldWaitForAnOwedBeginMessage() {
        // Given a socket whose begin message is owed to the pipeline when the drain starts
        RecordingSocket socket = fx.open("A");
        fx.begin(socket);
        CompletableFuture<Void> drained = drain();
        assertThat(socket.isOpen()).isTrue();

        // When the pipeline's begin message arrives, and the settle time passes
        fx.deliver(answer(0, "Hi, this is the agent."));
        advance(SETTLE_MS);

        // Then it was said, then the socket dropped
        assertThat(parsed(socket)).extracting(f -> f.get("content").asText()).containsExactly("Hi, this is the agent.");
        assertThat(socket.aborted()).isTrue();
        assertThat(drained).isDone();
    }

    @Test
    void shouldDropMidTurnSocketsWhenTheDrainTimesOut() {
        // Given one call mid-turn and one already handed over
        RecordingSocket busy = fx.open("call-busy", "b");
        fx.request(busy, 7);
        RecordingSocket idle = fx.open("call-idle", "i");
        CompletableFuture<Void> drained = drain();

        // When the drain's time is up
        int cut = fx.edge.ledger().drainNow();

        // Then only the busy one is dropped now, counted apart, and the drain is over
        assertThat(cut).isEqualTo(1);
        assertThat(busy.aborted()).isTrue();
        assertThat(idle.aborted()).isTrue();
        assertThat(drained).isDone();
        assertThat(fx.counter(EgressMetrics.SOCKET_HANDED_OVER, EgressMetrics.TAG_WHEN, EgressMetrics.WHEN_MID_TURN))
                .isEqualTo(1.0);
        assertThat(fx.counter(EgressMetrics.SOCKET_HANDED_OVER, EgressMetrics.TAG_WHEN,
                EgressMetrics.WHEN_BETWEEN_TURNS)).isEqualTo(1.0);
    }

    @Test
    void shouldBeDoneAtOnceWithoutSocketsAndRefuseBadCalls() {
        assertThatThrownBy(() -> fx.edge.ledger().drainNow()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> fx.edge.ledger().drain(CallSocket::abort, -1, fx.clock.millis()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(drain()).isDone();
    }
}
