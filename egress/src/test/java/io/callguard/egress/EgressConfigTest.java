package io.callguard.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class EgressConfigTest {

    @Test
    void shouldUseDocumentedDefaults() {
        // When
        EgressConfig config = new EgressConfig(Map.of());

        // Then
        assertThat(config.supersededCloseCode()).isEqualTo(4000);
        assertThat(config.watchdogThreads()).isEqualTo(1);
        assertThat(config.detachedRetentionMs()).isEqualTo(30_000L);
        assertThat(config.dialOutEnabled()).isFalse();
        assertThat(config.dialOutMaxAttempts()).isEqualTo(5);
        assertThat(config.dialOutInitialBackoffMs()).isEqualTo(200L);
        assertThat(config.dialOutBackoffMultiplier()).isEqualTo(2.0);
        assertThat(config.dialOutRandomizationFactor()).isEqualTo(0.5);
        assertThat(config.dialOutMaxBackoffMs()).isEqualTo(5_000L);
        assertThat(config.dialOutConnectTimeoutMs()).isEqualTo(3_000L);
    }

    @Test
    void shouldRejectCloseCode1000ForSupersededSockets() {
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.SUPERSEDED_CLOSE_CODE_CONFIG, 1000)))
                .isInstanceOf(ConfigException.class).hasMessageContaining(EgressConfig.SUPERSEDED_CLOSE_CODE_CONFIG);
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.SUPERSEDED_CLOSE_CODE_CONFIG, 1006)))
                .isInstanceOf(ConfigException.class);
    }

    @Test
    void shouldRequireCallIdPlaceholderWhenDialOutIsEnabled() {
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.DIALOUT_ENABLED_CONFIG, true,
                EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG, "ws://host:1/llm-websocket/")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("{call_id}");
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.DIALOUT_ENABLED_CONFIG, true,
                EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG, "http://host:1/llm-websocket/{call_id}")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("ws://");
        assertThat(new EgressConfig(Map.of(EgressConfig.DIALOUT_ENABLED_CONFIG, "true",
                EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG, "wss://host/llm-websocket/{call_id}?token=t"))
                .dialOutEnabled()).isTrue();
    }

    @Test
    void shouldRejectBackoffOutOfRange() {
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.DIALOUT_RANDOMIZATION_FACTOR_CONFIG, 1.0)))
                .isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.DIALOUT_BACKOFF_MULTIPLIER_CONFIG, 0.5)))
                .isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> new EgressConfig(Map.of(EgressConfig.DIALOUT_MAX_BACKOFF_MS_CONFIG, 100L)))
                .isInstanceOf(ConfigException.class).hasMessageContaining(EgressConfig.DIALOUT_INITIAL_BACKOFF_MS_CONFIG);
    }

    @Test
    void shouldHandOutACopyOfTheDefinition() {
        // When
        EgressConfig.definition().define("egress.extra", org.apache.kafka.common.config.ConfigDef.Type.INT,
                org.apache.kafka.common.config.ConfigDef.Importance.LOW, "test");

        // Then
        assertThat(EgressConfig.definition().names()).doesNotContain("egress.extra")
                .contains(EgressConfig.SUPERSEDED_CLOSE_CODE_CONFIG, EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG);
    }
}
