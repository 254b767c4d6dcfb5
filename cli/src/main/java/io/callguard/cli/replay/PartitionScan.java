package io.callguard.cli.replay;

import io.callguard.cli.tools.CallPartitions;
import io.callguard.cli.tools.KafkaSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;

/**
 * One call's records on one topic: the call's partition (by key), read from the first offset at or after
 * {@code since} (else the earliest retained) up to the end offset captured when the scan started, keeping the
 * records keyed by the call and not later than {@code until}.
 *
 * @param partition         the call's partition
 * @param earliestOffset    the first offset still on the partition (retention moves it)
 * @param earliestTimestamp timestamp of the record at {@code earliestOffset}; -1 when the partition is empty
 * @param fromOffset        where the scan started
 * @param toOffset          where it stopped (exclusive)
 * @param records           the call's records, in offset order
 */
record PartitionScan(TopicPartition partition, long earliestOffset, long earliestTimestamp, long fromOffset,
                     long toOffset, List<ConsumerRecord<String, byte[]>> records) {

    private static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static final long PROGRESS_AFTER_NANOS = 3_000_000_000L;

    /**
     * Scans {@code topic} for {@code callId}'s records.
     *
     * @param sinceMs  lower time bound (record timestamp), or null for the earliest retained record
     * @param untilMs  upper time bound, inclusive, or null for the end captured at start
     * @param progress told every few seconds once the scan has taken more than 3 s
     * @throws IllegalArgumentException when the topic does not exist
     */
    static PartitionScan of(KafkaConsumer<String, byte[]> consumer, String servers, String topic, String callId,
                            Long sinceMs, Long untilMs, Consumer<String> progress) {
        int partitions = KafkaSource.partitions(consumer, topic, servers).size();
        TopicPartition p = new TopicPartition(topic, CallPartitions.of(callId, partitions));
        consumer.assign(List.of(p));
        long earliest = consumer.beginningOffsets(List.of(p), TIMEOUT).get(p);
        long end = consumer.endOffsets(List.of(p), TIMEOUT).get(p);
        long from = sinceMs == null ? earliest : offsetAt(consumer, p, sinceMs, end);
        // Timestamps bound the scan: no need to read past the first record after --until.
        long to = untilMs == null ? end : Math.min(end, offsetAt(consumer, p, untilMs + 1, end));
        long earliestTimestamp = -1;
        List<ConsumerRecord<String, byte[]>> found = new ArrayList<>();
        if (earliest < end) {
            consumer.seek(p, earliest);
            var first = consumer.poll(TIMEOUT).records(p);
            earliestTimestamp = first.isEmpty() ? -1 : first.get(0).timestamp();
        }
        long started = System.nanoTime();
        long lastProgress = started;
        long position = Math.max(from, earliest);
        consumer.seek(p, position);
        while (position < to) {
            var batch = consumer.poll(Duration.ofMillis(500)).records(p);
            for (ConsumerRecord<String, byte[]> r : batch) {
                if (r.offset() >= to) {
                    break;
                }
                boolean inTime = (sinceMs == null || r.timestamp() >= sinceMs)
                        && (untilMs == null || r.timestamp() <= untilMs);
                if (callId.equals(r.key()) && inTime) {
                    found.add(r);
                }
            }
            position = consumer.position(p, TIMEOUT);
            long now = System.nanoTime();
            if (now - started > PROGRESS_AFTER_NANOS && now - lastProgress > 2_000_000_000L) {
                lastProgress = now;
                progress.accept(String.format("replay: %s offset %d of %d (%.0f%%), %d records of the call so far",
                        p, position, to, 100.0 * (position - from) / Math.max(1, to - from), found.size()));
            }
        }
        return new PartitionScan(p, earliest, earliestTimestamp, from, to, found);
    }

    private static long offsetAt(KafkaConsumer<String, byte[]> consumer, TopicPartition p, long timestampMs,
                                 long end) {
        Map<TopicPartition, OffsetAndTimestamp> at = consumer.offsetsForTimes(Map.of(p, timestampMs), TIMEOUT);
        OffsetAndTimestamp found = at.get(p);
        return found == null ? end : found.offset();
    }
}
