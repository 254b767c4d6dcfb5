package io.callguard.processor.internal;

/**
 * A call waiting for a capacity slot, as the queue store holds it.
 *
 * @param callId              the call
 * @param queuedAtMs          processor wall-clock time it joined the queue
 * @param requestReceivedAtMs edge receipt time of the event that queued it (for operators reading the store)
 * @param edgeNode            edge node of that event
 */
public record QueuedCall(String callId, long queuedAtMs, long requestReceivedAtMs, String edgeNode) {
}
