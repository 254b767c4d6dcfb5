package io.callguard.cli.tools;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Utils;

/** Where a call's records live: the partition Kafka's default partitioner picks for its key. */
public final class CallPartitions {

    private CallPartitions() {
    }

    /**
     * The partition of {@code callId} among {@code partitions}, as the producers chose it: keys are call ids
     * (UTF-8), placed by the default partitioner (murmur2 of the key bytes, made positive, modulo the count).
     */
    public static int of(String callId, int partitions) {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be >= 1, was " + partitions);
        }
        return Utils.toPositive(Utils.murmur2(callId.getBytes(StandardCharsets.UTF_8))) % partitions;
    }
}
