package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.common.KafkaClients;
import io.callguard.common.RoleState;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The role's lifecycle against an address where no broker listens: it starts without blocking, answers
 * queries with empty results while nothing is owned, and stops within its bound. Processing itself is
 * covered by the TopologyTestDriver tests.
 */
class ProcessorRoleTest {

    @TempDir
    Path stateDir;

    @Test
    void shouldStartWithoutBlockingAndStopWithinItsBound() {
        // Given
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        ProcessorRole role = new ProcessorRole(new ProcessorConfig(Map.of()), new KafkaClients("127.0.0.1:1", ""), Topics.defaults(),
                stateDir, meters);
        assertThat(role.streamsState()).isEqualTo(KafkaStreams.State.NOT_RUNNING);

        // When
        role.start();

        // Then
        assertThat(role.streamsState()).isIn(KafkaStreams.State.REBALANCING, KafkaStreams.State.RUNNING,
                KafkaStreams.State.CREATED);
        assertThat(role.streams()).isPresent();
        assertThat(role.callState("c1")).isEmpty();
        assertThat(role.localCapacity().partitions()).isEmpty();
        assertThat(meters.getMeters()).as("Kafka Streams metrics are bound")
                .anyMatch(meter -> meter.getId().getName().startsWith("kafka.stream"));

        // When
        long startedStop = System.nanoTime();
        role.stop();

        // Then
        assertThat(Duration.ofNanos(System.nanoTime() - startedStop)).isLessThan(ProcessorRole.CLOSE_TIMEOUT);
        assertThat(role.streamsState()).isEqualTo(KafkaStreams.State.NOT_RUNNING);
        assertThat(role.isRunning()).isFalse();
        role.stop();
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldSayWhyItIsNotReadyAndCloseWithoutStart() {
        // Given
        ProcessorRole role = new ProcessorRole(new ProcessorConfig(Map.of()), new KafkaClients("127.0.0.1:1", ""),
                Topics.defaults(), stateDir, new SimpleMeterRegistry());

        // Then
        assertThat(role.health().state()).isEqualTo(RoleState.CREATED);
        assertThat(role.health().ready()).isFalse();
        assertThat(role.health().detail()).isEqualTo("state NOT_RUNNING (not RUNNING)");

        // When
        role.close();
        role.close();

        // Then
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThat(role.health().live()).isTrue();
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
    }
}
