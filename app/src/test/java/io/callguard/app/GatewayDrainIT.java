package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.ingress.IngressMetrics;
import io.callguard.retell.frames.InteractionType;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellSocketClient;
import io.micrometer.core.instrument.Counter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM's drain on a whole gateway, Retell played by real WebSocket clients: at once not ready and no new socket;
 * the turn in flight answered whole by the backend, then its socket dropped so Retell reconnects (1006); a call
 * between turns dropped at once, without waiting for the busy one.
 */
@Tag("integration")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayDrainIT {

    private static final String TOKEN = "drain-token";
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dataDir;

    private Gateway gateway;
    private final WebSocketClient client = new WebSocketClient();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        // The backend takes 300 ms to its first words, then streams six chunks 150 ms apart: a turn stays open
        // about a second. The greeting is said at once, so each call's begin is complete before its first turn.
        Map<String, String> settings = new java.util.HashMap<>(Map.of("data.dir", dataDir.toString(),
                "broker.port", "0", "http.port", "0", "retell.api-key", "k", "socket.token", TOKEN,
                "topics.partitions", "2", "socket.begin-message", "greeting", "agent.script.delay-ms", "300",
                "agent.script.chunks", "6", "agent.script.chunk-gap-ms", "150"));
        settings.put("admin.port", "0");
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldAnswerTheTurnInFlightWholeThenDropItsSocketAndRefuseNewOnes() throws Exception {
        // Given a call between turns and a call that just asked
        RetellSocketClient idle = RetellSocketClient.connect(client, gateway.httpUri(), "call-idle", TOKEN);
        RetellSocketClient busy = RetellSocketClient.connect(client, gateway.httpUri(), "call-busy", TOKEN);
        idle.next("response", WAIT);
        busy.next("response", WAIT);
        // (a first turn warms the fresh gateway: on a loaded host its first answer can need the filler)
        busy.sendResponseRequired(1, "hello");
        await().atMost(WAIT).until(() -> busy.responses(1).stream().anyMatch(f -> f.path("content_complete").asBoolean()));
        busy.sendResponseRequired(2, "what are your hours");
        // (the edge has the turn: it counts the frame once it told the egress)
        await().atMost(WAIT).until(() -> gateway.meters().find(IngressMetrics.SOCKET_FRAMES)
                .tags(IngressMetrics.TAG_TYPE, InteractionType.RESPONSE_REQUIRED).counters().stream()
                .mapToDouble(Counter::count).sum() >= 2);

        // When SIGTERM comes: the gateway closes, which drains first, the shutdown hook's one path
        CompletableFuture<Void> stopping = CompletableFuture.runAsync(gateway::close);

        // Then at once it is not ready, saying it drains
        await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).until(() -> readyz().statusCode() == 503);
        long notReadyAt = System.nanoTime();
        JsonNode draining = Json.mapper().readTree(readyz().body()).path("checks").path("draining");
        assertThat(draining.path("ok").asBoolean(true)).as(draining.toString()).isFalse();
        assertThat(draining.path("detail").asText()).startsWith("draining since ");

        // And a new socket is refused with 503
        assertThatThrownBy(() -> RetellSocketClient.connect(client, gateway.httpUri(), "call-new", TOKEN))
                .satisfies(failure -> assertThat(RetellSocketClient.upgradeStatus(failure)).isEqualTo(503));
        long refusedAt = System.nanoTime();

        // And the turn in flight is answered whole by the backend, and only then is its socket dropped: Retell sees
        // 1006, which it answers by reconnecting (to another instance, behind the load balancer)
        await().atMost(WAIT).until(() -> busy.closeCode() != -1);
        List<RetellSocketClient.Frame> answer = busy.received().stream()
                .filter(f -> f.json().path("response_id").asLong() == 2).toList();
        List<RetellSocketClient.Frame> completes = answer.stream()
                .filter(f -> f.json().path("content_complete").asBoolean()).toList();
        assertThat(completes).hasSize(1);
        String heard = answer.stream().map(f -> f.json().path("content").asText()).reduce("", String::concat);
        // (the backend's own answer, all six chunks, after at most a filler; no closing line)
        assertThat(heard).endsWith("You said: what are your hours")
                .doesNotContain(gateway.config().common().turnFallbackMessage());
        long answeredAt = completes.get(0).atNanos();
        assertThat(busy.closeCode()).isEqualTo(1006);
        assertThat(busy.closedAtNanos()).isGreaterThan(answeredAt);
        // (not ready and refusing while that answer was still being spoken)
        assertThat(notReadyAt).isLessThan(answeredAt);
        assertThat(refusedAt).isLessThan(answeredAt);

        // And the call between turns was dropped at once, without waiting for the busy one
        assertThat(idle.closeCode()).isEqualTo(1006);
        assertThat(idle.closedAtNanos()).isLessThan(answeredAt);
        stopping.get(30, TimeUnit.SECONDS);
    }

    private HttpResponse<String> readyz() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(gateway.httpUri() + "readyz")).GET()
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
