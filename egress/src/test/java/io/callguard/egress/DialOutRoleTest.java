package io.callguard.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.common.RoleState;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dial-out role: call-state records dial and hang up through a real Jetty client against a real server. */
class DialOutRoleTest {

    private static final Topics TOPICS = Topics.defaults();
    private static final String CALL = "call-1";
    private static final TopicPartition P0 = new TopicPartition(TOPICS.callState().name(), 0);

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final MockConsumer<String, byte[]> consumer = new MockConsumer<>("latest");
    private final AtomicInteger consumersBuilt = new AtomicInteger();
    private final RecordingFrames frames = new RecordingFrames();
    /** The edge listener of a real egress (never started: its registry works without Kafka). */
    private final EgressRole egress = new EgressRole(new EgressConfig(Map.of()), new CommonConfig(Map.of()), TOPICS,
            meters, Clock.systemUTC(), new MockConsumer<>("latest"));
    private TestLlmServer server;
    private DialOutRole role;

    @BeforeEach
    void startServer() throws Exception {
        server = new TestLlmServer().start();
    }

    @AfterEach
    void stopAll() throws Exception {
        if (role != null) {
            role.close();
        }
        egress.close();
        server.close();
    }

    private EgressConfig config() {
        return new EgressConfig(Map.of(EgressConfig.DIALOUT_ENABLED_CONFIG, true,
                EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG,
                "ws://127.0.0.1:" + server.port() + "/llm-websocket/{call_id}?token=secret"));
    }

    private DialOutRole role() {
        role = new DialOutRole(config(), TOPICS, egress.edgeListener(), frames, meters, props -> {
            consumersBuilt.incrementAndGet();
            return consumer;
        }, Map.of());
        return role;
    }

    private void stateArrives(long offset, CallStatus status) {
        byte[] value = TOPICS.callState().valueSerde().serializer().serialize(P0.topic(),
                CallState.initial(CALL, status, 1_700_000_000_000L));
        consumer.schedulePollTask(() -> consumer.addRecord(new ConsumerRecord<>(P0.topic(), 0, offset, CALL, value)));
    }

    @Test
    void shouldDialAnAdmittedCallAndHangUpWhenItEnds() {
        // Given a started role assigned the call-state partition
        role().start();
        consumer.schedulePollTask(() -> {
            consumer.updateEndOffsets(Map.of(P0, 0L));
            consumer.rebalance(List.of(P0));
        });

        // When the call is admitted
        stateArrives(0, CallStatus.ACTIVE);

        // Then it is dialled, and the socket's frames go to the sink
        await().atMost(Duration.ofSeconds(5)).until(() -> frames.opened.size() == 1);
        assertThat(role.client().isDialling(CALL)).isTrue();
        assertThat(consumer.subscription()).containsExactly(TOPICS.callState().name());

        // When the call ends
        stateArrives(1, CallStatus.ENDED);

        // Then it is hung up
        await().atMost(Duration.ofSeconds(5)).until(() -> !role.client().isDialling(CALL));
    }

    @Test
    void shouldOpenNothingBeforeStartAndCloseWithoutStart() {
        // Given
        role();

        // When
        role.close();
        role.close();

        // Then
        assertThat(consumersBuilt).hasValue(0);
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("callguard-dialout"));
    }

    @Test
    void shouldRefuseASecondStartAndLeaveNoThreadOnClose() {
        // Given
        role().start();
        assertThat(role.health().ready()).isTrue();

        // When / Then
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        role.close();
        assertThat(consumer.closed()).isTrue();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("callguard-dialout"));
    }

    @Test
    void shouldRefuseDialOutWithoutAFrameSink() {
        assertThatThrownBy(() -> new DialOutRole(config(), new KafkaClients("127.0.0.1:1", ""), TOPICS, "g",
                egress.edgeListener(), null, meters))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SocketFrames");
    }
}
