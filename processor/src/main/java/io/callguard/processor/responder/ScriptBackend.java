package io.callguard.processor.responder;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * A deterministic agent for trials, drills and rehearsals: the greeting for the begin message, otherwise an echo
 * of the caller's last utterance ({@code You said: <text>}), streamed as a {@link SimulatedStream} describes it
 * ({@code agent.script.*}): a fixed delay plus a lognormal first-chunk wait, chunks at a gap, and at their rates
 * hangs (until cancelled), failures at the first-chunk time and stalls mid-answer. With the defaults it answers at
 * once, word by word. The draws come from the injected generator, hang first, so a fixed seed gives a fixed
 * sequence of outcomes. An utterance containing {@value #END_CALL_PHRASE} is answered with end_call after the echo,
 * one containing {@value #TRANSFER_PHRASE} with a transfer to {@code agent.script.transfer-number} when it is set.
 */
public final class ScriptBackend implements AgentBackend {

    /** Prefix of an echoed answer. */
    public static final String ECHO_PREFIX = "You said: ";
    /** An utterance containing this (any case) is answered with end_call after the echo. */
    public static final String END_CALL_PHRASE = "goodbye";
    /** An utterance containing this (any case) is transferred after the echo, when a transfer number is set. */
    public static final String TRANSFER_PHRASE = "transfer me";

    private final SimulatedStream stream;
    private final String greeting;
    private final String transferNumber;
    private final ScheduledExecutorService scheduler;
    private final RandomGenerator random;

    /**
     * @param scheduler runs the delayed chunks; owned by the caller
     * @param random    decides the faults and waits; access is synchronized here
     */
    public ScriptBackend(ResponderConfig config, ScheduledExecutorService scheduler, RandomGenerator random) {
        this(SimulatedStream.of(config), config.scriptGreeting(), config.scriptTransferNumber(), scheduler, random);
    }

    ScriptBackend(SimulatedStream stream, String greeting, String transferNumber, ScheduledExecutorService scheduler,
            RandomGenerator random) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.greeting = Objects.requireNonNull(greeting, "greeting");
        this.transferNumber = Objects.requireNonNull(transferNumber, "transferNumber");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.random = Objects.requireNonNull(random, "random");
    }

    /** What the script does after answering: end_call on "goodbye", else a transfer on "transfer me" if set. */
    List<AgentEvent> actionsFor(Turn turn) {
        String said = turn.lastUserUtterance().toLowerCase(java.util.Locale.ROOT);
        if (turn.responseId() == 0) {
            return List.of();
        }
        if (said.contains(END_CALL_PHRASE)) {
            return List.of(new AgentEvent.EndCall());
        }
        if (!transferNumber.isEmpty() && said.contains(TRANSFER_PHRASE)) {
            return List.of(new AgentEvent.Transfer(transferNumber, null));
        }
        return List.of();
    }

    /** The answer the script gives to a turn, before {@code agent.script.chunks} pads or joins it. */
    public String answerTo(Turn turn) {
        if (turn.responseId() == 0 || turn.transcript().isEmpty()) {
            return greeting;
        }
        return ECHO_PREFIX + turn.lastUserUtterance();
    }

    @Override
    public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> chunkSink) {
        SimulatedStream.Plan plan;
        synchronized (random) {
            plan = stream.plan(answerTo(turn), random);
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        switch (plan.outcome()) {
            case HANG:
                return result;
            case ERROR:
                schedule(result, plan.atMs().get(0), () -> result.completeExceptionally(new AgentBackendException(
                        "script backend: injected failure for call " + turn.callId() + " response "
                                + turn.responseId())));
                return result;
            default:
                List<AgentEvent> actions = actionsFor(turn);
                if (plan.chunks().isEmpty()) {
                    schedule(result, 0, () -> {
                        actions.forEach(chunkSink);
                        result.complete(null);
                    });
                } else {
                    next(result, plan, 0, 0, chunkSink, actions);
                }
                return result;
        }
    }

    /** Sends chunk {@code i} at its time (measured from the request, now {@code elapsedMs} ago), then the next. */
    private void next(CompletableFuture<Void> result, SimulatedStream.Plan plan, int i, long elapsedMs,
            Consumer<AgentEvent> chunkSink, List<AgentEvent> actions) {
        long at = plan.atMs().get(i);
        schedule(result, at - elapsedMs, () -> {
            // Chunks due together go together, so an instant answer is one scheduled task, as before.
            int j = i;
            while (j < plan.chunks().size() && plan.atMs().get(j) == at) {
                if (result.isDone()) {
                    return;
                }
                chunkSink.accept(AgentEvent.text(plan.chunks().get(j)));
                j++;
            }
            if (j == plan.chunks().size()) {
                actions.forEach(chunkSink);
                result.complete(null);
            } else {
                next(result, plan, j, at, chunkSink, actions);
            }
        });
    }

    private void schedule(CompletableFuture<Void> result, long delayMs, Runnable task) {
        if (result.isDone()) {
            return;
        }
        ScheduledFuture<?> scheduled = scheduler.schedule(() -> {
            if (!result.isDone()) {
                task.run();
            }
        }, Math.max(0, delayMs), TimeUnit.MILLISECONDS);
        result.whenComplete((ignored, error) -> scheduled.cancel(false));
    }
}
