package io.callguard.common;

/**
 * How every topic callguard creates is replicated: its own topics (topic bootstrap) and Kafka Streams' internal
 * ones (changelogs, repartition topics). On the embedded broker 1/1; on a three-broker cluster 3/2, so one broker
 * may be down while every write still lands on two.
 *
 * @param factor            replicas of each partition; -1 takes the broker's {@code default.replication.factor}
 * @param minInsyncReplicas the topic's {@code min.insync.replicas} (acks=all writes fail with fewer in sync);
 *                          -1 takes the broker's default
 */
public record TopicReplication(short factor, int minInsyncReplicas) {

    /** The broker's defaults for both. */
    public static final TopicReplication BROKER_DEFAULT = new TopicReplication((short) -1, -1);

    public TopicReplication {
        if (factor == 0 || factor < -1) {
            throw new IllegalArgumentException("replication factor must be -1 (broker default) or at least 1, was "
                    + factor);
        }
        if (minInsyncReplicas == 0 || minInsyncReplicas < -1) {
            throw new IllegalArgumentException("min.insync.replicas must be -1 (broker default) or at least 1, was "
                    + minInsyncReplicas);
        }
        if (factor > 0 && minInsyncReplicas > factor) {
            throw new IllegalArgumentException("min.insync.replicas " + minInsyncReplicas
                    + " is more than the replication factor " + factor + ": no write could ever succeed");
        }
    }
}
