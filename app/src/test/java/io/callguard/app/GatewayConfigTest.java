package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.app.config.ConfigSources;
import io.callguard.app.config.GatewayConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayConfigTest {

    @TempDir
    Path dir;

    @Test
    void shouldUseTheDeclaredDefaults() {
        GatewayConfig config = GatewayConfig.of(Map.of());

        assertThat(config.ingress().getInt("http.port")).isEqualTo(8080);
        assertThat(config.ingress().getString("http.host")).isEqualTo("127.0.0.1");
        assertThat(config.common().partitions()).isEqualTo(6);
        assertThat(config.common().bootstrapServers()).isEmpty();
        assertThat(config.app().dataDir()).isEqualTo(Path.of("./data").toAbsolutePath().normalize());
        assertThat(config.app().roles()).containsExactlyInAnyOrder("ingress", "processor", "egress");
        assertThat(config.nodeId()).isNotBlank();
    }

    @Test
    void shouldAskRetellForTheToolCallsTranscriptForAnUpstreamAgentUnlessTold() {
        GatewayConfig script = GatewayConfig.of(Map.of());
        GatewayConfig upstream = script.with(Map.of("agent.backend", "retell-socket"));
        GatewayConfig told = upstream.with(Map.of("socket.transcript-with-tool-calls", "false"));

        assertThat(script.ingress().socketTranscriptWithToolCalls()).isFalse();
        assertThat(upstream.ingress().socketTranscriptWithToolCalls()).isTrue();
        assertThat(told.ingress().socketTranscriptWithToolCalls()).isFalse();
        assertThat(told.with(Map.of("agent.backend", "openai", "socket.transcript-with-tool-calls", "true")).ingress()
                .socketTranscriptWithToolCalls()).isTrue();
    }

    @Test
    void shouldLayerFileThenEnvironmentThenSetThenNamedFlags() throws Exception {
        Path file = dir.resolve("callguard.properties");
        Files.writeString(file, "http.port=1001\ntopics.partitions=2\ndata.dir=/from-file\nnode.id=file\n");
        Map<String, String> env = Map.of("CALLGUARD_HTTP_PORT", "1002", "CALLGUARD_DATA_DIR", "/from-env",
                "CALLGUARD_NODE_ID", "env", "PATH", "/usr/bin");
        Map<String, String> sets = Map.of("http.port", "1003", "node.id", "set");
        Map<String, String> flags = Map.of("http.port", "1004");

        GatewayConfig config = GatewayConfig.load(new ConfigSources(file, env, sets, flags));

        assertThat(config.ingress().getInt("http.port")).isEqualTo(1004);
        assertThat(config.nodeId()).isEqualTo("set");
        assertThat(config.app().dataDir()).isEqualTo(Path.of("/from-env"));
        assertThat(config.common().partitions()).isEqualTo(2);
    }

    @Test
    void shouldTakeRetellsOwnEnvironmentVariableForTheApiKey() {
        GatewayConfig config = GatewayConfig.load(new ConfigSources(null, Map.of("RETELL_API_KEY", "k1"), Map.of(),
                Map.of()));

        assertThat(config.ingress().getPassword("retell.api-key").value()).isEqualTo("k1");
        assertThat(config.ingress().getPassword("retell.api-key").toString()).doesNotContain("k1");
    }

    @Test
    void shouldStopOnAnUnknownKeyNamingItAndItsSource() {
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("http.prot", "1")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("'http.prot'").hasMessageContaining("--set").hasMessageContaining("http.port");
        assertThatThrownBy(() -> GatewayConfig.load(new ConfigSources(null, Map.of("CALLGUARD_HTTP_PROT", "1"),
                Map.of(), Map.of())))
                .isInstanceOf(ConfigException.class).hasMessageContaining("CALLGUARD_HTTP_PROT");
    }

    @Test
    void shouldRefuseTheRemovedBenchmarkBaselineKey() {
        // The baseline is a load tool's now (run --bench-baseline), not a production setting.
        assertThat(GatewayConfig.definition().names()).doesNotContain("bench.direct-at-edge");
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("bench.direct-at-edge", "true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("'bench.direct-at-edge'");
    }

    @Test
    void shouldStopOnKeysThatDisagreeAcrossRolesNamingBothAndTheValues() {
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("responder.delivery-margin-ms", "100",
                "turn.budget-ms", "100")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("responder.delivery-margin-ms").hasMessageContaining("turn.budget-ms")
                .hasMessageContaining("100");
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("dialout.enabled", "true",
                "dialout.url-template", "ws://host:1/llm-websocket/")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("dialout.url-template").hasMessageContaining("{call_id}")
                .hasMessageContaining("dialout.enabled");
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("shutdown.drain-timeout-ms", "15000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("shutdown.drain-timeout-ms").hasMessageContaining("15000")
                .hasMessageContaining("shutdown.timeout-ms");
        assertThat(GatewayConfig.of(Map.of("shutdown.drain-timeout-ms", "20000", "shutdown.timeout-ms", "25000"))
                .app().shutdownDrainTimeoutMs()).isEqualTo(20_000);
    }

    @Test
    void shouldStopOnABadValueNamingKeyValueAndWhatIsAllowed() {
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("http.port", "70000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("70000").hasMessageContaining("http.port").hasMessageContaining("65535");
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("topics.partitions", "many")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("many").hasMessageContaining("topics.partitions");
        assertThatThrownBy(() -> GatewayConfig.of(Map.of("roles", "ingress,billing")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("billing").hasMessageContaining("roles");
    }

    @Test
    void shouldMapEveryKeyToOneEnvironmentVariable() {
        assertThat(ConfigSources.envName("capacity.max-active-calls")).isEqualTo("CALLGUARD_CAPACITY_MAX_ACTIVE_CALLS");
        long distinct = GatewayConfig.definition().names().stream().map(ConfigSources::envName).distinct().count();
        assertThat(distinct).isEqualTo(GatewayConfig.definition().names().size());
    }
}
