package io.callguard.processor.responder;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * What generates an agent's answer to a turn, streamed as {@link AgentEvent}s: words, actions and tool frames.
 *
 * <p>Cancellation: the caller stops a generation by completing the returned future itself, with
 * {@code cancel(true)} (a newer turn superseded it) or {@code completeExceptionally(TimeoutException)}
 * (the turn's time limit). An implementation watches its own future and, once it is done, stops
 * working, releases what it holds and calls {@code sink} no more.
 *
 * <p>A backend that keeps a conversation per call (the {@code retell-socket} upstream) also gets the call's
 * other events ({@link #callEvent}), says the begin message ({@link #begin}) and may speak unprompted
 * ({@link #unprompted}). The defaults suit a backend that answers each turn from its transcript alone.
 */
public interface AgentBackend extends AutoCloseable {

    /**
     * Starts generating the answer to a turn. Must not block: the work happens elsewhere.
     *
     * @param turn the request
     * @param sink receives the answer's events in order (text never empty), on any thread
     * @return completes normally after the last event, exceptionally when generation failed
     *         (typically with {@link AgentBackendException})
     */
    CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> sink);

    /** Whether this backend says the begin message itself ({@link #begin}); otherwise the edge's greeting is said. */
    default boolean saysBeginMessage() {
        return false;
    }

    /**
     * The call's socket opened for the first time: produce the begin message ({@code response_id} 0) through
     * {@code sink}, if this backend {@link #saysBeginMessage() says it}. Must not block.
     *
     * @param call the call, as a turn with {@code response_id} 0 and an empty transcript
     * @return completes after the begin message's last event
     */
    default CompletableFuture<Void> begin(Turn call, Consumer<AgentEvent> sink) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * A call event the backend may want: {@code call_details} and {@code update_only} from the socket, with
     * Retell's payload as received. Must not block.
     */
    default void callEvent(String callId, String interactionType, JsonNode payload) {
    }

    /** The call ended: release what is held for it. Must not block. */
    default void callEnded(String callId) {
    }

    /**
     * Another responder took the call's partition (it goes on there, not here), and no turn of it is open here:
     * release what is held for it, but unlike {@link #callEnded}, be ready to serve it again should it come back.
     * Must not block.
     */
    default void callMoved(String callId) {
    }

    /**
     * Where the backend sends what it says outside any turn: {@link AgentEvent.Interrupt},
     * {@link AgentEvent.UpdateAgent} and {@link AgentEvent.Metadata}, with the call id. Set once, before the first
     * turn.
     */
    default void unprompted(BiConsumer<String, AgentEvent> sink) {
    }

    /** Releases the backend's resources. In-flight generations may be abandoned. */
    @Override
    default void close() {
    }
}
