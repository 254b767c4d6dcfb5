package io.callguard.processor.responder;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.CommonConfig;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.common.RoleState;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Kafka shell around the turn logic, on mock clients (the lead's end-to-end tests use a real broker). */
class ResponderRoleTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private final Topics topics = Topics.defaults();
    private final TopicPartition partition = new TopicPartition(topics.callEvents().name(), 0);
    private final TopicPartition statePartition = new TopicPartition(topics.callState().name(), 0);
    private final MockConsumer<String, byte[]> consumer = new MockConsumer<>("earliest");
    private final MockProducer<String, AgentResponse> producer = new MockProducer<>(true, null,
            topics.responses().keySerde().serializer(), topics.responses().valueSerde().serializer());
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final ResponderConfig config = new ResponderConfig(Map.of());
    private final CommonConfig common = new CommonConfig(Map.of());

    @AfterEach
    void stopTimer() throws InterruptedException {
        timer.shutdownNow();
        assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }

    private ResponderRole role() {
        return role(config);
    }

    private ResponderRole role(ResponderConfig with) {
        ScriptBackend backend = new ScriptBackend(with, timer, new SplittableRandom(1));
        return new ResponderRole(with, common, topics, meters, Clock.systemUTC(), backend, timer, consumer, producer,
                List.of());
    }

    private byte[] turnBytes(String callId, long responseId) {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "ping");
        CallEvent event = new CallEvent(CallEvent.SCHEMA_VERSION, "e-1", callId, EventSource.SOCKET,
                "response_required", IdempotencyKeys.forSocket("response_required", callId, responseId),
                System.currentTimeMillis(), responseId, "node-a", frame);
        return topics.callEvents().valueSerde().serializer().serialize(partition.topic(), event);
    }

    private byte[] activeStateBytes(String callId) {
        CallState state = CallState.builder(callId).status(CallStatus.ACTIVE).agentId("agent-1").build();
        return topics.callState().valueSerde().serializer().serialize(statePartition.topic(), state);
    }

    private static boolean pollThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("callguard-responder-poll") && t.isAlive());
    }

    @Test
    void shouldAnswerTurnsFromTheTopicAndSkipUndecodableRecords() {
        // Given a partition holding an undecodable record, then a turn request, of a call the co-partitioned
        // call-state partition says is active
        consumer.updateBeginningOffsets(Map.of(partition, 0L, statePartition, 0L));
        consumer.updateEndOffsets(Map.of(statePartition, 1L));
        consumer.schedulePollTask(() -> {
            consumer.rebalance(List.of(partition, statePartition));
            consumer.addRecord(new ConsumerRecord<>(statePartition.topic(), 0, 0L, "call-1", activeStateBytes("call-1")));
            consumer.addRecord(new ConsumerRecord<>(partition.topic(), 0, 0L, "call-1",
                    "{not json".getBytes(StandardCharsets.UTF_8)));
            consumer.addRecord(new ConsumerRecord<>(partition.topic(), 0, 1L, "call-1", turnBytes("call-1", 1)));
        });
        ResponderRole role = role();

        // When
        role.start();

        // Then the turn is answered on the responses topic, keyed by call id
        await().atMost(WAIT).until(() -> producer.history().stream().anyMatch(r -> r.value().contentComplete()));
        List<ProducerRecord<String, AgentResponse>> sent = producer.history();
        assertThat(consumer.subscription()).containsExactlyInAnyOrder(topics.callEvents().name(),
                topics.callState().name());
        assertThat(sent).allSatisfy(r -> {
            assertThat(r.topic()).isEqualTo(topics.responses().name());
            assertThat(r.key()).isEqualTo("call-1");
            assertMatchesSchema(r.value());
        });
        // The script answers at once, so its chunks are coalesced into the one content_complete record
        assertThat(sent).extracting(r -> r.value().content()).containsExactly("You said: ping");
        assertThat(sent).extracting(r -> r.value().contentComplete()).containsExactly(true);

        // And the undecodable record was counted and skipped, and the offsets of both committed
        assertThat(meters.find(ResponderMetrics.RECORDS_DROPPED).tag("reason", "deserialization").counter().count())
                .isEqualTo(1);
        await().atMost(WAIT).until(() -> {
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(Set.of(partition));
            return committed.get(partition) != null && committed.get(partition).offset() == 2;
        });
        assertThat(role.isRunning()).isTrue();

        // When
        role.close();

        // Then no thread is left and the clients are closed
        assertThat(pollThreadAlive()).isFalse();
        assertThat(role.isRunning()).isFalse();
        assertThat(consumer.closed()).isTrue();
        assertThat(producer.closed()).isTrue();
    }

    @Test
    void shouldLeaveTheGroupAtOnceOnDrainAndStillAnswerTheTurnInFlight() throws Exception {
        // Given a responder whose backend takes a second, with a turn of an active call in flight
        consumer.updateBeginningOffsets(Map.of(partition, 0L, statePartition, 0L));
        consumer.updateEndOffsets(Map.of(statePartition, 1L));
        consumer.schedulePollTask(() -> {
            consumer.rebalance(List.of(partition, statePartition));
            consumer.addRecord(new ConsumerRecord<>(statePartition.topic(), 0, 0L, "call-1", activeStateBytes("call-1")));
            consumer.addRecord(new ConsumerRecord<>(partition.topic(), 0, 0L, "call-1", turnBytes("call-1", 1)));
        });
        ResponderRole role = role(new ResponderConfig(Map.of("agent.script.delay-ms", "1000")));
        role.start();
        await().atMost(WAIT).until(() -> role.turns().inFlight() == 1);

        // When it drains
        java.util.concurrent.CompletableFuture<Integer> drained = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return role.drain(Duration.ofSeconds(10));
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });

        // Then it stops reading and leaves the group (another member takes the partitions now) while the answer is
        // still being generated; draining, it is neither ready nor failed
        await().atMost(WAIT).until(consumer::closed);
        assertThat(producer.history()).noneMatch(r -> r.value().contentComplete());
        assertThat(role.health().state()).isEqualTo(RoleState.DRAINING);
        assertThat(role.health().ready()).isFalse();
        assertThat(role.health().live()).isTrue();

        // And the drain returns once the whole answer went out (after the filler the budget asked for), no turn left
        assertThat(drained.get(10, TimeUnit.SECONDS)).isZero();
        assertThat(producer.history()).extracting(r -> r.value().content()).containsExactly("One moment. ",
                "You said: ping");
        assertThat(producer.history().get(1).value().contentComplete()).isTrue();
        role.close();
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThat(pollThreadAlive()).isFalse();
    }

    @Test
    void shouldAskForCoPartitionedAssignmentsOfCallEventsAndCallState() {
        // Given / When
        Map<String, Object> c = ResponderRole.consumerConfig(config,
                new io.callguard.common.KafkaClients("127.0.0.1:9092", "n1"));

        // Then the range assignor on the classic protocol: partition n of both topics to one member
        assertThat(c.get(org.apache.kafka.clients.consumer.ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG))
                .isEqualTo(List.of(org.apache.kafka.clients.consumer.RangeAssignor.class.getName()));
        assertThat(c.get(org.apache.kafka.clients.consumer.ConsumerConfig.GROUP_PROTOCOL_CONFIG)).isEqualTo("classic");
        // And the check of an assignment
        TopicPartition events1 = new TopicPartition(topics.callEvents().name(), 1);
        TopicPartition state1 = new TopicPartition(topics.callState().name(), 1);
        assertThat(ResponderRole.coPartitioned(List.of(partition, statePartition, events1, state1), topics)).isTrue();
        assertThat(ResponderRole.coPartitioned(List.of(partition, state1), topics)).isFalse();
        assertThat(ResponderRole.coPartitioned(List.of(), topics)).isTrue();
    }

    @Test
    void shouldBatchAnswersForTheTurnLingerAndTheCacheOffThePath() {
        // Given clients lingering 5 ms on the turn path (turn.kafka-linger-ms), and ones that do not
        io.callguard.common.KafkaClients clients = new io.callguard.common.KafkaClients("127.0.0.1:9092", "n1");

        // When / Then: the answers' producer lingers exactly that long, every record at once without it
        assertThat(ResponderRole.producerConfig(clients.withTurnLingerMs(5))
                .get(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG)).isEqualTo(5);
        assertThat(ResponderRole.producerConfig(clients)
                .get(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG)).isEqualTo(0);
    }

    @Test
    void shouldGiveUpADeadMemberSoon() {
        // Given a responder session of 7 s
        Map<String, Object> c = ResponderRole.consumerConfig(
                new ResponderConfig(Map.of(ResponderConfig.SESSION_TIMEOUT_MS_CONFIG, "7000")),
                new io.callguard.common.KafkaClients("127.0.0.1:9092", "n1"));

        // Then a member that stops heartbeating loses its partitions after 7 s
        assertThat(c.get(org.apache.kafka.clients.consumer.ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo(7000);
        assertThat((int) c.get(org.apache.kafka.clients.consumer.ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG))
                .isLessThanOrEqualTo(7000 / 3);
        // And Kafka's own consumer accepts the settings
        assertThat(new org.apache.kafka.clients.consumer.ConsumerConfig(withDeserializers(c))
                .getInt(org.apache.kafka.clients.consumer.ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo(7000);
    }

    private static Map<String, Object> withDeserializers(Map<String, Object> c) {
        Map<String, Object> out = new java.util.HashMap<>(c);
        out.put("key.deserializer", org.apache.kafka.common.serialization.StringDeserializer.class);
        out.put("value.deserializer", org.apache.kafka.common.serialization.ByteArrayDeserializer.class);
        return out;
    }

    @Test
    void shouldCloseCleanlyWithoutStarting() {
        // Given
        ResponderRole role = role();

        // When
        role.close();
        role.close();

        // Then
        assertThat(consumer.closed()).isTrue();
        assertThat(producer.closed()).isTrue();
        assertThat(pollThreadAlive()).isFalse();
    }

    @Test
    void shouldRefuseASecondStartAndReportItsHealth() {
        // Given
        ResponderRole role = role();
        assertThat(role.health().state()).isEqualTo(RoleState.CREATED);
        assertThat(role.health().detail()).isEqualTo("not running");

        // When
        role.start();

        // Then
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        assertThat(role.health().state()).isEqualTo(RoleState.RUNNING);
        assertThat(role.health().ready()).as("not yet assigned").isFalse();
        role.close();
        role.close();
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThat(role.health().live()).isTrue();
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        assertThat(pollThreadAlive()).isFalse();
    }
}
