package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.processor.PartitionCapacity;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Utils;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Two gateways, each running the processor, in one consumer group on one broker (6 partitions, one slot
 * and one queue place per partition): admission holds per partition whichever instance owns it, queries
 * and capacity are answered from either instance's admin listener (forwarded to the owner's, with the admin
 * token), and when one stops its partitions move to the other with their calls' state, slots and queue.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class TwoProcessorsIT {

    private static final String API_KEY = "two-key";
    private static final String ADMIN_TOKEN = "two-admin-token-3c9e1b";
    private static final int PARTITIONS = 6;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Gateway> gateways = new ArrayList<>();
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeEach
    void recordLogs() {
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterEach
    void stopAll() {
        for (int i = gateways.size() - 1; i >= 0; i--) {
            gateways.get(i).close();
        }
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    @Test
    void shouldHoldCapacityPerPartitionAcrossInstancesAndKeepSlotsWhenOneStops() throws Exception {
        // Given two instances sharing the six partitions
        Gateway first = start(Map.of("data.dir", dir.resolve("first").toString(), "broker.port", "0",
                "node.id", "first"));
        Gateway second = start(Map.of("bootstrap.servers", first.bootstrapServers(),
                "data.dir", dir.resolve("second").toString(), "node.id", "second"));
        await().atMost(WAIT).until(() -> !owned(first).isEmpty() && !owned(second).isEmpty()
                && owned(first).size() + owned(second).size() == PARTITIONS);
        int onSecond = owned(second).get(0);
        int onFirst = owned(first).get(0);
        List<String> crowded = callIdsOnPartition("crowded", onSecond, 3);
        String elsewhere = callIdsOnPartition("elsewhere", onFirst, 1).get(0);

        // And each advertises its admin listener, on loopback by default, for the other to forward queries to
        for (Gateway gateway : List.of(first, second)) {
            assertThat(gateway.adminUri().getHost()).isEqualTo("127.0.0.1");
            assertThat(gateway.adminUri().getPort()).isNotEqualTo(gateway.httpUri().getPort());
            assertThat(gateway.processor().advertisedServer()).isEqualTo("127.0.0.1:" + gateway.adminUri().getPort());
            assertThat(gateway.readyLine()).contains(" admin=" + gateway.adminUri()).doesNotContain(ADMIN_TOKEN);
        }

        // When three calls start on a partition of the second instance (one slot, one queue place), through
        // the first instance's webhook endpoint, and one call on a partition of the first
        for (String callId : crowded) {
            assertThat(post(first, RetellWebhooks.body("call_started", callId))).isEqualTo(200);
        }
        assertThat(post(first, RetellWebhooks.body("call_started", elsewhere))).isEqualTo(200);

        // Then the first is active, the second queued, the third rejected, as seen from the instance that does
        // not own them (forwarded to the owner)
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(status(first, crowded.get(0))).isEqualTo("active");
            assertThat(status(first, crowded.get(1))).isEqualTo("queued");
            assertThat(status(first, crowded.get(2))).isEqualTo("rejected");
            assertThat(status(second, elsewhere)).isEqualTo("active");
        });
        assertThat(first.processor().callState(crowded.get(0))).as("not in the first instance's stores").isEmpty();
        assertThat(callJson(first, crowded.get(2)).get("rejection_reason").asText()).isEqualTo("queue_full");

        // And the rejection is archived, and the processor wrote no busy record for it: the responder says the busy
        // line to a rejected call's socket (this one has none)
        try (TopicReader<CallArchive> archive = new TopicReader<>(first.bootstrapServers(),
                topics(first).callArchive().name(), topics(first).callArchive().valueSerde().deserializer(), true);
             TopicReader<AgentResponse> responses = new TopicReader<>(first.bootstrapServers(),
                topics(first).responses().name(), topics(first).responses().valueSerde().deserializer(), true)) {
            await().atMost(WAIT).until(() -> !archive.valuesFor(crowded.get(2)).isEmpty());
            assertThat(archive.valuesFor(crowded.get(2))).singleElement()
                    .satisfies(rejected -> assertThat(rejected.reason()).isEqualTo(ArchiveReason.REJECTED));
            assertThat(responses.valuesFor(crowded.get(2))).isEmpty();
        }

        // And either instance reports all six partitions
        for (Gateway gateway : List.of(first, second)) {
            JsonNode capacity = json(gateway, "/capacity");
            assertThat(capacity.path("total").path("partitions_reported").asInt()).isEqualTo(PARTITIONS);
            assertThat(capacity.path("total").path("active").asLong()).isEqualTo(2);
            assertThat(capacity.path("total").path("queued").asLong()).isEqualTo(1);
            assertThat(capacity.path("total").path("capacity").asLong()).isEqualTo(PARTITIONS);
            assertThat(partition(capacity, onSecond).path("active").asLong()).isEqualTo(1);
            assertThat(partition(capacity, onSecond).path("queued").asLong()).isEqualTo(1);
            assertThat(partition(capacity, onFirst).path("active").asLong()).isEqualTo(1);
        }

        // When the second instance stops
        second.close();

        // Then its partitions move to the first, with the calls' state, slots and queue
        await().atMost(WAIT).until(() -> owned(first).size() == PARTITIONS);
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(status(first, crowded.get(0))).isEqualTo("active");
            assertThat(status(first, crowded.get(1))).isEqualTo("queued");
            assertThat(status(first, crowded.get(2))).isEqualTo("rejected");
        });
        assertThat(first.processor().callState(crowded.get(0))).as("now local").isPresent();
        JsonNode moved = partition(json(first, "/capacity"), onSecond);
        assertThat(moved.path("active").asLong()).isEqualTo(1);
        assertThat(moved.path("queued").asLong()).isEqualTo(1);

        // And a retried call_started of the queued call is still known as a duplicate there (dedupe moved too)
        assertThat(post(first, RetellWebhooks.body("call_started", crowded.get(1)))).isEqualTo(200);
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(callJson(first, crowded.get(1)).path("duplicates_dropped").asLong()).isEqualTo(1));
        assertThat(callJson(first, crowded.get(1)).path("events_applied").asLong()).isEqualTo(1);
        assertThat(partition(json(first, "/capacity"), onSecond).path("queued").asLong()).isEqualTo(1);

        // And when the active call ends, its slot goes to the head of the queue
        assertThat(post(first, RetellWebhooks.body("call_ended", crowded.get(0)))).isEqualTo(200);
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(status(first, crowded.get(0))).isEqualTo("ended");
            assertThat(status(first, crowded.get(1))).isEqualTo("active");
        });
        JsonNode after = partition(json(first, "/capacity"), onSecond);
        assertThat(after.path("active").asLong()).isEqualTo(1);
        assertThat(after.path("queued").asLong()).isZero();

        // And no log line of either instance showed the admin token its forwarded queries carried
        assertThat(List.copyOf(logs.list)).noneMatch(e -> e.getFormattedMessage().contains(ADMIN_TOKEN)
                || String.valueOf(e.getThrowableProxy()).contains(ADMIN_TOKEN));
    }

    @Test
    void shouldServeCallDataOnlyOnTheAdminListenerAndOnlyWithTheToken() throws Exception {
        // Given a gateway with an admin token and a call
        Gateway gateway = start(Map.of("data.dir", dir.resolve("only").toString(), "broker.port", "0"));
        await().atMost(WAIT).until(() -> owned(gateway).size() == PARTITIONS);
        assertThat(post(gateway, RetellWebhooks.body("call_started", "call-private"))).isEqualTo(200);
        await().atMost(WAIT).until(() -> "active".equals(status(gateway, "call-private")));

        for (String path : List.of("/calls/call-private", "/capacity", "/metrics", "/dashboard", "/")) {
            // Then the public listener, the one Retell reaches, does not know the route, token or not
            HttpResponse<String> onPublic = send(gateway.httpUri(), path, "Bearer " + ADMIN_TOKEN);
            assertThat(onPublic.statusCode()).as("public " + path).isEqualTo(404);
            assertThat(Json.mapper().readTree(onPublic.body()).path("reason").asText()).isEqualTo("not_found");
            // And the admin listener refuses it without the token or with another, and serves it with the token
            assertThat(send(gateway.adminUri(), path, null).statusCode()).as("admin " + path + " no token")
                    .isEqualTo(401);
            assertThat(send(gateway.adminUri(), path, "Bearer not-" + ADMIN_TOKEN).statusCode())
                    .as("admin " + path + " wrong token").isEqualTo(401);
            assertThat(get(gateway, path).statusCode()).as("admin " + path + " with the token").isEqualTo(200);
        }
        // And health stays on the public listener, for load balancers and probes
        assertThat(send(gateway.httpUri(), "/readyz", null).statusCode()).isEqualTo(200);
        assertThat(send(gateway.httpUri(), "/healthz", null).statusCode()).isEqualTo(200);
        assertThat(send(gateway.adminUri(), "/readyz", "Bearer " + ADMIN_TOKEN).statusCode()).isEqualTo(404);
    }

    private Gateway start(Map<String, String> settings) {
        Map<String, String> all = new HashMap<>(Map.of("http.port", "0", "admin.port", "0", "retell.api-key", API_KEY,
                "roles", "processor,ingress,egress", "topics.partitions", String.valueOf(PARTITIONS),
                "capacity.max-active-calls-per-partition", "1", "capacity.queue-size", "1",
                "capacity.queue-timeout-ms", "600000", "admin.token", ADMIN_TOKEN));
        all.putAll(settings);
        Gateway gateway = new Gateway(GatewayConfig.of(all), Clock.systemUTC()).start();
        gateways.add(gateway);
        return gateway;
    }

    /** Partitions whose stores this instance serves right now. */
    private static List<Integer> owned(Gateway gateway) {
        return gateway.processor().localCapacity().partitions().stream().map(PartitionCapacity::partition).toList();
    }

    /** Call ids that Kafka's default partitioner puts on a partition, as the ingress producer does. */
    private static List<String> callIdsOnPartition(String prefix, int partition, int count) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; ids.size() < count; i++) {
            String id = prefix + "-" + i;
            if (Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % PARTITIONS == partition) {
                ids.add(id);
            }
        }
        return ids;
    }

    private static Topics topics(Gateway gateway) {
        return gateway.config().common().topics();
    }

    private static JsonNode partition(JsonNode capacity, int partition) {
        for (JsonNode p : capacity.path("partitions")) {
            if (p.path("partition").asInt() == partition) {
                return p;
            }
        }
        throw new AssertionError("partition " + partition + " missing from " + capacity);
    }

    private String status(Gateway gateway, String callId) throws Exception {
        HttpResponse<String> response = get(gateway, "/calls/" + callId);
        return response.statusCode() == 200 ? Json.mapper().readTree(response.body()).path("status").asText()
                : "http " + response.statusCode();
    }

    private JsonNode callJson(Gateway gateway, String callId) throws Exception {
        return json(gateway, "/calls/" + callId);
    }

    private JsonNode json(Gateway gateway, String path) throws Exception {
        HttpResponse<String> response = get(gateway, path);
        assertThat(response.statusCode()).as("GET %s: %s", path, response.body()).isEqualTo(200);
        return Json.mapper().readTree(response.body());
    }

    /** A GET of the gateway's admin listener, with the admin token. */
    private HttpResponse<String> get(Gateway gateway, String path) throws Exception {
        return send(gateway.adminUri(), path, "Bearer " + ADMIN_TOKEN);
    }

    private HttpResponse<String> send(URI base, String path, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path.substring(1)))
                .timeout(Duration.ofSeconds(10)).GET();
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private int post(Gateway gateway, String body) throws Exception {
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(gateway.httpUri().resolve("/webhook")).timeout(Duration.ofSeconds(15))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }
}
