package io.callguard.app;

import io.callguard.egress.DialOutClient;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dial-out mode: opens a call's socket when the processor admits the call and hangs up when the call is
 * over, following {@code call-state}. The edge nodes share the partitions as one consumer group, so each
 * call is dialled by exactly one of them.
 */
final class DialOutTrigger implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DialOutTrigger.class);

    private final DialOutClient client;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Topics topics;
    private final Thread thread;
    private volatile boolean running = true;

    DialOutTrigger(DialOutClient client, String bootstrapServers, Topics topics, String groupId) {
        this.client = client;
        this.topics = topics;
        this.consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, groupId, ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, true), new StringDeserializer(), new ByteArrayDeserializer());
        this.thread = new Thread(this::run, "callguard-dialout-trigger");
        thread.setDaemon(true);
    }

    void start() {
        consumer.subscribe(List.of(topics.callState().name()));
        thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        apply(r.key(), topics.callState().valueSerde().deserializer().deserialize(r.topic(), r.value()));
                    } catch (RuntimeException e) {
                        LOG.warn("dial-out trigger skips {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                                e.getMessage());
                    }
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } finally {
            consumer.close(Duration.ofSeconds(2));
        }
    }

    private void apply(String callId, CallState state) {
        if (callId == null) {
            return;
        }
        if (state == null || state.status() == CallStatus.ENDED || state.status() == CallStatus.EXPIRED
                || state.status() == CallStatus.REJECTED) {
            if (client.isDialling(callId)) {
                client.hangUp(callId);
            }
        } else if (state.status() == CallStatus.ACTIVE && !client.isDialling(callId)) {
            LOG.info("dialling out for admitted call {}", callId);
            client.dial(callId);
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
