package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.common.CommonConfig;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

class ResponderConfigTest {

    @Test
    void shouldDefaultToTheDocumentedValues() {
        // Given / When
        ResponderConfig config = new ResponderConfig(Map.of());

        // Then
        assertThat(config.agentBackend()).isEqualTo("script");
        assertThat(config.scriptDelayMs()).isZero();
        assertThat(config.scriptFailureRate()).isZero();
        assertThat(config.scriptHangRate()).isZero();
        assertThat(config.openAiMaxTokens()).isEqualTo(200);
        assertThat(config.openAiApiKey()).isEmpty();
        assertThat(config.maxConcurrent()).isEqualTo(1_000);
        assertThat(config.breakerFailureRateThreshold()).isEqualTo(50f);
        assertThat(config.breakerSlowCallRateThreshold()).isEqualTo(50f);
        assertThat(config.breakerSlowCallDurationMs()).isEqualTo(1_500);
        assertThat(config.breakerSlidingWindowSize()).isEqualTo(20);
        assertThat(config.breakerMinimumCalls()).isEqualTo(10);
        assertThat(config.breakerWaitInOpenMs()).isEqualTo(5_000);
        assertThat(config.breakerPermittedCallsInHalfOpen()).isEqualTo(3);
        assertThat(config.retryMaxAttempts()).isEqualTo(3);
        assertThat(config.retryInitialBackoffMs()).isEqualTo(20);
        assertThat(config.retryRandomizationFactor()).isEqualTo(0.5);
        assertThat(config.deliveryMarginMs()).isEqualTo(60);
        assertThat(config.cacheEnabled()).isTrue();
        assertThat(config.cacheTtlMs()).isEqualTo(300_000);
        assertThat(config.cacheMaxEntries()).isEqualTo(10_000);
        assertThat(config.groupId()).isEqualTo("callguard-responder");
        for (FallbackReason reason : FallbackReason.values()) {
            assertThat(config.fallbackMessage(reason, new CommonConfig(Map.of()))).isNotBlank();
        }
    }

    @Test
    void shouldRejectOutOfRangeValuesNamingTheKey() {
        // Given / When / Then
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.SCRIPT_FAILURE_RATE_CONFIG, "1.5")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.script.failure-rate");
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "gpt")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.backend");
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.MAX_CONCURRENT_CONFIG, "0")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("responder.max-concurrent");
    }

    @Test
    void shouldRefuseADeliveryMarginThatLeavesNoBudget() {
        // Given
        ResponderConfig config = new ResponderConfig(Map.of(ResponderConfig.DELIVERY_MARGIN_MS_CONFIG, "100"));
        CommonConfig common = new CommonConfig(Map.of(CommonConfig.TURN_BUDGET_MS_CONFIG, "100"));

        // When / Then
        assertThatThrownBy(() -> config.checkAgainst(common))
                .isInstanceOf(ConfigException.class).hasMessageContaining("responder.delivery-margin-ms");
    }

    @Test
    void shouldRefuseANonHttpOpenAiUrlOnlyWhenTheOpenAiBackendIsChosen() {
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.AGENT_BACKEND_CONFIG, "openai",
                ResponderConfig.OPENAI_URL_CONFIG, "ftp://host/v1/chat/completions")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("agent.openai.url")
                .hasMessageContaining("ftp://host").hasMessageContaining("http or https");
        assertThat(new ResponderConfig(Map.of(ResponderConfig.OPENAI_URL_CONFIG, "ftp://host/v1")).openAiUrl())
                .isEqualTo("ftp://host/v1");
    }

    @Test
    void shouldReadTheHoldLineAndRepeatAndTheGreetingAndBusyLineDeclaredElsewhere() {
        // Given / When
        ResponderConfig defaults = new ResponderConfig(Map.of());
        ResponderConfig set = new ResponderConfig(Map.of(ResponderConfig.CAPACITY_HOLD_MESSAGE_CONFIG, "Please hold.",
                ResponderConfig.CAPACITY_HOLD_REPEAT_MS_CONFIG, "20000", "socket.greeting", "",
                "capacity.busy-message", "We are full."));

        // Then
        assertThat(defaults.holdMessage()).isEqualTo(ResponderConfig.DEFAULT_HOLD_MESSAGE);
        assertThat(defaults.holdRepeatMs()).isEqualTo(15_000);
        assertThat(defaults.socketGreeting()).isEqualTo("Hello! How can I help you today?");
        assertThat(defaults.busyMessage()).isEqualTo(io.callguard.processor.ProcessorConfig.DEFAULT_BUSY_MESSAGE);
        assertThat(set.holdMessage()).isEqualTo("Please hold.");
        assertThat(set.holdRepeatMs()).isEqualTo(20_000);
        assertThat(set.socketGreeting()).as("empty lets the caller speak first").isEmpty();
        assertThat(set.busyMessage()).isEqualTo("We are full.");
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.CAPACITY_HOLD_REPEAT_MS_CONFIG, "10")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("capacity.hold-repeat-ms");
    }

    @Test
    void shouldDeclareEveryKeyOnceWithADoc() {
        // Given / When / Then
        assertThat(ResponderConfig.definition().configKeys().values())
                .allSatisfy(k -> assertThat(k.documentation).isNotBlank())
                .extracting(k -> k.name)
                .doesNotHaveDuplicates()
                .allSatisfy(name -> assertThat(name).matches("(agent|responder|cache|capacity)\\..+"))
                .doesNotContainAnyElementsOf(CommonConfig.definition().names())
                .doesNotContainAnyElementsOf(io.callguard.processor.ProcessorConfig.definition().names());
    }

    @Test
    void shouldBuildTheFallbackBackendsSettingsFromItsOwnKeysAndCheckThemAtOnce() {
        // Given a fallback on another OpenAI-compatible endpoint
        ResponderConfig config = new ResponderConfig(Map.of(ResponderConfig.FALLBACK_BACKEND_CONFIG, "openai",
                ResponderConfig.FALLBACK_OPENAI_URL_CONFIG, "http://fast.example:8000/v1/chat/completions",
                ResponderConfig.FALLBACK_OPENAI_MODEL_CONFIG, "small", ResponderConfig.OPENAI_MAX_TOKENS_CONFIG, 50));

        // When
        ResponderConfig fallback = config.fallbackConfig();

        // Then its own keys, the primary's for the rest, and no fallback of its own
        assertThat(fallback.agentBackend()).isEqualTo("openai");
        assertThat(fallback.openAiUrl()).isEqualTo("http://fast.example:8000/v1/chat/completions");
        assertThat(fallback.openAiModel()).isEqualTo("small");
        assertThat(fallback.openAiMaxTokens()).isEqualTo(50);
        assertThat(fallback.fallbackBackend()).isEqualTo(ResponderConfig.BACKEND_NONE);
        assertThatThrownBy(() -> new ResponderConfig(Map.of(ResponderConfig.FALLBACK_BACKEND_CONFIG, "openai",
                ResponderConfig.FALLBACK_OPENAI_URL_CONFIG, "ftp://nope")))
                .isInstanceOf(org.apache.kafka.common.config.ConfigException.class)
                .hasMessageContaining("agent.fallback.backend is openai").hasMessageContaining("ftp://nope");
    }

    @Test
    void shouldReadToolDefinitionsAndTheirDefaults() {
        // Given
        String definitions = "[{\"name\":\"lookup_order\",\"url\":\"http://tools.internal/order\","
                + "\"parameters\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}}},"
                + "\"timeout_ms\":1500},{\"name\":\"ping\",\"url\":\"https://tools.internal/ping\"}]";

        // When
        ResponderConfig config = new ResponderConfig(Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, definitions));

        // Then
        assertThat(config.toolDefinitions()).extracting(t -> t.name() + " " + t.url() + " " + t.timeoutMs())
                .containsExactly("lookup_order http://tools.internal/order 1500", "ping https://tools.internal/ping 5000");
        assertThat(config.toolDefinitions().get(1).parameters().toString())
                .isEqualTo("{\"type\":\"object\",\"properties\":{}}");
        assertThat(config.toolsEndCallEnabled()).isTrue();
        assertThat(config.toolsTransferNumber()).isEmpty();
        assertThat(config.toolsTransferNumberVariable()).isEqualTo("transfer_number");
        assertThat(config.toolsMaxRounds()).isEqualTo(3);
        assertThat(config.toolsHoldingLine()).isEqualTo("One moment while I check that.");
    }

    @Test
    void shouldRejectBadToolDefinitionsNamingTheToolAndField() {
        String url = "\"url\":\"http://tools.internal/x\"";
        Map<String, String> bad = Map.of(
                "[{\"name\":\"a\"", "not JSON",
                "{\"name\":\"a\"}", "must be a JSON array",
                "[{\"name\":\"a\",\"url\":\"ftp://tools.internal/x\"}]", "tool #0 'a': 'url'",
                "[{\"name\":\"a\",\"url\":\"http://x\",\"method\":\"GET\"}]", "unknown field 'method'",
                "[{\"name\":\"a\"," + url + ",\"parameters\":{\"type\":\"object\",\"properties\":"
                        + "{\"n\":{\"type\":\"strng\"}}}}]", "'parameters' is not a valid JSON Schema",
                "[{\"name\":\"a\"," + url + ",\"parameters\":\"{}\"}]", "'parameters' must be a JSON Schema",
                "[{\"name\":\"end_call\"," + url + "}]", "is a built-in tool",
                "[{\"name\":\"a b\"," + url + "}]", "'name' must be",
                "[{\"name\":\"a\"," + url + "},{\"name\":\"a\"," + url + "}]", "defined twice",
                "[{\"name\":\"a\"," + url + ",\"timeout_ms\":0}]", "'timeout_ms' must be");
        bad.forEach((definitions, message) -> assertThatThrownBy(() -> new ResponderConfig(
                Map.of(ResponderConfig.TOOLS_DEFINITIONS_CONFIG, definitions)))
                .as(definitions).isInstanceOf(ConfigException.class)
                .hasMessageContaining("agent.tools.definitions").hasMessageContaining(message));
    }
}
