package io.callguard.processor;

import java.util.List;

/**
 * Capacity of the partitions this instance owns, read from its local stores (for {@code GET /capacity}).
 * Partitions owned by other instances are not listed.
 *
 * @param partitions one entry per locally owned partition, by partition number
 */
public record CapacityView(List<PartitionCapacity> partitions) {

    public CapacityView {
        partitions = List.copyOf(partitions);
    }

    public long active() {
        return partitions.stream().mapToLong(PartitionCapacity::active).sum();
    }

    public long queued() {
        return partitions.stream().mapToLong(PartitionCapacity::queued).sum();
    }

    public long capacity() {
        return partitions.stream().mapToLong(PartitionCapacity::capacity).sum();
    }
}
