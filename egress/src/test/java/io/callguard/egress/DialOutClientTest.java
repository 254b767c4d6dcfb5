package io.callguard.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.egress.internal.EdgeDelivery;
import io.callguard.egress.internal.EgressMeters;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Dial-out against a real Jetty WebSocket server; backoff waits go through a manual scheduler. */
class DialOutClientTest {

    private static final String CALL = "call 1";

    private final ManualClock clock = new ManualClock(1_700_000_000_000L);
    private final ManualScheduler edgeScheduler = new ManualScheduler(clock);
    private final ManualScheduler dialScheduler = new ManualScheduler(clock);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final EdgeDelivery edge = new EdgeDelivery(new EgressConfig(Map.of()),
            io.callguard.egress.internal.EdgeDeadlines.of(new io.callguard.common.CommonConfig(Map.of()), new EgressConfig(Map.of())), edgeScheduler, clock, new EgressMeters(meters));
    private final RecordingFrames frames = new RecordingFrames();
    private TestLlmServer server;
    private DialOutClient client;

    @BeforeEach
    void startServer() throws Exception {
        server = new TestLlmServer().start();
    }

    @AfterEach
    void stopAll() throws Exception {
        if (client != null) {
            client.close();
        }
        server.close();
    }

    private DialOutClient client(Map<String, Object> overrides) {
        Map<String, Object> props = new HashMap<>();
        props.put(EgressConfig.DIALOUT_ENABLED_CONFIG, true);
        props.put(EgressConfig.DIALOUT_URL_TEMPLATE_CONFIG,
                "ws://127.0.0.1:" + server.port() + "/llm-websocket/{call_id}?token=secret");
        props.putAll(overrides);
        client = new DialOutClient(new EgressConfig(props), edge.registry(), frames, dialScheduler, meters);
        client.start();
        return client;
    }

    private static ConditionFactory within() {
        return await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10));
    }

    private double counter(String name, String... tags) {
        Counter counter = meters.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void shouldCarryFramesBothWaysOnTheDialledSocket() {
        // Given
        client(Map.of()).dial(CALL);
        within().until(() -> server.connections().size() == 1 && frames.opened.size() == 1
                && server.connections().get(0).isOpen());
        TestLlmServer.Connection connection = server.connections().get(0);

        // When the server speaks, and an answer for the call is delivered
        connection.send("{\"interaction_type\":\"ping_pong\",\"timestamp\":1}");
        edge.delivery().deliver(new AgentResponse(AgentResponse.SCHEMA_VERSION, CALL, 0, ResponseKind.GENERATED, null,
                "Hello, this is callguard.", true, null, 0, 0, 0, "node-a"));

        // Then
        assertThat(connection.path()).isEqualTo("/llm-websocket/call%201");
        assertThat(connection.query()).isEqualTo("token=secret");
        assertThat(edge.registry().current(CALL)).containsSame(frames.opened.get(0));
        within().until(() -> frames.texts.contains("{\"interaction_type\":\"ping_pong\",\"timestamp\":1}"));
        within().until(() -> connection.received().size() == 1);
        assertThat(connection.received().get(0)).contains("\"response_id\":0", "\"content_complete\":true");
        assertThat(counter(EgressMetrics.DIALOUT_ATTEMPTS, EgressMetrics.TAG_OUTCOME, "connected")).isEqualTo(1.0);
    }

    @Test
    void shouldRedialAfterAbnormalDropWithBackoffFromTheScheduler() {
        // Given
        client(Map.of(EgressConfig.DIALOUT_INITIAL_BACKOFF_MS_CONFIG, 200L,
                EgressConfig.DIALOUT_RANDOMIZATION_FACTOR_CONFIG, 0.5)).dial(CALL);
        within().until(() -> frames.opened.size() == 1 && server.connections().size() == 1
                && server.connections().get(0).isOpen());

        // When the connection is cut without a close frame
        server.connections().get(0).cut();
        within().until(() -> frames.closeCodes.contains(1006));
        within().until(() -> dialScheduler.pending().size() == 1);

        // Then nothing is redialled until the scheduler's backoff delay elapses
        assertThat(server.connections()).hasSize(1);
        ManualScheduler.Task redial = dialScheduler.pending().get(0);
        assertThat(redial.requestedDelayMs()).isBetween(100L, 300L);
        dialScheduler.runNext();
        within().until(() -> server.connections().size() == 2 && frames.opened.size() == 2);
        assertThat(edge.registry().current(CALL)).containsSame(frames.opened.get(1));
        assertThat(counter(EgressMetrics.SOCKET_RECONNECTS, EgressMetrics.TAG_MODE, "dial_out")).isEqualTo(1.0);
        assertThat(counter(EgressMetrics.DIALOUT_ATTEMPTS, EgressMetrics.TAG_OUTCOME, "connected")).isEqualTo(2.0);
        assertThat(client.isDialling(CALL)).isTrue();
    }

    @Test
    void shouldNotRedialAfterNormalClose() {
        // Given
        client(Map.of()).dial(CALL);
        within().until(() -> frames.opened.size() == 1 && server.connections().size() == 1
                && server.connections().get(0).isOpen());

        // When
        server.connections().get(0).close(1000, "agent done");

        // Then
        within().until(() -> frames.closeCodes.contains(1000));
        within().until(() -> !client.isDialling(CALL));
        assertThat(dialScheduler.pending()).isEmpty();
        assertThat(server.connections()).hasSize(1);
        assertThat(edge.registry().current(CALL)).isEmpty();
    }

    @Test
    void shouldGiveUpAfterMaxAttemptsWhenTheServerIsStopped() throws Exception {
        // Given
        client(Map.of(EgressConfig.DIALOUT_MAX_ATTEMPTS_CONFIG, 3,
                EgressConfig.DIALOUT_INITIAL_BACKOFF_MS_CONFIG, 100L,
                EgressConfig.DIALOUT_BACKOFF_MULTIPLIER_CONFIG, 2.0,
                EgressConfig.DIALOUT_RANDOMIZATION_FACTOR_CONFIG, 0.0));
        server.stop();

        // When
        client.dial(CALL);
        within().until(() -> dialScheduler.pending().size() == 1);
        dialScheduler.runNext();
        within().until(() -> dialScheduler.pending().size() == 1);
        dialScheduler.runNext();

        // Then
        within().until(() -> !client.isDialling(CALL));
        assertThat(dialScheduler.pending()).isEmpty();
        assertThat(dialScheduler.requestedDelays()).containsExactly(100L, 200L);
        assertThat(counter(EgressMetrics.DIALOUT_ATTEMPTS, EgressMetrics.TAG_OUTCOME, "failed")).isEqualTo(3.0);
        assertThat(counter(EgressMetrics.DIALOUT_EXHAUSTED)).isEqualTo(1.0);
        assertThat(frames.opened).isEmpty();
    }

    @Test
    void shouldStopRedialingAndCloseWith1000OnHangUp() {
        // Given
        client(Map.of()).dial(CALL);
        within().until(() -> frames.opened.size() == 1 && server.connections().size() == 1
                && server.connections().get(0).isOpen());
        TestLlmServer.Connection connection = server.connections().get(0);

        // When
        client.hangUp(CALL);

        // Then
        within().until(() -> Integer.valueOf(1000).equals(connection.closeCode()));
        within().until(() -> frames.closeCodes.equals(List.of(1000)));
        assertThat(client.isDialling(CALL)).isFalse();
        assertThat(dialScheduler.pending()).isEmpty();
        assertThat(server.connections()).hasSize(1);
    }
}
