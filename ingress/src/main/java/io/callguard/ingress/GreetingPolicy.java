package io.callguard.ingress;

import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The begin message of a socket: the busy line for a call refused for capacity, nothing (an empty begin message)
 * for a call that already had turns or was opened here before (a reconnect must not greet the caller again), else
 * the greeting ({@code null}, which {@link LlmSocketProtocol} reads as {@code socket.greeting}). Thread-safe.
 */
public final class GreetingPolicy implements Function<String, String> {

    /** How many call ids are remembered to tell a reconnect from a first open. */
    public static final int REMEMBERED_CALLS = 100_000;

    private final Function<String, Optional<CallState>> callStates;
    private final String busyMessage;
    private final SeenCalls seenCalls;

    /**
     * @param callStates  a call's state as this instance knows it (empty when unknown or no processor runs here)
     * @param busyMessage what a call refused for capacity hears
     */
    public GreetingPolicy(Function<String, Optional<CallState>> callStates, String busyMessage) {
        this(callStates, busyMessage, REMEMBERED_CALLS);
    }

    GreetingPolicy(Function<String, Optional<CallState>> callStates, String busyMessage, int remembered) {
        this.callStates = Objects.requireNonNull(callStates, "callStates");
        this.busyMessage = Objects.requireNonNull(busyMessage, "busyMessage");
        this.seenCalls = new SeenCalls(remembered);
    }

    /** The begin text of a socket of {@code callId}: the busy line, {@code ""}, or null for the greeting. */
    @Override
    public String apply(String callId) {
        Optional<CallState> state = callStates.apply(callId);
        if (state.isPresent() && state.get().status() == CallStatus.REJECTED) {
            return busyMessage;
        }
        boolean hadTurns = state.map(s -> s.latestResponseId() != null && s.latestResponseId() > 0).orElse(false);
        return seenCalls.firstTime(callId) && !hadTurns ? null : "";
    }
}
