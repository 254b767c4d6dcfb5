package io.callguard.processor;

/**
 * One partition's capacity as this instance sees it.
 *
 * @param partition the partition (= stream task)
 * @param active    calls holding a slot
 * @param queued    calls waiting for a slot
 * @param capacity  slots of the partition
 * @param queueSize places in the partition's queue
 */
public record PartitionCapacity(int partition, long active, long queued, int capacity, int queueSize) {
}
