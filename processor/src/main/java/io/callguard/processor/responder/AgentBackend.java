package io.callguard.processor.responder;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * What generates an agent's answer to a turn, streamed in chunks.
 *
 * <p>Cancellation: the caller stops a generation by completing the returned future itself, with
 * {@code cancel(true)} (a newer turn superseded it) or {@code completeExceptionally(TimeoutException)}
 * (the turn's time limit). An implementation watches its own future and, once it is done, stops
 * working, releases what it holds and calls {@code chunkSink} no more.
 */
public interface AgentBackend extends AutoCloseable {

    /**
     * Starts generating the answer to a turn. Must not block: the work happens elsewhere.
     *
     * @param turn      the request
     * @param chunkSink receives the answer's text pieces in order (non-empty strings), on any thread
     * @return completes normally after the last chunk, exceptionally when generation failed
     *         (typically with {@link AgentBackendException})
     */
    CompletableFuture<Void> generate(Turn turn, Consumer<String> chunkSink);

    /** Releases the backend's resources. In-flight generations may be abandoned. */
    @Override
    default void close() {
    }
}
