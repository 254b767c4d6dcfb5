package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.TopicReader;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The response cache survives a restart: it is written through to a compacted topic and read back at start. */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GatewayResponseCacheIT {

    private static final String TOKEN = "cache-token";
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path dataDir;

    @Test
    void shouldServeACachedAnswerAfterARestart() throws Exception {
        WebSocketClient client = new WebSocketClient();
        client.start();
        try {
            // Given an answer generated and cached by a first run
            try (Gateway first = start()) {
                ask(client, first, "call-cache-1", "what are your opening hours");
                await().atMost(WAIT).until(() -> kinds(first, "call-cache-1").contains(ResponseKind.GENERATED));
            }

            // When the gateway restarts on the same data dir and another call asks the same thing
            try (Gateway second = start()) {
                ask(client, second, "call-cache-2", "what are your opening hours");

                // Then the answer comes from the cache that was read back at start
                await().atMost(WAIT).until(() -> kinds(second, "call-cache-2").contains(ResponseKind.CACHED));
            }
        } finally {
            client.stop();
        }
    }

    private Gateway start() {
        Gateway gateway = new Gateway(GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1")),
                Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        return gateway;
    }

    private static void ask(WebSocketClient client, Gateway gateway, String callId, String text) throws Exception {
        RetellSocketClient retell = RetellSocketClient.connect(client, gateway.httpUri(), callId, TOKEN);
        retell.next("response", WAIT);
        retell.sendResponseRequired(1, text);
        while (true) {
            RetellSocketClient.Frame f = retell.next("response", WAIT);
            if (f.json().path("response_id").asLong() == 1 && f.json().path("content_complete").asBoolean()) {
                break;
            }
        }
        retell.close();
    }

    private static List<ResponseKind> kinds(Gateway gateway, String callId) {
        try (TopicReader<AgentResponse> reader = new TopicReader<>(gateway.bootstrapServers(),
                gateway.config().common().topics().responses().name(),
                gateway.config().common().topics().responses().valueSerde().deserializer())) {
            return reader.valuesFor(callId).stream().map(AgentResponse::kind).toList();
        }
    }
}
