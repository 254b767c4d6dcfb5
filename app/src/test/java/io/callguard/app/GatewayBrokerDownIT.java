package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.app.config.GatewayConfig;
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

/** When Kafka cannot take a webhook in time, Retell is told to retry: nothing is acknowledged that is not durable. */
@Tag("integration")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GatewayBrokerDownIT {

    @TempDir
    Path dataDir;

    @Test
    void shouldAnswer503WithRetryAfterWhenKafkaDoesNotAcknowledgeInTime() throws Exception {
        // Given a gateway whose broker has stopped
        GatewayConfig config = GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "roles", "ingress", "webhook.ack-timeout-ms", "1000"));
        Gateway gateway = new Gateway(config, Clock.systemUTC()).start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            // (the first produce of a fresh gateway fetches metadata: on a loaded host that alone can pass the 1 s
            // ack timeout, so the precondition, a broker that acknowledges, is waited for)
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                    .until(() -> send(http, gateway, "call-before").statusCode() == 200);
            gateway.embeddedBroker().orElseThrow().close();

            // When a webhook arrives
            long start = System.nanoTime();
            HttpResponse<String> response = send(http, gateway, "call-during-outage");
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            // Then it is refused with 503 and Retry-After near the ack bound, not held for Retell's 10 s timeout
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.headers().firstValue("retry-after")).isPresent();
            assertThat(elapsedMs).isLessThan(5_000);
        } finally {
            long stopStart = System.nanoTime();
            gateway.close();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopStart))
                    .as("stops within 10 s even with the broker gone").isLessThan(10_000);
        }
    }

    private static HttpResponse<String> send(HttpClient http, Gateway gateway, String callId) throws Exception {
        String body = RetellWebhooks.body("call_started", callId);
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(gateway.httpUri().resolve("webhook")).timeout(Duration.ofSeconds(15))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign("k", raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
