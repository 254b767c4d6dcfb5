package io.callguard.ingress;

import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The calls' capacity as the ingress sees it, to answer Retell's inbound-call webhook ({@code call_inbound})
 * before the phone is answered. The app gives it (from the processor's queries); the ingress does not know
 * the processor.
 */
@FunctionalInterface
public interface InboundCapacity {

    /** What the view says about a call that would start now. */
    enum State {
        /** Some partition has a free slot or queue place. */
        ROOM,
        /** Every partition has no free slot and a full queue: the call would be refused. */
        FULL,
        /** Not known: no processor runs here, a partition's owner did not answer, or the view failed. */
        UNKNOWN;

        /** The metric tag of this state. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The view of a node that cannot see capacity (an edge without a processor): always unknown. */
    InboundCapacity UNKNOWN = () -> CompletableFuture.completedFuture(State.UNKNOWN);

    /**
     * The capacity now. Must not block the caller: slow work (asking other instances) completes the stage
     * later; the ingress stops waiting after {@code webhook.ack-timeout-ms}.
     */
    CompletionStage<State> check();
}
