package io.callguard.cli.drill;

import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * After a drill, reads the gateway's topics to check what it promised: every webhook it acknowledged is on
 * {@code call-events} (acknowledge only what is durable), and every call the drill ended is archived exactly once as
 * ended. Read committed, as a tap would.
 */
final class EventAudit {

    /** A webhook the gateway answered 2xx. */
    record Acked(String callId, String event) {
    }

    /**
     * What the topics hold.
     *
     * @param acknowledged   distinct webhooks acknowledged
     * @param missing        of them, not on call-events
     * @param callsEnded     calls the drill ended with call_ended
     * @param archivedEnded  of them, archived as ended
     * @param notArchived    of them, not archived (yet, after the wait)
     * @param archivedTwice  calls archived more than once
     * @param archivedOther  calls archived with another reason than ended (expired, socket lost, rejected)
     * @param examples       a few of the missing or wrong, to look at
     */
    record Result(long acknowledged, long missing, long callsEnded, long archivedEnded, long notArchived,
                  long archivedTwice, long archivedOther, List<String> examples) {

        boolean clean() {
            return missing == 0 && notArchived == 0 && archivedTwice == 0 && archivedOther == 0;
        }
    }

    private static final int EXAMPLES = 5;

    private EventAudit() {
    }

    /**
     * Reads both topics to their end, again until every ended call is archived or {@code wait} passed.
     *
     * @param acked      the webhooks the gateway acknowledged
     * @param endedCalls the calls the drill sent call_ended for
     */
    static Result audit(String bootstrapServers, Topics topics, Set<Acked> acked, Set<String> endedCalls,
                        Duration wait) {
        Set<Acked> seen = new HashSet<>();
        Map<String, List<ArchiveReason>> archived = new HashMap<>();
        var events = JsonSerde.of(CallEvent.class).trustingDeserializer();
        var archives = JsonSerde.of(CallArchive.class).trustingDeserializer();
        long deadline = System.nanoTime() + wait.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = consumer(bootstrapServers)) {
            readToEnd(consumer, topics.callEvents().name(), r -> {
                CallEvent e = events.deserialize(r.topic(), r.value());
                if (e != null && e.source() == EventSource.WEBHOOK) {
                    seen.add(new Acked(e.callId(), e.type()));
                }
            });
            while (true) {
                archived.clear();
                readToEnd(consumer, topics.callArchive().name(), r -> {
                    CallArchive a = archives.deserialize(r.topic(), r.value());
                    if (a != null) {
                        archived.computeIfAbsent(a.callId(), k -> new ArrayList<>()).add(a.reason());
                    }
                });
                boolean all = endedCalls.stream().allMatch(archived::containsKey);
                if (all || System.nanoTime() > deadline) {
                    break;
                }
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        List<String> examples = new ArrayList<>();
        long missing = 0;
        for (Acked a : acked) {
            if (!seen.contains(a)) {
                missing++;
                if (examples.size() < EXAMPLES) {
                    examples.add("acknowledged but not on call-events: " + a.event() + " of " + a.callId());
                }
            }
        }
        long archivedEnded = 0;
        long notArchived = 0;
        long twice = 0;
        long other = 0;
        for (String call : endedCalls) {
            List<ArchiveReason> reasons = archived.get(call);
            if (reasons == null) {
                notArchived++;
                if (examples.size() < EXAMPLES) {
                    examples.add("ended but not archived: " + call);
                }
                continue;
            }
            if (reasons.size() > 1) {
                twice++;
            }
            if (reasons.get(0) == ArchiveReason.ENDED) {
                archivedEnded++;
            } else {
                other++;
                if (examples.size() < EXAMPLES) {
                    examples.add("archived as " + reasons.get(0) + ", not ended: " + call);
                }
            }
        }
        return new Result(acked.size(), missing, endedCalls.size(), archivedEnded, notArchived, twice, other,
                examples);
    }

    private static KafkaConsumer<String, byte[]> consumer(String bootstrapServers) {
        Map<String, Object> c = new HashMap<>();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, "callguard-drill-audit");
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2_000);
        return new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
    }

    private static void readToEnd(KafkaConsumer<String, byte[]> consumer, String topic,
                                  Consumer<ConsumerRecord<String, byte[]>> each) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
            partitions.add(new TopicPartition(topic, p.partition()));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (partitions.stream().anyMatch(tp -> consumer.position(tp, Duration.ofSeconds(30)) < end.get(tp))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not read " + topic + " to its end within 120 s");
            }
            consumer.poll(Duration.ofMillis(200)).forEach(each);
        }
    }
}
