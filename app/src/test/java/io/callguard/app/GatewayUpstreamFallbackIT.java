package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.TopicReader;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fallback backend behind a {@code retell-socket} primary, end to end: the team's upstream (the Node {@code ws}
 * server) answers until it is killed for good; then the primary's turns fail after their reconnects, the breaker
 * opens, and the caller hears the script fallback's answers whole, never a closing line.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class GatewayUpstreamFallbackIT {

    private static final String TOKEN = "upstream-fallback-token";
    private static final String CALL = "call-upstream-gone";
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dataDir;

    private NodeUpstreamServer upstream;
    private Gateway gateway;
    private final WebSocketClient client = new WebSocketClient();

    @BeforeEach
    void start() throws Exception {
        upstream = NodeUpstreamServer.start(0);
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1",
                "agent.backend", "retell-socket", "agent.upstream.url-template", upstream.urlTemplate(),
                "agent.fallback.backend", "script"));
        settings.putAll(Map.of("agent.upstream.reconnect.max-attempts", "1",
                "agent.upstream.reconnect.initial-backoff-ms", "50", "agent.upstream.reconnect.max-backoff-ms", "100",
                "agent.upstream.connect-timeout-ms", "500", "responder.hedge.delay-ms", "-1",
                "responder.breaker.minimum-calls", "2", "responder.breaker.sliding-window-size", "2",
                "responder.breaker.wait-in-open-ms", "60000", "cache.enabled", "false"));
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> gateway.processor().isRunning()
                && Boolean.TRUE.equals(gateway.readiness().get("ready")));
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void shouldOpenTheBreakerAndSpeakTheFallbacksWholeAnswersOnceTheUpstreamIsGone() throws Exception {
        // Given a call answered by the upstream
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), CALL, TOKEN);
        retell.next("config", WAIT);
        retell.sendText("{\"interaction_type\":\"call_details\",\"call\":{\"call_id\":\"" + CALL + "\","
                + "\"from_number\":\"+14155550125\"}}");
        await().atMost(WAIT).until(() -> GatewayUpstreamIT.completes(retell.responses(0)) == 1);
        retell.sendResponseRequired(1, "first question");
        await().atMost(WAIT).until(() -> GatewayUpstreamIT.completes(retell.responses(1)) == 1);
        assertThat(GatewayUpstreamIT.content(retell.responses(1))).isEqualTo("You said: first question");
        await().atMost(WAIT).until(() -> upstream.received("response_required").size() == 1);

        // When the upstream dies and never comes back
        upstream.kill();

        // Then every later turn is answered whole by the fallback (the script's echo), with one complete each
        List<String> answers = new ArrayList<>();
        for (long id = 2; id <= 6; id++) {
            retell.sendResponseRequired(id, "question " + id);
            long turn = id;
            await().atMost(WAIT).until(() -> GatewayUpstreamIT.completes(retell.responses(turn)) == 1);
            answers.add(GatewayUpstreamIT.content(retell.responses(id)));
        }
        List<String> expected = new ArrayList<>();
        for (long id = 2; id <= 6; id++) {
            expected.add("You said: question " + id);
        }
        assertThat(answers).isEqualTo(expected);

        // And the primary's breaker opened; the fallback generated them; no closing line was ever produced
        await().atMost(WAIT).until(() -> breakerOpen("agent-backend"));
        Timer fallbackFirstChunks = gateway.meters().find("callguard.responder.backend.first-chunk.latency")
                .tag("backend", "agent-fallback").timer();
        assertThat(fallbackFirstChunks).isNotNull();
        assertThat(fallbackFirstChunks.count()).isGreaterThanOrEqualTo(5);
        await().atMost(WAIT).until(() -> responsesFor(CALL).stream().filter(AgentResponse::contentComplete)
                .count() >= 7);
        assertThat(responsesFor(CALL)).extracting(AgentResponse::kind)
                .doesNotContain(ResponseKind.FALLBACK, ResponseKind.FILLER);
        assertThat(retell.isOpen()).isTrue();
        retell.close();
    }

    private boolean breakerOpen(String name) {
        Gauge state = gateway.meters().find("resilience4j.circuitbreaker.state").tag("name", name)
                .tag("state", "open").gauge();
        return state != null && state.value() == 1.0;
    }

    private List<AgentResponse> responsesFor(String callId) {
        try (TopicReader<AgentResponse> reader = new TopicReader<>(gateway.bootstrapServers(),
                gateway.config().common().topics().responses().name(),
                gateway.config().common().topics().responses().valueSerde().deserializer())) {
            return reader.valuesFor(callId);
        }
    }
}
