package io.callguard.app;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.ingress.InboundCapacity;
import io.callguard.processor.CallQueries;
import io.callguard.schemas.Json;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The ingress's capacity view for Retell's inbound-call webhook, read from the processor's {@link CallQueries}
 * (what {@code GET /capacity} answers: this instance's partitions and the other instances' ones).
 *
 * <p>An inbound call has no call id yet, so the partition it will land on is not known: the view says
 * {@link InboundCapacity.State#FULL} only when every partition reported and each has no free slot and a full
 * queue (the call would be refused wherever it lands); {@link InboundCapacity.State#ROOM} when some reported
 * partition has room; {@link InboundCapacity.State#UNKNOWN} when the processor does not answer, or a partition
 * did not report and all that did are full. A call that passes is still admitted, queued or refused by its
 * partition when it starts.
 *
 * <p>Asking other instances is blocking HTTP, so checks run on one thread of their own; checks asked while one
 * runs share its answer (a burst of inbound calls costs one round).
 */
final class InboundCapacityView implements InboundCapacity, AutoCloseable {

    private final CallQueries queries;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "callguard-inbound-capacity");
        t.setDaemon(true);
        return t;
    });
    private CompletableFuture<State> running;

    InboundCapacityView(CallQueries queries) {
        this.queries = Objects.requireNonNull(queries, "queries");
    }

    @Override
    public synchronized CompletionStage<State> check() {
        if (running != null && !running.isDone()) {
            return running;
        }
        try {
            running = CompletableFuture.supplyAsync(() -> stateOf(queries.capacity(false)), thread);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(State.UNKNOWN);
        }
        return running;
    }

    /** The state a {@code /capacity} answer describes. */
    static State stateOf(CallQueries.Result result) {
        if (result.status() != 200) {
            return State.UNKNOWN;
        }
        JsonNode report = Json.mapper().valueToTree(result.body());
        JsonNode partitions = report.path("partitions");
        if (!partitions.isArray() || partitions.isEmpty()) {
            return State.UNKNOWN;
        }
        for (JsonNode p : partitions) {
            boolean slotFree = p.path("active").asLong() < p.path("capacity").asLong();
            boolean queuePlace = p.path("queued").asLong() < p.path("queue_size").asLong();
            if (slotFree || queuePlace) {
                return State.ROOM;
            }
        }
        int total = report.path("total").path("partitions").asInt(-1);
        return partitions.size() >= total && total > 0 ? State.FULL : State.UNKNOWN;
    }

    @Override
    public void close() throws InterruptedException {
        thread.shutdownNow();
        thread.awaitTermination(2, TimeUnit.SECONDS);
    }
}
