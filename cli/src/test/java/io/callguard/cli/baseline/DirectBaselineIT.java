package io.callguard.cli.baseline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.ingress.IngressMetrics;
import io.callguard.testkit.RetellSocketClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code run --bench-baseline} end to end: a real gateway and broker, whose sockets the baseline answers itself. */
@Tag("integration")
@Timeout(120)
class DirectBaselineIT {

    private static final String TOKEN = "baseline-token";

    @TempDir
    Path dataDir;

    @Test
    void shouldAnswerTurnsOnTheSocketWithoutThePipeline() throws Exception {
        // Given a gateway whose LLM WebSocket is served by the baseline
        GatewayConfig config = GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1"));
        WebSocketClient client = new WebSocketClient();
        try (DirectBaseline baseline = new DirectBaseline(config.ingress().socketGreeting(), config.responder());
             Gateway gateway = new Gateway(config, Clock.systemUTC()).withSocketFrames(baseline).start()) {
            client.start();
            await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            assertThat(gateway.readyLine()).contains("socket=ws://");

            // When a call connects and asks
            RetellSocketClient socket = RetellSocketClient.connect(client, gateway.httpUri(), "call-b1", TOKEN);
            socket.sendResponseRequired(1, "ping");

            // Then it is greeted and answered by the script backend, with nothing reaching the responder
            await().atMost(Duration.ofSeconds(5)).until(() -> !socket.responses(1).isEmpty());
            assertThat(socket.responses(0)).singleElement()
                    .satisfies(f -> assertThat(f.get("content").asText()).isEqualTo(config.ingress().socketGreeting()));
            assertThat(socket.responses(1)).singleElement()
                    .satisfies(f -> assertThat(f.get("content").asText()).isEqualTo("You said: ping"));
            assertThat(gateway.meters().find(IngressMetrics.SOCKET_FRAMES).counters()).isEmpty();
            socket.close();
        } finally {
            client.stop();
        }
    }
}
