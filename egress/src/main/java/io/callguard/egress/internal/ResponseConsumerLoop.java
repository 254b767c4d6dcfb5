package io.callguard.egress.internal;

import io.callguard.schemas.AgentResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.Deserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The responses poll loop: assigns itself every partition of the topic (no consumer group), starts at the
 * end, and hands each answer to {@link ResponseDelivery}. Partitions added later are picked up from their
 * beginning. A record that cannot be read is logged with topic, partition and offset, counted and skipped;
 * a failing delivery likewise; neither stops the loop. Runs on one thread until {@link #stop()}.
 */
public final class ResponseConsumerLoop implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseConsumerLoop.class);
    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(5);
    private static final long RETRY_PAUSE_MS = 1_000;
    private static final long PARTITION_REFRESH_MS = 30_000;

    private final Consumer<String, byte[]> consumer;
    private final String topic;
    private final Deserializer<AgentResponse> deserializer;
    private final ResponseDelivery delivery;
    private final EgressMeters meters;
    private final Duration pollTimeout;
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch stopping = new CountDownLatch(1);
    private volatile boolean running = true;

    public ResponseConsumerLoop(Consumer<String, byte[]> consumer, String topic,
                                Deserializer<AgentResponse> deserializer, ResponseDelivery delivery,
                                EgressMeters meters, Duration pollTimeout) {
        this.consumer = consumer;
        this.topic = topic;
        this.deserializer = deserializer;
        this.delivery = delivery;
        this.meters = meters;
        this.pollTimeout = pollTimeout;
    }

    @Override
    public void run() {
        try {
            Set<TopicPartition> assigned = new HashSet<>();
            while (running && assigned.isEmpty()) {
                assigned.addAll(assignNew(assigned, true));
                if (assigned.isEmpty()) {
                    LOG.warn("topic {} has no partitions yet (or Kafka is unreachable); retrying", topic);
                    pause();
                }
            }
            if (running) {
                ready.countDown();
            }
            long nextRefresh = System.currentTimeMillis() + PARTITION_REFRESH_MS;
            while (running) {
                pollOnce();
                if (System.currentTimeMillis() >= nextRefresh) {
                    assigned.addAll(assignNew(assigned, false));
                    nextRefresh = System.currentTimeMillis() + PARTITION_REFRESH_MS;
                }
            }
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } finally {
            try {
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(2)));
            } catch (RuntimeException e) {
                LOG.warn("responses consumer did not close cleanly", e);
            }
        }
    }

    private void pollOnce() {
        ConsumerRecords<String, byte[]> records;
        try {
            records = consumer.poll(pollTimeout);
        } catch (WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            // The edge keeps its sockets and its watchdog whatever Kafka does; keep trying.
            LOG.error("polling {} failed; retrying", topic, e);
            pause();
            return;
        }
        for (ConsumerRecord<String, byte[]> record : records) {
            handle(record);
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return;
        }
        AgentResponse response;
        try {
            response = deserializer.deserialize(record.topic(), record.value());
        } catch (RuntimeException e) {
            meters.invalid();
            LOG.warn("skipping unreadable response at {}-{}@{}: {}", record.topic(), record.partition(),
                    record.offset(), e.getMessage());
            return;
        }
        try {
            delivery.deliver(response);
        } catch (RuntimeException e) {
            meters.invalid();
            LOG.error("delivering response at {}-{}@{} failed", record.topic(), record.partition(), record.offset(), e);
        }
    }

    /** Assigns partitions not yet assigned; at start they begin at the end, found later at the beginning. */
    private List<TopicPartition> assignNew(Set<TopicPartition> assigned, boolean atStart) {
        List<PartitionInfo> infos;
        try {
            infos = consumer.partitionsFor(topic, METADATA_TIMEOUT);
        } catch (WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            LOG.warn("cannot list the partitions of {}: {}", topic, e.toString());
            return List.of();
        }
        List<TopicPartition> fresh = new ArrayList<>();
        for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
            TopicPartition partition = new TopicPartition(info.topic(), info.partition());
            if (!assigned.contains(partition)) {
                fresh.add(partition);
            }
        }
        if (fresh.isEmpty()) {
            return fresh;
        }
        List<TopicPartition> all = new ArrayList<>(assigned);
        all.addAll(fresh);
        consumer.assign(all);
        if (atStart) {
            consumer.seekToEnd(fresh);
        } else {
            consumer.seekToBeginning(fresh);
        }
        // Resolve positions now, so "ready" means answers produced from here on are seen.
        fresh.forEach(consumer::position);
        LOG.info("reading {} partitions of {} ({} new)", all.size(), topic, fresh.size());
        return fresh;
    }

    private void pause() {
        try {
            stopping.await(RETRY_PAUSE_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    /** Waits until every partition is assigned and positioned at its end. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        return ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Asks the loop to end; the thread closes the consumer on its way out. */
    public void stop() {
        running = false;
        stopping.countDown();
        consumer.wakeup();
    }
}
