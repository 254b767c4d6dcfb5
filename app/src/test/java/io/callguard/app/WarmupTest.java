package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.app.config.ConfigSources;
import io.callguard.app.config.GatewayConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the warm-up's private pipeline is configured with: nothing public, nothing billed, nothing shared. */
class WarmupTest {

    private static final Path DIR = Path.of("/tmp/callguard-warmup-test");
    private static final String LOOPBACK = "http://127.0.0.1:5555/v1/chat/completions";

    @Test
    void shouldGiveThePipelineItsOwnNamesSecretsAndDirectoryOnTheSameBroker() {
        // Given the real configuration, with every name and secret set
        GatewayConfig real = GatewayConfig.of(Map.ofEntries(Map.entry("node.id", "edge/1"),
                Map.entry("topics.prefix", "acme."), Map.entry("processor.application-id", "acme"),
                Map.entry("responder.group-id", "acme-responder"), Map.entry("socket.token", "real-token"),
                Map.entry("retell.api-key", "real-key"), Map.entry("http.port", "8080"),
                Map.entry("topics.partitions", "12"), Map.entry("processor.state-dir", "/var/lib/state"),
                Map.entry("dialout.enabled", "true"), Map.entry("dialout.url-template", "wss://retell.example/{call_id}")));

        // When the warm-up derives its own
        GatewayConfig warm = Warmup.warmupConfig(real, "broker:9092", DIR, null);

        // Then its topics, application id, groups, node id, port, secrets and state are its own, on the same broker
        assertThat(warm.common().topics().prefix()).isEqualTo("__callguard-warmup.edge_1.");
        assertThat(warm.common().topics().all()).allSatisfy(t -> assertThat(t.name()).startsWith(Warmup.NAME_PREFIX));
        assertThat(warm.processor().applicationId()).isEqualTo("__callguard-warmup-edge_1");
        assertThat(warm.responder().groupId()).startsWith(Warmup.NAME_PREFIX);
        assertThat(warm.nodeId()).isEqualTo("edge/1-warmup");
        assertThat(warm.common().bootstrapServers()).isEqualTo("broker:9092");
        assertThat(warm.common().partitions()).isEqualTo(2);
        assertThat(warm.ingress().httpPort()).isZero();
        // (the real admin listener holds its port, 8081 by default, while the warm-up runs)
        assertThat(warm.ingress().adminPort()).isZero();
        assertThat(warm.ingress().adminHost()).isEqualTo("127.0.0.1");
        assertThat(warm.socketToken()).isNotEqualTo("real-token");
        assertThat(warm.raw().get("retell.api-key")).isNotEqualTo("real-key");
        assertThat(warm.app().dataDir()).isEqualTo(DIR);
        assertThat(warm.processor().stateDir()).isEqualTo(DIR.resolve("streams").toString());
        assertThat(warm.egress().dialOutEnabled()).isFalse();
        // and it never warms itself up again
        assertThat(warm.app().warmupEnabled()).isFalse();
    }

    @Test
    void shouldNeverReachTheRealBackendsOrTools() {
        // Given an openai primary with a key, an openai fallback and an operator tool
        GatewayConfig real = GatewayConfig.of(Map.of("agent.backend", "openai",
                "agent.openai.url", "https://api.openai.example/v1/chat/completions", "agent.openai.api-key", "sk-real",
                "agent.fallback.backend", "openai", "agent.fallback.openai.url", "https://other.example/v1",
                "agent.tools.definitions", "[{\"name\":\"lookup_order\",\"description\":\"d\",\"parameters\":"
                        + "{\"type\":\"object\"},\"url\":\"https://crm.example/tools\"}]"));

        // When the warm-up derives its configuration
        GatewayConfig warm = Warmup.warmupConfig(real, "b:1", DIR, LOOPBACK);

        // Then both backends stream from the loopback LLM without the key, and no tool is offered
        assertThat(warm.raw()).containsEntry("agent.openai.url", LOOPBACK).containsEntry("agent.openai.api-key", "")
                .containsEntry("agent.fallback.openai.url", LOOPBACK).containsEntry("agent.tools.definitions", "");
    }

    @Test
    void shouldReplaceAnUpstreamServerAndTheScriptsFaultsWithAnInstantScript() {
        // Given a retell-socket primary (someone's server) and a faulty, slow script fallback
        GatewayConfig real = GatewayConfig.of(Map.of("agent.backend", "retell-socket",
                "agent.upstream.url-template", "ws://agent.internal/llm-websocket/{call_id}",
                "agent.fallback.backend", "script", "agent.fallback.script.delay-ms", "500",
                "agent.fallback.script.failure-rate", "0.5"));

        // When the warm-up derives its configuration
        GatewayConfig warm = Warmup.warmupConfig(real, "b:1", DIR, null);

        // Then the upstream is replaced by the script backend and no injected fault or delay remains
        assertThat(warm.raw()).containsEntry("agent.backend", "script").containsEntry("agent.script.delay-ms", "0")
                .containsEntry("agent.fallback.script.delay-ms", "0")
                .containsEntry("agent.fallback.script.failure-rate", "0");
    }

    @Test
    void shouldWarmUpBinCallguardRunButNotAGatewayEmbeddedInATest() {
        // Given the same (empty) settings loaded as `run` loads them and as a test embeds a gateway
        GatewayConfig run = GatewayConfig.load(new ConfigSources(null, Map.of(), Map.of(), Map.of()));
        GatewayConfig embedded = GatewayConfig.of(Map.of());

        // Then the declared default holds for run, and an embedded gateway warms up only when asked
        assertThat(run.app().warmupEnabled()).isTrue();
        assertThat(embedded.app().warmupEnabled()).isFalse();
        assertThat(GatewayConfig.of(Map.of("warmup.enabled", "true")).app().warmupEnabled()).isTrue();
    }
}
