package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.TopicReader;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slots free themselves on a real broker: a call known only by its socket is admitted by the opening, and when
 * its socket closes and none comes back within {@code capacity.socket-lost-grace-ms} its slot goes to the queued
 * call; a socket that comes back in time keeps it. Socket events are produced as the edge produces them.
 */
@Tag("integration")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SocketLostCapacityIT {

    private static final Duration WAIT = Duration.ofSeconds(45);
    private static final long GRACE_MS = 2_000;

    @TempDir
    Path dir;

    private Gateway gateway;

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldReleaseTheSlotOfALostSocketToTheQueuedCallAndKeepTheSlotOfOneThatCameBack() throws Exception {
        // Given one partition with one slot and two queue places, a grace of 2 s
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "lost-key", "roles", "processor", "topics.partitions", "1",
                "capacity.max-active-calls-per-partition", "1", "capacity.queue-size", "2",
                "capacity.socket-lost-grace-ms", String.valueOf(GRACE_MS)));
        settings.put("call.expiry-scan-interval-ms", "200");
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(WAIT).until(() -> gateway.processor().isRunning());
        Topics topics = gateway.config().common().topics();
        try (KafkaProducer<String, CallEvent> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, gateway.bootstrapServers()), new StringSerializer(),
                topics.callEvents().valueSerde().serializer());
             TopicReader<CallArchive> archive = new TopicReader<>(gateway.bootstrapServers(),
                     topics.callArchive().name(), topics.callArchive().valueSerde().deserializer(), true)) {
            // When three socket-only calls open: a on the slot, b and c waiting
            for (String call : new String[] {"a", "b", "c"}) {
                send(producer, topics, socketEvent(call, CallEvent.TYPE_SOCKET_OPENED, call + "-1"));
            }
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(status("a")).isEqualTo(CallStatus.ACTIVE);
                assertThat(status("b")).isEqualTo(CallStatus.QUEUED);
                assertThat(status("c")).isEqualTo(CallStatus.QUEUED);
            });

            // And b's socket drops and comes back at once (a reconnect), and a's drops for good
            send(producer, topics, socketEvent("b", CallEvent.TYPE_SOCKET_CLOSED, "b-1"));
            send(producer, topics, socketEvent("b", CallEvent.TYPE_SOCKET_OPENED, "b-2"));
            send(producer, topics, socketEvent("a", CallEvent.TYPE_SOCKET_CLOSED, "a-1"));

            // Then after the grace a is archived as socket_lost, b (the queue's head) takes the slot, c still waits
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(status("a")).isEqualTo(CallStatus.EXPIRED);
                assertThat(status("b")).isEqualTo(CallStatus.ACTIVE);
            });
            assertThat(status("c")).isEqualTo(CallStatus.QUEUED);
            assertThat(gateway.processor().callState("b").orElseThrow().reconnects()).isEqualTo(1);
            await().atMost(WAIT).until(() -> !archive.valuesFor("a").isEmpty());
            assertThat(archive.valuesFor("a")).singleElement()
                    .satisfies(a -> assertThat(a.reason()).isEqualTo(ArchiveReason.SOCKET_LOST));
            assertThat(archive.valuesFor("b")).isEmpty();
        }
    }

    private CallStatus status(String callId) {
        return gateway.processor().callState(callId).map(CallState::status).orElse(null);
    }

    private static void send(KafkaProducer<String, CallEvent> producer, Topics topics, CallEvent event)
            throws Exception {
        producer.send(new ProducerRecord<>(topics.callEvents().name(), event.callId(), event)).get(10, TimeUnit.SECONDS);
    }

    private static CallEvent socketEvent(String callId, String type, String connectionId) {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", connectionId);
        if (CallEvent.TYPE_SOCKET_OPENED.equals(type)) {
            payload.put("begin", CallEvent.BEGIN_OWED);
        } else {
            payload.put("code", 1006).put("reason", "");
        }
        return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, EventSource.SOCKET, type,
                null, System.currentTimeMillis(), null, "it-edge", payload);
    }
}
