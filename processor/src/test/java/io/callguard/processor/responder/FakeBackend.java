package io.callguard.processor.responder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** A backend the test drives by hand: each call waits until the test streams, finishes or fails it. */
final class FakeBackend implements AgentBackend {

    private final List<Call> calls = new ArrayList<>();
    private boolean failAtOnce;

    /** From now on every call fails as soon as it is made. */
    FakeBackend failingAtOnce() {
        failAtOnce = true;
        return this;
    }

    @Override
    public synchronized CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> chunkSink) {
        CompletableFuture<Void> future = failAtOnce
                ? CompletableFuture.failedFuture(new AgentBackendException("down"))
                : new CompletableFuture<>();
        Call call = new Call(turn, chunkSink, future);
        calls.add(call);
        return future;
    }

    synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    synchronized Call call(int index) {
        return calls.get(index);
    }

    synchronized Call last() {
        return calls.get(calls.size() - 1);
    }

    /** One generate() call. */
    record Call(Turn turn, Consumer<AgentEvent> sink, CompletableFuture<Void> future) {

        Call stream(String... chunks) {
            for (String chunk : chunks) {
                sink.accept(AgentEvent.text(chunk));
            }
            return this;
        }

        void finish() {
            future.complete(null);
        }

        void fail() {
            future.completeExceptionally(new AgentBackendException("backend failed"));
        }

        boolean cancelled() {
            return future.isCancelled();
        }
    }
}
