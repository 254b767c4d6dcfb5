package io.callguard.processor.responder;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * A deterministic agent for trials and drills: the greeting for the begin message, otherwise an echo
 * of the caller's last utterance ({@code You said: <text>}), streamed word by word.
 *
 * <p>Faults, from config: every answer waits {@code agent.script.delay-ms}; a share
 * {@code agent.script.hang-rate} never answers (until cancelled); a share {@code agent.script.failure-rate}
 * fails after the delay. Two draws are taken from the injected generator per call, hang first, so a
 * fixed seed gives a fixed sequence of outcomes.
 */
public final class ScriptBackend implements AgentBackend {

    /** Prefix of an echoed answer. */
    public static final String ECHO_PREFIX = "You said: ";

    private final long delayMs;
    private final double failureRate;
    private final double hangRate;
    private final String greeting;
    private final ScheduledExecutorService scheduler;
    private final RandomGenerator random;

    /**
     * @param scheduler runs the delayed answers; owned by the caller
     * @param random    decides the faults; access is synchronized here
     */
    public ScriptBackend(ResponderConfig config, ScheduledExecutorService scheduler, RandomGenerator random) {
        this(config.scriptDelayMs(), config.scriptFailureRate(), config.scriptHangRate(), config.scriptGreeting(),
                scheduler, random);
    }

    ScriptBackend(long delayMs, double failureRate, double hangRate, String greeting,
            ScheduledExecutorService scheduler, RandomGenerator random) {
        this.delayMs = delayMs;
        this.failureRate = failureRate;
        this.hangRate = hangRate;
        this.greeting = Objects.requireNonNull(greeting, "greeting");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.random = Objects.requireNonNull(random, "random");
    }

    /** The full answer the script gives to a turn when no fault is drawn. */
    public String answerTo(Turn turn) {
        if (turn.responseId() == 0 || turn.transcript().isEmpty()) {
            return greeting;
        }
        return ECHO_PREFIX + turn.lastUserUtterance();
    }

    @Override
    public CompletableFuture<Void> generate(Turn turn, Consumer<String> chunkSink) {
        boolean hang;
        boolean fail;
        synchronized (random) {
            hang = random.nextDouble() < hangRate;
            fail = random.nextDouble() < failureRate;
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (hang) {
            return result;
        }
        Runnable answer = () -> {
            if (result.isDone()) {
                return;
            }
            if (fail) {
                result.completeExceptionally(new AgentBackendException("script backend: injected failure for call "
                        + turn.callId() + " response " + turn.responseId()));
                return;
            }
            for (String chunk : words(answerTo(turn))) {
                if (result.isDone()) {
                    return;
                }
                chunkSink.accept(chunk);
            }
            result.complete(null);
        };
        ScheduledFuture<?> scheduled = scheduler.schedule(answer, delayMs, TimeUnit.MILLISECONDS);
        result.whenComplete((ignored, error) -> scheduled.cancel(false));
        return result;
    }

    /** Splits a text into chunks of one word each, keeping the space after each word. */
    static List<String> words(String text) {
        List<String> chunks = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == ' ') {
                chunks.add(text.substring(start, i + 1));
                start = i + 1;
            }
        }
        if (start < text.length()) {
            chunks.add(text.substring(start));
        }
        return chunks;
    }
}
