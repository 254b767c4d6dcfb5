package io.callguard.ingress;

import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The begin message of a socket, decided at its open from the shared call state as this node sees it (the local
 * processor's store for the partitions it owns, the {@link CallStateView} of call-state for every other call, on
 * every node that takes sockets, so a call's partition owned by another node is no blind spot): the busy line with
 * {@code end_call} for a call known to be refused for capacity (the caller hears it and the call ends), nothing (an
 * empty begin message) for a call that already had a socket or turns, wherever they were (a reconnect, perhaps from
 * another edge node, must not greet the caller again), else a first open ({@link Begin#FIRST_OPEN}:
 * {@link LlmSocketProtocol} owes it to the pipeline, or says the greeting).
 *
 * <p>The state lags the events (a socket's own opening reaches it some milliseconds later), so this node's memory of
 * the calls it opened sockets for also counts as a reconnect: Retell reconnecting at once to the same node is told
 * too. A reconnect neither can tell (to another node before call-state has the first socket) is taken for a first
 * open: in {@code socket.begin-message=auto} the pipeline's responder, reading the call's events in order, answers it
 * with an empty begin, and the edge asks {@link #knownReconnect} again before it would bridge that begin with the
 * greeting; with {@code greeting} it is greeted again. Thread-safe.
 */
public final class GreetingPolicy implements Function<String, GreetingPolicy.Begin> {

    /** How many call ids are remembered to tell a reconnect from a first open. */
    public static final int REMEMBERED_CALLS = 100_000;

    /**
     * A socket's begin message.
     *
     * @param text    what is said now; null for a first open (owed to the pipeline, or the greeting)
     * @param endCall whether the call ends after it (the busy line)
     */
    public record Begin(String text, boolean endCall) {

        /** A call's first socket: the begin is the pipeline's (or {@code socket.greeting}). */
        public static final Begin FIRST_OPEN = new Begin(null, false);
        /** A reconnect: an empty begin message, said now. */
        public static final Begin RECONNECT = new Begin("", false);

        /** The busy line, said now, then the call ends. */
        public static Begin busy(String line) {
            return new Begin(Objects.requireNonNull(line, "line"), true);
        }

        /** True for a call's first socket. */
        public boolean firstOpen() {
            return text == null;
        }
    }

    private final Function<String, Optional<CallState>> callStates;
    private final String busyMessage;
    private final SeenCalls seenCalls;

    /**
     * @param callStates  a call's state as this instance knows it (empty when unknown)
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

    /** The begin message of a socket of {@code callId}: the busy line, a reconnect's empty one, or a first open. */
    @Override
    public Begin apply(String callId) {
        Optional<CallState> state = callStates.apply(callId);
        if (state.isPresent() && state.get().status() == CallStatus.REJECTED) {
            return Begin.busy(busyMessage);
        }
        boolean hadSocketOrTurns = state.map(s -> s.connectionId() != null
                || (s.latestResponseId() != null && s.latestResponseId() > 0)).orElse(false);
        return seenCalls.firstTime(callId) && !hadSocketOrTurns ? Begin.FIRST_OPEN : Begin.RECONNECT;
    }

    /**
     * Whether the shared call state shows, now, that socket {@code connectionId} of the call, opened at
     * {@code openedAtMs} (edge receipt time), is not its first: the call had turns; or the state's current socket is
     * this one and a reconnect was counted (a socket came before it); or the state's current socket is another one
     * that opened before this one (the state has not caught up with this socket yet). A later socket (this one was
     * superseded) says nothing of what came before. Asked of a begin owed to the pipeline when the edge would bridge
     * it with the greeting (the state has caught up with the sockets by then): a reconnect's begin is empty. False
     * for a call refused for capacity (its begin is the busy line) or unknown.
     */
    public boolean knownReconnect(String callId, String connectionId, long openedAtMs) {
        CallState state = callStates.apply(callId).orElse(null);
        if (state == null || state.status() == CallStatus.REJECTED) {
            return false;
        }
        if (state.latestResponseId() != null && state.latestResponseId() > 0) {
            return true;
        }
        if (state.connectionId() == null) {
            return false;
        }
        return state.connectionId().equals(connectionId) ? state.reconnects() > 0
                : state.socketOpenedAtMs() != null && state.socketOpenedAtMs() < openedAtMs;
    }
}
