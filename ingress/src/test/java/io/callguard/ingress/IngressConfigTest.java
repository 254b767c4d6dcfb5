package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IngressConfigTest {

    @Test
    void shouldApplyDefaults() {
        IngressConfig config = new IngressConfig(Map.of());

        assertThat(config.httpHost()).isEqualTo("127.0.0.1");
        assertThat(config.httpPort()).isEqualTo(8080);
        assertThat(config.adminHost()).isEqualTo("127.0.0.1");
        assertThat(config.adminPort()).isEqualTo(8081);
        assertThat(config.adminToken()).isNull();
        assertThat(config.retellApiKey()).isNull();
        assertThat(config.insecureSkipSignature()).isFalse();
        assertThat(config.maxBodyBytes()).isEqualTo(8 * 1_048_576);
        assertThat(config.bodyBudgetBytes()).isEqualTo(64L * 1_048_576);
        assertThat(config.minBodyBytesPerSecond()).isEqualTo(16_384L);
        assertThat(config.bodyRateGraceMs()).isEqualTo(2_000L);
        assertThat(config.httpMaxConnections()).isEqualTo(5_000);
        assertThat(config.httpIdleTimeoutMs()).isEqualTo(30_000L);
        assertThat(config.httpHeaderTimeoutMs()).isEqualTo(5_000L);
        assertThat(config.ackTimeoutMs()).isEqualTo(5_000L);
        assertThat(config.signatureToleranceMs()).isEqualTo(300_000L);
        assertThat(config.slowThresholdMs()).isEqualTo(500L);
        assertThat(config.signatureMode()).isEqualTo(SignatureMode.NO_API_KEY);
        assertThat(config.socketToken()).isNull();
        assertThat(config.socketMaxFrameBytes()).isEqualTo(1_048_576);
        assertThat(config.socketIdleTimeoutMs()).isEqualTo(30_000L);
        assertThat(config.socketGreeting()).isEqualTo("Hello! How can I help you today?");
        assertThat(config.socketAutoReconnect()).isTrue();
    }

    @Test
    void shouldParseSocketValuesAndTreatAnEmptyTokenAsNone() {
        IngressConfig config = new IngressConfig(Map.of("socket.token", "tok_1", "socket.max-frame-bytes", "2048",
                "socket.idle-timeout-ms", "5000", "socket.greeting", "", "socket.auto-reconnect", "false"));

        assertThat(config.socketToken().value()).isEqualTo("tok_1");
        assertThat(config.socketMaxFrameBytes()).isEqualTo(2_048);
        assertThat(config.socketIdleTimeoutMs()).isEqualTo(5_000L);
        assertThat(config.socketGreeting()).isEmpty();
        assertThat(config.socketAutoReconnect()).isFalse();
        assertThat(new IngressConfig(Map.of("socket.token", "")).socketToken()).isNull();
        assertThat(new IngressConfig(Map.of("socket.token", "tok_secret")).toString()).doesNotContain("tok_secret");
    }

    @Test
    void shouldParseAdminValuesHideTheTokenAndTreatAnEmptyOneAsNone() {
        IngressConfig config = new IngressConfig(Map.of("admin.host", "0.0.0.0", "admin.port", "0",
                "admin.token", "adm_secret"));

        assertThat(config.adminHost()).isEqualTo("0.0.0.0");
        assertThat(config.adminPort()).isZero();
        assertThat(config.adminToken().value()).isEqualTo("adm_secret");
        assertThat(config.toString()).doesNotContain("adm_secret");
        assertThat(config.values().toString()).doesNotContain("adm_secret");
        assertThat(new IngressConfig(Map.of("admin.token", "")).adminToken()).isNull();
    }

    @Test
    void shouldRefuseTheAdminListenerOnThePublicPort() {
        assertThatThrownBy(() -> new IngressConfig(Map.of("http.port", "9000", "admin.port", "9000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("admin.port").hasMessageContaining("9000").hasMessageContaining("http.port");
        // Any free port for both is two ports
        assertThat(new IngressConfig(Map.of("http.port", "0", "admin.port", "0")).adminPort()).isZero();
    }

    @Test
    void shouldParseStringValuesAsFromAPropertiesFile() {
        IngressConfig config = new IngressConfig(Map.of(
                "http.port", "0", "retell.api-key", "key_1", "webhook.ack-timeout-ms", "9000",
                "webhook.max-body-bytes", "1", "some.other.role.key", "ignored"));

        assertThat(config.httpPort()).isZero();
        assertThat(config.retellApiKey().value()).isEqualTo("key_1");
        assertThat(config.ackTimeoutMs()).isEqualTo(9_000L);
        assertThat(config.maxBodyBytes()).isEqualTo(1);
        assertThat(config.signatureMode()).isEqualTo(SignatureMode.VERIFY);
    }

    @Test
    void shouldRefuseABodyBudgetSmallerThanOneBodyNamingBothKeys() {
        assertThatThrownBy(() -> new IngressConfig(Map.of("webhook.max-body-bytes", "2048",
                "webhook.body-budget-bytes", "2047")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("webhook.body-budget-bytes").hasMessageContaining("webhook.max-body-bytes");
        assertThat(new IngressConfig(Map.of("webhook.max-body-bytes", "2048", "webhook.body-budget-bytes", "2048"))
                .bodyBudgetBytes()).isEqualTo(2_048L);
    }

    @Test
    void shouldTreatEmptyApiKeyAsNone() {
        assertThat(new IngressConfig(Map.of("retell.api-key", "")).signatureMode()).isEqualTo(SignatureMode.NO_API_KEY);
    }

    @Test
    void shouldPreferInsecureModeWhenAsked() {
        IngressConfig config = new IngressConfig(Map.of("retell.api-key", "k", "webhook.insecure-skip-signature", "true"));

        assertThat(config.signatureMode()).isEqualTo(SignatureMode.INSECURE_SKIP);
    }

    @Test
    void shouldHideTheApiKeyWhenPrinted() {
        IngressConfig config = new IngressConfig(Map.of("retell.api-key", "super-secret-key"));

        assertThat(config.toString()).doesNotContain("super-secret-key");
        assertThat(config.values().toString()).doesNotContain("super-secret-key");
    }

    @ParameterizedTest
    @CsvSource({
        "http.port, 65536",
        "http.port, -1",
        "webhook.ack-timeout-ms, 0",
        "webhook.ack-timeout-ms, 9001",
        "webhook.max-body-bytes, 0",
        "webhook.max-body-bytes, 268435457",
        "webhook.min-body-bytes-per-second, -1",
        "http.max-connections, 0",
        "http.idle-timeout-ms, 999",
        "http.header-timeout-ms, 99",
        "webhook.signature-tolerance-ms, -1",
        "webhook.slow-threshold-ms, -1",
        "http.host, ''",
        "admin.host, ''",
        "admin.port, 65536",
        "admin.port, -1",
        "socket.max-frame-bytes, 1023",
        "socket.max-frame-bytes, 67108865",
        "socket.idle-timeout-ms, 999",
        "socket.idle-timeout-ms, 3600001",
        "socket.auto-reconnect, maybe",
        "socket.begin-message, upstream",
    })
    void shouldRefuseOutOfRangeValuesNamingTheKey(String key, String value) {
        assertThatThrownBy(() -> new IngressConfig(Map.of(key, value)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(key);
    }

    @Test
    void shouldDeclareEveryKeyOnceWithItsDoc() {
        assertThat(IngressConfig.definition().names()).containsExactlyInAnyOrder(
                "http.host", "http.port", "http.max-connections", "http.idle-timeout-ms", "http.header-timeout-ms",
                "admin.host", "admin.port", "admin.token",
                "retell.api-key", "webhook.insecure-skip-signature", "webhook.max-body-bytes",
                "webhook.body-budget-bytes", "webhook.min-body-bytes-per-second", "webhook.body-rate-grace-ms",
                "webhook.ack-timeout-ms", "webhook.signature-tolerance-ms",
                "webhook.slow-threshold-ms", "capacity.inbound-busy-agent-id", "socket.token",
                "socket.max-frame-bytes", "socket.idle-timeout-ms",
                "socket.greeting", "socket.begin-message", "socket.auto-reconnect",
                "socket.transcript-with-tool-calls");
        IngressConfig.definition().configKeys().values()
                .forEach(key -> assertThat(key.documentation).as(key.name).isNotBlank());
    }

    @Test
    void shouldHandOutACopyOfTheDefinition() {
        IngressConfig.definition().define("extra", org.apache.kafka.common.config.ConfigDef.Type.STRING,
                org.apache.kafka.common.config.ConfigDef.Importance.LOW, "extra");

        assertThat(IngressConfig.definition().names()).doesNotContain("extra");
    }
}
