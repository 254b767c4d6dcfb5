package io.callguard.processor.responder.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.processor.responder.ResponderConfig;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

/** The {@code agent.upstream.*} settings, checked at load when {@code agent.backend} is {@code retell-socket}. */
class UpstreamConfigTest {

    @Test
    void shouldDefaultToTheDocumentedValues() {
        // Given / When
        ResponderConfig config = new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "retell-socket"));

        // Then
        assertThat(config.agentBackend()).isEqualTo(ResponderConfig.BACKEND_RETELL_SOCKET);
        assertThat(config.upstreamUrlTemplate()).isEqualTo("ws://127.0.0.1:8080/llm-websocket/{call_id}");
        assertThat(config.upstreamConnectTimeoutMs()).isEqualTo(3_000);
        assertThat(config.upstreamReconnectInitialBackoffMs()).isEqualTo(100);
        assertThat(config.upstreamReconnectMaxBackoffMs()).isEqualTo(2_000);
        assertThat(config.upstreamReconnectMaxAttempts()).isEqualTo(5);
        assertThat(config.upstreamToolTimeLimitMs()).isEqualTo(10_000);
        assertThat(config.upstreamMaxFrameChars()).isEqualTo(1_048_576);
        assertThat(config.upstreamMaxCalls()).isEqualTo(10_000);
    }

    @Test
    void shouldAcceptWsAndWssTemplatesWithTheCallIdAnywhere() {
        assertThat(upstream("wss://agent.example.com/llm-websocket/{call_id}?secret=s").upstreamUrlTemplate())
                .isEqualTo("wss://agent.example.com/llm-websocket/{call_id}?secret=s");
        assertThat(upstream("ws://10.0.0.5:9000/{call_id}/socket").upstreamUrlTemplate())
                .isEqualTo("ws://10.0.0.5:9000/{call_id}/socket");
    }

    @Test
    void shouldRefuseATemplateThatIsNotWsOrLacksTheCallIdNamingTheKey() {
        assertThatThrownBy(() -> upstream("http://agent.internal/llm-websocket/{call_id}"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.upstream.url-template")
                .hasMessageContaining("ws or wss");
        assertThatThrownBy(() -> upstream("ws://agent.internal/llm-websocket"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.upstream.url-template")
                .hasMessageContaining("{call_id}");
        assertThatThrownBy(() -> upstream("ws:///{call_id}"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("host");
        assertThatThrownBy(() -> upstream("ws://bad host/{call_id}"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.upstream.url-template");
    }

    @Test
    void shouldCheckTheTemplateOnlyWhenTheRetellSocketBackendIsChosen() {
        assertThat(new ResponderConfig(Map.of(ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, "http://x"))
                .upstreamUrlTemplate()).isEqualTo("http://x");
    }

    @Test
    void shouldRefuseAMaxBackoffBelowTheInitialOne() {
        Map<String, Object> values = new HashMap<>();
        values.put(ResponderConfig.AGENT_BACKEND_CONFIG, "retell-socket");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG, "500");
        values.put(ResponderConfig.UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG, "100");
        assertThatThrownBy(() -> new ResponderConfig(values)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("agent.upstream.reconnect.max-backoff-ms")
                .hasMessageContaining("agent.upstream.reconnect.initial-backoff-ms");
    }

    private static ResponderConfig upstream(String template) {
        return new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "retell-socket",
                ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, template));
    }

    @Test
    void shouldExportItsCountersWithAFixedSetOfTags() {
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        java.util.concurrent.ScheduledExecutorService timer =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        try (RetellSocketBackend backend = new RetellSocketBackend(new ResponderConfig(java.util.Map.of(
                ResponderConfig.AGENT_BACKEND_CONFIG, ResponderConfig.BACKEND_RETELL_SOCKET,
                ResponderConfig.UPSTREAM_URL_TEMPLATE_CONFIG, "ws://127.0.0.1:9/llm-websocket/{call_id}")),
                timer).bindTo(meters)) {
            assertThat(meters.find(RetellSocketBackend.Counters.METRIC).functionCounters())
                    .extracting(c -> c.getId().getTag("event"))
                    .containsExactlyInAnyOrder("stale_response", "dropped_frame", "invalid_frame", "unknown_frame",
                            "reconnect", "ping_sent", "evicted_call", "upstream_hangup");
            assertThat(meters.get(RetellSocketBackend.Counters.TRACKED).gauge().value()).isZero();
        } finally {
            timer.shutdownNow();
        }
    }
}
