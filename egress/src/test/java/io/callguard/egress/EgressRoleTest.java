package io.callguard.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.common.CommonConfig;
import io.callguard.common.RoleState;
import io.callguard.retell.socket.SocketFrames;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.Json;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The role's poll loop and lifecycle, on Kafka's MockConsumer and real timer threads. */
class EgressRoleTest {

    private static final Topics TOPICS = Topics.defaults();
    private static final String TOPIC = TOPICS.responses().name();
    private static final TopicPartition P0 = new TopicPartition(TOPIC, 0);
    private static final TopicPartition P1 = new TopicPartition(TOPIC, 1);

    private final MockConsumer<String, byte[]> consumer = new MockConsumer<>("latest");
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private EgressRole role;

    @AfterEach
    void closeRole() {
        if (role != null) {
            role.close();
        }
    }

    private EgressRole role(long budgetMs) {
        CommonConfig common = new CommonConfig(Map.of(CommonConfig.TURN_BUDGET_MS_CONFIG, budgetMs,
                CommonConfig.TURN_FIRST_WORDS_DEADLINE_MS_CONFIG, budgetMs + 100));
        role = new EgressRole(new EgressConfig(Map.of()), common, TOPICS, meters, Clock.systemUTC(), consumer);
        return role;
    }

    private static PartitionInfo partition(int p) {
        return new PartitionInfo(TOPIC, p, Node.noNode(), new Node[0], new Node[0]);
    }

    private static AgentResponse answer(long responseId, String content) {
        long now = System.currentTimeMillis();
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, "call-1", responseId, ResponseKind.GENERATED, null,
                content, true, null, 0, now, now, "node-a");
    }

    @Test
    void shouldAssignAllPartitionsAtTheEndAndDeliverAnswers() throws Exception {
        // Given
        consumer.updatePartitions(TOPIC, List.of(partition(0), partition(1)));
        consumer.updateEndOffsets(Map.of(P0, 5L, P1, 0L));
        role(800).start();
        assertThat(role.awaitReady(Duration.ofSeconds(5))).isTrue();
        RecordingSocket socket = new RecordingSocket("call-1", "c1");
        role.edgeListener().socketOpened(socket);
        role.edgeListener().turnRequested(socket, 1, System.currentTimeMillis());

        // When an unreadable record, then an answer, arrive
        consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, 5, "call-1", "{not json".getBytes(StandardCharsets.UTF_8)));
        consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, 6, "call-1",
                JsonSerde.of(AgentResponse.class).toBytes(answer(1, "From Kafka."))));

        // Then
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 1);
        JsonNode frame = Json.mapper().readTree(socket.frames().get(0));
        assertThat(frame.get("content").asText()).isEqualTo("From Kafka.");
        assertThat(consumer.assignment()).containsExactlyInAnyOrder(P0, P1);
        assertThat(consumer.subscription()).isEmpty();
        assertThat(meters.find(EgressMetrics.RESPONSES_INVALID).counter().count()).isEqualTo(1.0);
    }

    @Test
    void shouldSendEdgeFallbackWhenKafkaIsUnreachable() throws Exception {
        // Given a consumer that never sees the topic
        role(100).start();
        RecordingSocket socket = new RecordingSocket("call-1", "c1");
        role.edgeListener().socketOpened(socket);

        // When
        role.edgeListener().turnRequested(socket, 3, System.currentTimeMillis());

        // Then the edge bridges at the budget and closes at the first-words deadline, by itself
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 2);
        JsonNode filler = Json.mapper().readTree(socket.frames().get(0));
        JsonNode frame = Json.mapper().readTree(socket.frames().get(1));
        assertThat(filler.get("content_complete").booleanValue()).isFalse();
        assertThat(frame.get("response_id").asLong()).isEqualTo(3);
        assertThat(frame.get("content_complete").booleanValue()).isTrue();
        assertThat(role.awaitReady(Duration.ZERO)).isFalse();
    }

    @Test
    void shouldLeaveNoThreadBehindOnClose() {
        // Given
        consumer.updatePartitions(TOPIC, List.of(partition(0)));
        consumer.updateEndOffsets(Map.of(P0, 0L));
        role(800).start();

        // When
        role.close();
        role = null;

        // Then
        assertThat(consumer.closed()).isTrue();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("callguard-egress"));
    }

    @Test
    void shouldCloseTheConsumerWhenClosedWithoutStart() {
        // Given
        role(800);

        // When
        role.close();
        role = null;

        // Then
        assertThat(consumer.closed()).isTrue();
    }

    @Test
    void shouldRefuseASecondStartAndCloseTwice() {
        // Given
        consumer.updatePartitions(TOPIC, List.of(partition(0)));
        consumer.updateEndOffsets(Map.of(P0, 0L));
        role(800);
        assertThat(role.health().state()).isEqualTo(RoleState.CREATED);
        role.start();

        // When / Then
        assertThat(role.health().state()).isEqualTo(RoleState.RUNNING);
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> role.health().ready());
        assertThat(role.health().detail()).isEqualTo("following every responses partition");
        role.close();
        role.close();
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThat(role.health().ready()).isFalse();
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        role = null;
    }
}
