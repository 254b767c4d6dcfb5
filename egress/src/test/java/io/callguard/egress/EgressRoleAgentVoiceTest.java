package io.callguard.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.common.CommonConfig;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's whole voice through the role: version-2 records read from the responses topic (as bytes, by the
 * role's own reader) onto a socket, on Kafka's MockConsumer and real timer threads, as {@link EgressRoleTest}.
 */
class EgressRoleAgentVoiceTest {

    private static final Topics TOPICS = Topics.defaults();
    private static final String TOPIC = TOPICS.responses().name();
    private static final TopicPartition P0 = new TopicPartition(TOPIC, 0);
    private static final String CALL = "call-1";
    private static final long BUDGET_MS = 300;

    private final MockConsumer<String, byte[]> consumer = new MockConsumer<>("latest");
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private EgressRole role;
    private long offset;

    @BeforeEach
    void startRole() throws Exception {
        CommonConfig common = new CommonConfig(Map.of(CommonConfig.TURN_BUDGET_MS_CONFIG, BUDGET_MS,
                CommonConfig.TURN_FIRST_WORDS_DEADLINE_MS_CONFIG, 10_000L));
        role = new EgressRole(new EgressConfig(Map.of("socket.greeting", "Hi, one moment.")), common, TOPICS,
                meters, Clock.systemUTC(), consumer);
        consumer.updatePartitions(TOPIC, List.of(new PartitionInfo(TOPIC, 0, Node.noNode(), new Node[0],
                new Node[0])));
        consumer.updateEndOffsets(Map.of(P0, 0L));
        role.start();
        assertThat(role.awaitReady(Duration.ofSeconds(5))).isTrue();
    }

    @AfterEach
    void closeRole() {
        role.close();
    }

    private void produce(AgentResponse record) {
        byte[] bytes = JsonSerde.of(AgentResponse.class).toBytes(record);
        long at = offset++;
        // MockConsumer is not thread-safe: records are added on its poll thread.
        consumer.schedulePollTask(() -> consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, at, CALL, bytes)));
    }

    private static AgentResponse chunk(long responseId, int index, String content, boolean complete) {
        long now = System.currentTimeMillis();
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, responseId, ResponseKind.GENERATED, null,
                content, complete, null, index, now, now, "node-a");
    }

    @Test
    void shouldRelayToolFramesInOrderAndTheActionOnTheCompleteFrame() {
        // Given
        RecordingSocket socket = new RecordingSocket(CALL, "c1");
        role.edgeListener().socketOpened(socket);
        role.edgeListener().turnRequested(socket, 1, System.currentTimeMillis());

        // When a tool call, its result and a final answer that hangs up arrive, then an interrupt
        produce(chunk(1, 0, "Checking. ", false).withFrames(
                List.of(AgentFrame.toolCallInvocation("tc-1", "lookup_order", "{}")), null));
        produce(chunk(1, 1, "", false).withFrames(List.of(AgentFrame.toolCallResult("tc-1", "shipped", null)),
                null).withActions(true, null, null, null));
        produce(chunk(1, 2, "It shipped. Bye.", true).withActions(null, "+15550100", null, null));
        produce(chunk(1, 0, "One more thing.", true).withScope(AgentResponse.SCOPE_INTERRUPT, 7L));

        // Then
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 5);
        assertThat(socket.frames()).containsExactly(
                "{\"response_type\":\"tool_call_invocation\",\"tool_call_id\":\"tc-1\",\"name\":\"lookup_order\","
                        + "\"arguments\":\"{}\"}",
                "{\"response_type\":\"response\",\"response_id\":1,\"content\":\"Checking. \","
                        + "\"content_complete\":false}",
                "{\"response_type\":\"tool_call_result\",\"tool_call_id\":\"tc-1\",\"content\":\"shipped\"}",
                "{\"response_type\":\"response\",\"response_id\":1,\"content\":\"It shipped. Bye.\","
                        + "\"content_complete\":true,\"end_call\":true}",
                "{\"response_type\":\"agent_interrupt\",\"interrupt_id\":7,\"content\":\"One more thing.\","
                        + "\"content_complete\":true}");
    }

    @Test
    void shouldBridgeTheAgentsBeginWithTheGreetingAndLetTheAgentCompleteIt() {
        // Given the begin message is owed by the agent
        RecordingSocket socket = new RecordingSocket(CALL, "c1");
        role.edgeListener().socketOpened(socket);
        role.edgeListener().beginRequested(socket, System.currentTimeMillis());

        // When the budget passes, then the agent's begin arrives
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 1);
        produce(chunk(0, 0, "This is Ada.", true));

        // Then
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 2);
        assertThat(socket.frames()).containsExactly(
                "{\"response_type\":\"response\",\"response_id\":0,\"content\":\"Hi, one moment. \","
                        + "\"content_complete\":false}",
                "{\"response_type\":\"response\",\"response_id\":0,\"content\":\"This is Ada.\","
                        + "\"content_complete\":true}");
    }
}
