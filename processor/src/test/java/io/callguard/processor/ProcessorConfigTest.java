package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class ProcessorConfigTest {

    @Test
    void shouldUseDocumentedDefaults() {
        // When
        ProcessorConfig config = new ProcessorConfig(Map.of());

        // Then
        assertThat(config.applicationId()).isEqualTo("callguard");
        assertThat(config.stateDir()).isEmpty();
        assertThat(config.processingGuarantee()).isEqualTo("exactly_once_v2");
        assertThat(config.sessionTimeoutMs()).isEqualTo(6_000);
        assertThat(config.commitIntervalMs()).isEqualTo(100);
        assertThat(config.numStreamThreads()).isEqualTo(1);
        assertThat(config.numStandbyReplicas()).isZero();
        assertThat(config.dedupeTtlMs()).isEqualTo(86_400_000L);
        assertThat(config.maxActiveCalls()).isEqualTo(10);
        assertThat(config.queueSize()).isEqualTo(20);
        assertThat(config.queueTimeoutMs()).isEqualTo(30_000);
        assertThat(config.socketLostGraceMs()).isEqualTo(60_000);
        assertThat(config.callTtlMs()).isEqualTo(3_600_000L);
        assertThat(config.expiryScanIntervalMs()).isEqualTo(10_000);
        assertThat(config.archiveGraceMs()).isEqualTo(600_000);
        assertThat(config.busyMessage()).isNotBlank();
    }

    @Test
    void shouldDeriveCapacityPerPartitionRoundingUp() {
        // Given
        ProcessorConfig config = new ProcessorConfig(Map.of(ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_CONFIG, 10));

        // Then
        assertThat(config.maxActiveCallsPerPartition(1)).isEqualTo(10);
        assertThat(config.maxActiveCallsPerPartition(3)).isEqualTo(4);
        assertThat(config.maxActiveCallsPerPartition(6)).isEqualTo(2);
        assertThat(config.maxActiveCallsPerPartition(10)).isEqualTo(1);
        assertThat(config.maxActiveCallsPerPartition(64)).isEqualTo(1);
        assertThat(config.maxActiveCallsPerPartition()).as("topics.partitions defaults to 6").isEqualTo(2);
        assertThat(new ProcessorConfig(Map.of("topics.partitions", "5")).maxActiveCallsPerPartition()).isEqualTo(2);
    }

    @Test
    void shouldPreferExplicitCapacityPerPartition() {
        ProcessorConfig config = new ProcessorConfig(Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, "7"));

        assertThat(config.maxActiveCallsPerPartition(3)).isEqualTo(7);
    }

    @Test
    void shouldRefuseUnknownProcessingGuarantee() {
        assertThatThrownBy(() -> new ProcessorConfig(Map.of(ProcessorConfig.PROCESSING_GUARANTEE_CONFIG, "exactly_once")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ProcessorConfig.PROCESSING_GUARANTEE_CONFIG);
    }

    @Test
    void shouldRefuseNonPositiveTtl() {
        assertThatThrownBy(() -> new ProcessorConfig(Map.of(ProcessorConfig.DEDUPE_TTL_MS_CONFIG, "0")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(ProcessorConfig.DEDUPE_TTL_MS_CONFIG);
    }

    @Test
    void shouldHandOutACopyOfTheDefinition() {
        ProcessorConfig.definition().define("extra", org.apache.kafka.common.config.ConfigDef.Type.STRING,
                org.apache.kafka.common.config.ConfigDef.Importance.LOW, "test");

        assertThat(ProcessorConfig.definition().names()).doesNotContain("extra")
                .contains(ProcessorConfig.DEDUPE_TTL_MS_CONFIG, ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG);
    }
}
