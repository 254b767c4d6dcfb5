package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JIT warm-up on a real broker: it runs before the gateway says ready, plays its calls on private topics and
 * a loopback LLM (never the configured backend), leaves no topic, group, record or directory behind, and when it
 * fails the gateway starts anyway and says why.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GatewayWarmupIT {

    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dataDir;

    /** The configured agent backend: a real HTTP server that counts what reaches it and answers nothing useful. */
    private HttpServer backend;
    private final AtomicInteger backendRequests = new AtomicInteger();
    private final ExecutorService starter = Executors.newSingleThreadExecutor();
    private Gateway gateway;

    @BeforeEach
    void startBackend() throws Exception {
        backend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        backend.createContext("/", exchange -> {
            backendRequests.incrementAndGet();
            exchange.sendResponseHeaders(500, -1);
            exchange.close();
        });
        backend.start();
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        starter.shutdownNow();
        backend.stop(0);
    }

    @Test
    void shouldWarmUpOnPrivateTopicsBeforeReadyAndLeaveNothingBehind() throws Exception {
        // Given a gateway with the openai backend at the configured (billed) endpoint and a warm-up of 300 turns
        gateway = new Gateway(config(Map.of("warmup.turns", "300", "warmup.calls", "8")), Clock.systemUTC());

        // When it starts
        CompletableFuture<Gateway> started = CompletableFuture.supplyAsync(gateway::start, starter);

        // Then while the warm-up runs the gateway is not ready, and says so under "warmup"
        await().atMost(WAIT).pollInterval(Duration.ofMillis(20))
                .until(() -> gateway.warmup() != null && gateway.warmup().state() != Warmup.State.PENDING);
        Map<String, Object> during = gateway.readiness();
        assertThat(gateway.warmup().state()).isEqualTo(Warmup.State.RUNNING);
        assertThat(during.get("ready")).isEqualTo(false);
        assertThat(check(during, "warmup")).containsEntry("ok", false).containsEntry("detail", "running");
        // (alone on its broker, no other member could serve the partitions: its responder started alongside)
        assertThat(gateway.responder().isRunning()).isTrue();
        started.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        // and once start returned, it played its turns and becomes ready, saying what the warm-up did
        await().atMost(WAIT).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        Map<String, Object> after = gateway.readiness();
        assertThat(gateway.warmup().state()).isEqualTo(Warmup.State.DONE);
        assertThat(gateway.warmup().turns()).isGreaterThanOrEqualTo(300);
        assertThat(check(after, "warmup")).containsEntry("ok", true);
        assertThat((String) check(after, "warmup").get("detail")).contains(gateway.warmup().turns() + " turns in");
        assertThat(gateway.meters().scrape()).contains("callguard_warmup_failed 0.0");

        // and not one request reached the configured backend, not one record a public topic
        assertThat(backendRequests).hasValue(0);
        try (Admin admin = admin()) {
            assertThat(recordsOn(admin, Topics.defaults())).as("records on the public topics").isEmpty();
            // and nothing of the warm-up's is left: topics, Kafka Streams internals, groups, directory
            assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS))
                    .noneMatch(t -> t.startsWith(Warmup.NAME_PREFIX));
            assertThat(admin.listGroups().all().get(30, TimeUnit.SECONDS)).extracting(GroupListing::groupId)
                    .noneMatch(g -> g.startsWith(Warmup.NAME_PREFIX));
        }
        assertThat(dataDir.resolve("warmup")).doesNotExist();
    }

    @Test
    void shouldJoinTheGroupsOnlyAfterTheWarmupWhenAnotherGatewayServesThem() throws Exception {
        // Given a gateway serving the processor's and responder's partitions (its warm-up off)
        gateway = new Gateway(config(Map.of("warmup.enabled", "false", "node.id", "first", "admin.port", "0")),
                Clock.systemUTC())
                .start();
        await().atMost(WAIT).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));

        // When a second gateway with a warm-up starts on the same broker and topics
        Gateway second = new Gateway(config(Map.of("bootstrap.servers", gateway.bootstrapServers(), "node.id",
                "second", "data.dir", dataDir.resolve("second").toString(), "admin.port", "0", "warmup.turns", "300",
                "warmup.calls", "8")), Clock.systemUTC());
        try {
            CompletableFuture<Gateway> started = CompletableFuture.supplyAsync(second::start, starter);

            // Then while its warm-up runs it has joined neither group: the first keeps every partition
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> started.isDone()
                    || second.warmup() != null && second.warmup().state() != Warmup.State.PENDING);
            assertThat(started).as("still starting").isNotDone();
            assertThat(second.warmup().state()).isEqualTo(Warmup.State.RUNNING);
            assertThat(second.responder().isRunning()).isFalse();
            try (Admin admin = admin()) {
                assertThat(members(admin, "callguard-responder")).isEqualTo(1);
                assertThat(members(admin, "callguard")).isEqualTo(1);
            }

            // And once warm, it joins both, and is ready
            started.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            await().atMost(WAIT).until(() -> Boolean.TRUE.equals(second.readiness().get("ready")));
            assertThat(second.warmup().state()).isEqualTo(Warmup.State.DONE);
            try (Admin admin = admin()) {
                await().atMost(WAIT).untilAsserted(() -> {
                    assertThat(members(admin, "callguard-responder")).isEqualTo(2);
                    assertThat(members(admin, "callguard")).isEqualTo(2);
                });
            }
        } finally {
            second.close();
        }
    }

    private static int members(Admin admin, String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get(30, TimeUnit.SECONDS)
                .members().size();
    }

    @Test
    void shouldStartColdAndSayWhyWhenTheWarmupFails() throws Exception {
        // Given a warm-up that cannot finish: its bound passes before its pipeline is ready
        gateway = new Gateway(config(Map.of("warmup.timeout-ms", "1")), Clock.systemUTC());

        // When the gateway starts
        gateway.start();

        // Then it becomes ready all the same, and /readyz and the metrics say the warm-up failed and why
        await().atMost(WAIT).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        Map<String, Object> readiness = gateway.readiness();
        assertThat(gateway.warmup().state()).isEqualTo(Warmup.State.FAILED);
        assertThat(check(readiness, "warmup")).containsEntry("ok", true);
        assertThat((String) check(readiness, "warmup").get("detail")).startsWith("failed after 0 turns, starting cold")
                .contains("warmup.timeout-ms");
        assertThat(gateway.meters().scrape()).contains("callguard_warmup_failed 1.0");

        // and even a failed warm-up leaves nothing behind
        try (Admin admin = admin()) {
            assertThat(admin.listTopics().names().get(30, TimeUnit.SECONDS))
                    .noneMatch(t -> t.startsWith(Warmup.NAME_PREFIX));
            assertThat(recordsOn(admin, Topics.defaults())).isEmpty();
        }
        assertThat(dataDir.resolve("warmup")).doesNotExist();
        assertThat(backendRequests).hasValue(0);
    }

    private GatewayConfig config(Map<String, String> warmup) {
        Map<String, String> values = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "retell.api-key", "k", "socket.token", "it-token", "topics.partitions", "2",
                "agent.backend", "openai",
                "agent.openai.url", "http://127.0.0.1:" + backend.getAddress().getPort() + "/v1/chat/completions",
                "warmup.enabled", "true"));
        values.putAll(warmup);
        return GatewayConfig.of(values);
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, gateway.bootstrapServers()));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> check(Map<String, Object> readiness, String name) {
        return (Map<String, Object>) ((Map<String, Object>) readiness.get("checks")).get(name);
    }

    /** The public topics' partitions that hold any record (end offset above zero). */
    private static List<TopicPartition> recordsOn(Admin admin, Topics topics) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        List<String> names = topics.all().stream().map(Topic::name).toList();
        admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS).forEach((name, description) ->
                description.partitions().forEach(p -> latest.put(new TopicPartition(name, p.partition()),
                        OffsetSpec.latest())));
        assertThat(latest).as("partitions of the public topics").isNotEmpty();
        return admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).entrySet().stream()
                .filter(e -> e.getValue().offset() > 0).map(Map.Entry::getKey).toList();
    }
}
