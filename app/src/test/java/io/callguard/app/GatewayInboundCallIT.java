package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.ingress.IngressMetrics;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellWebhooks;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retell's inbound-call webhook end to end: real broker, real Kafka Streams, real HTTP. With its one partition
 * full (one slot, no queue), the gateway routes the next inbound call to the busy agent before the phone is
 * answered; once the slot is free, calls pass again.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class GatewayInboundCallIT {

    private static final String API_KEY = "inbound-it-key";
    private static final String BUSY_AGENT = "agent_busy_line";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void shouldRouteAnInboundCallToTheBusyAgentWhileThePartitionIsFull() throws Exception {
        GatewayConfig config = GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", API_KEY, "topics.partitions", "1",
                "capacity.max-active-calls-per-partition", "1", "capacity.queue-size", "0",
                "capacity.inbound-busy-agent-id", BUSY_AGENT));
        try (Gateway gateway = new Gateway(config, Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
            String inbound = RetellWebhooks.inboundBody("agent_7", "+15550001", "+15550002");

            // Given a free slot, an inbound call passes with no override
            assertThat(inboundAnswer(gateway, inbound)).isEqualTo(Json.mapper().readTree("{\"call_inbound\":{}}"));

            // When a call takes the partition's one slot
            String started = RetellWebhooks.body("call_started", "call-holds-the-slot");
            assertThat(post(gateway, started).statusCode()).isEqualTo(200);
            await().atMost(WAIT).until(() -> gateway.processor().callState("call-holds-the-slot")
                    .map(s -> s.status() == CallStatus.ACTIVE).orElse(false));

            // Then the next inbound call is routed to the busy agent, and counted
            assertThat(inboundAnswer(gateway, inbound)).isEqualTo(Json.mapper().readTree(
                    "{\"call_inbound\":{\"override_agent_id\":\"" + BUSY_AGENT + "\"}}"));
            assertThat(metrics(gateway).lines()
                    .filter(l -> l.startsWith(IngressMetrics.INBOUND_CALLS.replace('.', '_') + "_total{"))
                    .filter(l -> l.contains("capacity=\"full\"")
                            && l.contains("outcome=\"" + IngressMetrics.INBOUND_BUSY_AGENT + "\""))
                    .map(l -> l.substring(l.lastIndexOf(' ') + 1)))
                    .containsExactly("1.0");

            // And when that call ends, inbound calls pass again
            assertThat(post(gateway, RetellWebhooks.body("call_ended", "call-holds-the-slot")).statusCode())
                    .isEqualTo(200);
            await().atMost(WAIT).until(() -> !inboundAnswer(gateway, inbound).path("call_inbound")
                    .has("override_agent_id"));
        }
    }

    private JsonNode inboundAnswer(Gateway gateway, String body) throws Exception {
        HttpResponse<String> response = post(gateway, body);
        assertThat(response.statusCode()).isEqualTo(200);
        return Json.mapper().readTree(response.body());
    }

    private HttpResponse<String> post(Gateway gateway, String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(gateway.httpUri().resolve("/webhook"))
                .timeout(Duration.ofSeconds(15))
                .header("content-type", "application/json")
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, bytes, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private String metrics(Gateway gateway) throws Exception {
        return http.send(HttpRequest.newBuilder(gateway.adminUri().resolve("/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
