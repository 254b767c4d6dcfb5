package io.callguard.ingress.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.content.AsyncContent;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One body read from Jetty's own async content source, with a manual clock and scheduler for the rate. */
class BoundedBodyTest {

    private static final BoundedBody.Limits LIMITS = new BoundedBody.Limits(1_048_576, 1_000, 2_000);

    private final ManualClock clock = new ManualClock(1_750_000_000_000L);
    private final ManualScheduler timers = new ManualScheduler(clock);
    private final ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler(timers);
    private final BodyBudget budget = new BodyBudget(10_000);

    BoundedBodyTest() throws Exception {
        scheduler.start();
    }

    @AfterEach
    void stopScheduler() throws Exception {
        scheduler.stop();
    }

    @Test
    void shouldGrowWithTheBytesReceivedNotWithTheDeclaredLength() {
        // Given a request that declares a 1 MiB body
        AsyncContent content = new AsyncContent();
        Recorder told = new Recorder();
        BoundedBody body = new BoundedBody(declaring(content, 1_048_576), LIMITS, budget, clock, scheduler, told);

        // When one byte of it arrives
        body.start();
        content.write(false, bytes("{"), Callback.NOOP);

        // Then it holds a buffer of one byte, and one byte of the budget
        assertThat(body.bufferCapacity()).isEqualTo(1);
        assertThat(budget.held()).isEqualTo(1);
        assertThat(told.outcomes).isEmpty();
    }

    @Test
    void shouldHandOverABodyThatMatchesItsDeclaredLengthInAnArrayOfItsSize() {
        // Given a body of 3,000 bytes that declares so, sent in three chunks
        AsyncContent content = new AsyncContent();
        Recorder told = new Recorder();
        BoundedBody body = new BoundedBody(declaring(content, 3_000), LIMITS, budget, clock, scheduler, told);
        body.start();

        // When it arrives
        content.write(false, ByteBuffer.wrap(new byte[1_000]), Callback.NOOP);
        content.write(false, ByteBuffer.wrap(new byte[1_500]), Callback.NOOP);
        content.write(true, ByteBuffer.wrap(new byte[500]), Callback.NOOP);

        // Then it is whole, its buffer never went past the declared length, and its bytes stay taken until released
        assertThat(told.outcomes).containsExactly("body 3000");
        assertThat(body.bufferCapacity()).isEqualTo(3_000);
        assertThat(budget.held()).isEqualTo(3_000);
        body.release();
        body.release();
        assertThat(budget.held()).isZero();
    }

    @Test
    void shouldEndABodyThatTricklesOnceItFallsBehindTheRate() {
        // Given a body that must keep 1,000 bytes a second after a 2 s grace
        AsyncContent content = new AsyncContent();
        Recorder told = new Recorder();
        BoundedBody body = new BoundedBody(content, LIMITS, budget, clock, scheduler, told);
        body.start();

        // When 10 bytes come, then a byte every second
        content.write(false, ByteBuffer.wrap(new byte[10]), Callback.NOOP);
        timers.advance(1_000);
        content.write(false, ByteBuffer.wrap(new byte[1]), Callback.NOOP);
        timers.advance(1_000);
        content.write(false, ByteBuffer.wrap(new byte[1]), Callback.NOOP);
        assertThat(told.outcomes).as("within the grace").isEmpty();

        // Then it is ended as soon as 12 bytes are behind the rate: at 2 s + 12 ms
        timers.advance(11);
        assertThat(told.outcomes).isEmpty();
        timers.advance(2);
        assertThat(told.outcomes).containsExactly("too slow 12");
        body.release();
        assertThat(budget.held()).isZero();
        assertThat(timers.pending()).as("no check left armed").isEmpty();
    }

    @Test
    void shouldEndABodyThatSendsNothingAtTheEndOfTheGrace() {
        // Given a body whose headers came and nothing else
        Recorder told = new Recorder();
        new BoundedBody(new AsyncContent(), LIMITS, budget, clock, scheduler, told).start();

        // When the grace passes
        timers.advance(2_001);

        // Then it is ended, without waiting for the connector's idle timeout
        assertThat(told.outcomes).containsExactly("too slow 0");
    }

    @Test
    void shouldKeepABodyThatKeepsUpWithTheRate() {
        // Given a slow but steady body: 1,200 bytes a second for five seconds
        AsyncContent content = new AsyncContent();
        Recorder told = new Recorder();
        new BoundedBody(content, LIMITS, budget, clock, scheduler, told).start();
        for (int second = 0; second < 5; second++) {
            content.write(false, ByteBuffer.wrap(new byte[1_200]), Callback.NOOP);
            timers.advance(1_000);
        }

        // When it ends
        content.write(true, ByteBuffer.wrap(new byte[0]), Callback.NOOP);

        // Then it is whole
        assertThat(told.outcomes).containsExactly("body 6000");
    }

    @Test
    void shouldRefuseTheNextBytesWhenTheSharedBudgetHasNoRoom() {
        // Given a budget of 10,000 bytes, 8,000 of them held by a first body
        AsyncContent first = new AsyncContent();
        AsyncContent second = new AsyncContent();
        Recorder toldFirst = new Recorder();
        Recorder toldSecond = new Recorder();
        BoundedBody holding = new BoundedBody(first, LIMITS, budget, clock, scheduler, toldFirst);
        holding.start();
        first.write(false, ByteBuffer.wrap(new byte[8_000]), Callback.NOOP);
        new BoundedBody(second, LIMITS, budget, clock, scheduler, toldSecond).start();

        // When a second body sends 1,500 bytes, then 1,000 more
        second.write(false, ByteBuffer.wrap(new byte[1_500]), Callback.NOOP);
        second.write(false, ByteBuffer.wrap(new byte[1_000]), Callback.NOOP);

        // Then the second is refused at the bytes that do not fit, and gives back what it took once released
        assertThat(toldSecond.outcomes).containsExactly("over budget 2500");
        assertThat(toldFirst.outcomes).isEmpty();
        assertThat(budget.held()).isEqualTo(9_500);
        holding.release();
        assertThat(budget.held()).isEqualTo(1_500);
    }

    @Test
    void shouldRefuseABodyOverItsLimitWithoutTakingTheBytes() {
        // Given a limit of 100 bytes
        AsyncContent content = new AsyncContent();
        Recorder told = new Recorder();
        new BoundedBody(content, new BoundedBody.Limits(100, 0, 0), budget, clock, scheduler, told).start();

        // When 60, then 60 more bytes come
        content.write(false, ByteBuffer.wrap(new byte[60]), Callback.NOOP);
        content.write(false, ByteBuffer.wrap(new byte[60]), Callback.NOOP);

        // Then
        assertThat(told.outcomes).containsExactly("too large 120");
        assertThat(budget.held()).isEqualTo(60);
        assertThat(timers.pending()).as("no rate check when the rate is 0").isEmpty();
    }

    private static ByteBuffer bytes(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
    }

    /** The source with the length a request's Content-Length would give it. */
    private static Content.Source declaring(AsyncContent content, long length) {
        return new Content.Source() {
            @Override
            public long getLength() {
                return length;
            }

            @Override
            public Content.Chunk read() {
                return content.read();
            }

            @Override
            public void demand(Runnable demandCallback) {
                content.demand(demandCallback);
            }

            @Override
            public void fail(Throwable failure) {
                content.fail(failure);
            }
        };
    }

    private static final class Recorder implements BoundedBody.Listener {
        final List<String> outcomes = new ArrayList<>();

        @Override
        public void onBody(byte[] body) {
            outcomes.add("body " + body.length);
        }

        @Override
        public void onTooLarge(long bytesSeen) {
            outcomes.add("too large " + bytesSeen);
        }

        @Override
        public void onTooSlow(long bytesSeen, long elapsedMs) {
            outcomes.add("too slow " + bytesSeen);
        }

        @Override
        public void onOverBudget(long bytesSeen) {
            outcomes.add("over budget " + bytesSeen);
        }

        @Override
        public void onFailure(Throwable failure) {
            outcomes.add("failed " + failure);
        }
    }
}
