package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class ScriptBackendTest {

    private final ManualClock clock = new ManualClock(1_000);
    private final ManualScheduler scheduler = new ManualScheduler(clock);

    private ScriptBackend backend(Map<String, Object> settings, long seed) {
        return new ScriptBackend(new ResponderConfig(settings), scheduler, new SplittableRandom(seed));
    }

    private static Turn turn(long responseId, Turn.Utterance... transcript) {
        return new Turn("call-1", responseId, "response_required", List.of(transcript), null, Map.of());
    }

    @Test
    void shouldGreetOnTheBeginMessageAndOnAnEmptyTranscript() {
        // Given
        ScriptBackend script = backend(Map.of(ResponderConfig.SCRIPT_GREETING_CONFIG, "Hi, this is Ada."), 1);
        List<String> chunks = new ArrayList<>();

        // When
        CompletableFuture<Void> done = script.generate(turn(0, new Turn.Utterance("user", "ignored")), AgentEvent.textsTo(chunks::add));
        scheduler.advance(0);

        // Then
        assertThat(done).isCompleted();
        assertThat(String.join("", chunks)).isEqualTo("Hi, this is Ada.");
        assertThat(script.answerTo(turn(5))).isEqualTo("Hi, this is Ada.");
    }

    @Test
    void shouldEchoTheLastUserUtteranceWordByWordAfterTheDelay() {
        // Given
        ScriptBackend script = backend(Map.of(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 250), 1);
        List<String> chunks = new ArrayList<>();

        // When
        CompletableFuture<Void> done = script.generate(turn(3, new Turn.Utterance("user", "I need a taxi"),
                new Turn.Utterance("agent", "Where to?"), new Turn.Utterance("user", "the station")), AgentEvent.textsTo(chunks::add));
        scheduler.advance(249);

        // Then nothing before the delay
        assertThat(chunks).isEmpty();
        assertThat(done).isNotDone();

        // When
        scheduler.advance(1);

        // Then
        assertThat(chunks).containsExactly("You ", "said: ", "the ", "station");
        assertThat(done).isCompleted();
    }

    @Test
    void shouldFailAndHangAtTheConfiguredRatesReproduciblyForASeed() {
        // Given
        Map<String, Object> settings = Map.of(ResponderConfig.SCRIPT_HANG_RATE_CONFIG, 0.3,
                ResponderConfig.SCRIPT_FAILURE_RATE_CONFIG, 0.2, ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 10);

        // When
        List<String> first = outcomes(backend(settings, 42), 1_000);
        List<String> second = outcomes(backend(settings, 42), 1_000);
        List<String> otherSeed = outcomes(backend(settings, 43), 1_000);

        // Then the same seed gives the same sequence, and the rates hold
        assertThat(first).isEqualTo(second).isNotEqualTo(otherSeed);
        assertThat(first.stream().filter("hang"::equals).count()).isBetween(250L, 350L);
        assertThat(first.stream().filter("fail"::equals).count()).isBetween(100L, 180L);
        assertThat(first.stream().filter("ok"::equals).count()).isBetween(500L, 620L);
    }

    private List<String> outcomes(ScriptBackend script, int n) {
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(script.generate(turn(1, new Turn.Utterance("user", "hi")), event -> { }));
        }
        scheduler.advance(10);
        List<String> outcomes = new ArrayList<>();
        for (CompletableFuture<Void> f : futures) {
            outcomes.add(!f.isDone() ? "hang" : f.isCompletedExceptionally() ? "fail" : "ok");
            f.cancel(true);
        }
        return outcomes;
    }

    @Test
    void shouldSayNothingOnceCancelled() {
        // Given
        ScriptBackend script = backend(Map.of(ResponderConfig.SCRIPT_DELAY_MS_CONFIG, 100), 1);
        List<String> chunks = new ArrayList<>();
        CompletableFuture<Void> done = script.generate(turn(1, new Turn.Utterance("user", "hello")), AgentEvent.textsTo(chunks::add));

        // When
        done.cancel(true);
        scheduler.advance(1_000);

        // Then
        assertThat(chunks).isEmpty();
        assertThat(scheduler.pending()).isEmpty();
    }

    @Test
    void shouldStreamChunksAtTheirGapsAfterTheFirstChunk() {
        // Given 4 chunks 40 ms apart after a 300 ms first chunk
        ScriptBackend script = backend(Map.of(ResponderConfig.SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, 300,
                ResponderConfig.SCRIPT_CHUNKS_CONFIG, 4, ResponderConfig.SCRIPT_CHUNK_GAP_MS_CONFIG, 40), 1);
        List<String> chunks = new ArrayList<>();

        // When
        CompletableFuture<Void> done = script.generate(turn(1, new Turn.Utterance("user", "hello")), AgentEvent.textsTo(chunks::add));
        scheduler.advance(299);

        // Then
        assertThat(chunks).isEmpty();
        scheduler.advance(1);
        assertThat(chunks).containsExactly("You ");
        scheduler.advance(79);
        assertThat(chunks).containsExactly("You ", "said: ");
        assertThat(done).isNotDone();
        scheduler.advance(41);
        assertThat(String.join("", chunks)).isEqualTo("You said: hello. I.");
        assertThat(done).isCompleted();
    }

    @Test
    void shouldStopMidStreamWhenCancelledDuringAStall() {
        // Given every answer stalls 20 s in the middle
        ScriptBackend script = backend(Map.of(ResponderConfig.SCRIPT_CHUNKS_CONFIG, 6,
                ResponderConfig.SCRIPT_STALL_RATE_CONFIG, 1.0, ResponderConfig.SCRIPT_STALL_MS_CONFIG, 20_000), 1);
        List<String> chunks = new ArrayList<>();
        CompletableFuture<Void> done = script.generate(turn(1, new Turn.Utterance("user", "hello")), AgentEvent.textsTo(chunks::add));
        scheduler.advance(10);
        assertThat(chunks).hasSize(3);

        // When
        done.cancel(true);
        scheduler.advance(30_000);

        // Then
        assertThat(chunks).hasSize(3);
        assertThat(scheduler.pending()).isEmpty();
    }

    @Test
    void shouldHangUpAfterTheEchoWhenTheCallerSaysGoodbye() {
        // Given
        ScriptBackend script = backend(Map.of(), 1);
        List<AgentEvent> events = new ArrayList<>();

        // When
        CompletableFuture<Void> done = script.generate(turn(2, new Turn.Utterance("user", "ok, Goodbye")), events::add);
        scheduler.advance(0);

        // Then the whole echo, then end_call, then done
        assertThat(done).isCompleted();
        assertThat(events.get(events.size() - 1)).isEqualTo(new AgentEvent.EndCall());
        assertThat(events.subList(0, events.size() - 1)).allMatch(e -> e instanceof AgentEvent.Text);
    }

    @Test
    void shouldTransferOnlyWhenANumberIsSet() {
        List<AgentEvent> events = new ArrayList<>();
        backend(Map.of(), 1).generate(turn(2, new Turn.Utterance("user", "transfer me please")), events::add);
        scheduler.advance(0);
        assertThat(events).allMatch(e -> e instanceof AgentEvent.Text);

        events.clear();
        backend(Map.of(ResponderConfig.SCRIPT_TRANSFER_NUMBER_CONFIG, "+15550100"), 1)
                .generate(turn(2, new Turn.Utterance("user", "Transfer me please")), events::add);
        scheduler.advance(0);
        assertThat(events.get(events.size() - 1)).isEqualTo(new AgentEvent.Transfer("+15550100", null));
    }
}
