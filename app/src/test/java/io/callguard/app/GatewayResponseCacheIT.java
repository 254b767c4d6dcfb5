package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CachedAnswer;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topic;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The response cache survives a restart: it is written through to a compacted topic and read back at start;
 * entries written under an older key scheme are not read back.
 */
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
            // Given an answer generated and cached by a first run, and an entry left on the topic by a version
            // that keyed by the transcript tail only (no key-scheme prefix)
            try (Gateway first = start()) {
                ask(client, first, "call-cache-1", "what are your opening hours");
                await().atMost(WAIT).until(() -> kinds(first, "call-cache-1").contains(ResponseKind.GENERATED));
                writeOldSchemeEntry(first, "are you open on sundays", "Another caller's answer.");
            }

            // When the gateway restarts on the same data dir and other calls ask the same things
            try (Gateway second = start()) {
                ask(client, second, "call-cache-2", "what are your opening hours");
                ask(client, second, "call-cache-3", "are you open on sundays");

                // Then the answer comes from the cache that was read back at start
                await().atMost(WAIT).until(() -> kinds(second, "call-cache-2").contains(ResponseKind.CACHED));
                // And the entry of the older scheme was not loaded: that question went to the backend
                await().atMost(WAIT).until(() -> kinds(second, "call-cache-3").contains(ResponseKind.GENERATED));
                assertThat(kinds(second, "call-cache-3")).doesNotContain(ResponseKind.CACHED);
                assertThat(contents(second, "call-cache-3")).doesNotContain("Another caller's answer.");
            }
        } finally {
            client.stop();
        }
    }

    private Gateway start() {
        Gateway gateway = new Gateway(GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "socket.token", TOKEN, "topics.partitions", "1")),
                Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        return gateway;
    }

    /** A call of one agent (the cache never serves a turn whose agent is unknown) whose caller asks one thing. */
    private static void ask(WebSocketClient client, Gateway gateway, String callId, String text) throws Exception {
        assertThat(RetellWebhooks.post(HttpClient.newHttpClient(), gateway.httpUri(), "k",
                RetellWebhooks.body("call_started", callId))).isEqualTo(200);
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

    /** A record as the cache wrote it before keys had a scheme: the agent ("?" unknown), "/", SHA-256 of the tail. */
    private static void writeOldSchemeEntry(Gateway gateway, String userText, String answer) throws Exception {
        String oldKey = "?/" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(("user: " + userText + "\n").getBytes(StandardCharsets.UTF_8)));
        Topic<String, CachedAnswer> topic = gateway.config().common().topics().responseCache();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, gateway.bootstrapServers()),
                new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic.name(), oldKey, topic.valueSerde().serializer()
                    .serialize(topic.name(), CachedAnswer.of(answer, System.currentTimeMillis() + 3_600_000))))
                    .get(30, TimeUnit.SECONDS);
        }
    }

    private static List<String> contents(Gateway gateway, String callId) {
        try (TopicReader<AgentResponse> reader = responses(gateway)) {
            return reader.valuesFor(callId).stream().map(AgentResponse::content).toList();
        }
    }

    private static TopicReader<AgentResponse> responses(Gateway gateway) {
        return new TopicReader<>(gateway.bootstrapServers(),
                gateway.config().common().topics().responses().name(),
                gateway.config().common().topics().responses().valueSerde().deserializer());
    }

    private static List<ResponseKind> kinds(Gateway gateway, String callId) {
        try (TopicReader<AgentResponse> reader = responses(gateway)) {
            return reader.valuesFor(callId).stream().map(AgentResponse::kind).toList();
        }
    }
}
