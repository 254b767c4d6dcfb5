package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The processor killed mid-traffic: a processor-only launcher in its own JVM gets SIGKILL (no commit, no
 * flush, no leaving the group) while signed webhooks, duplicates included, keep arriving at an edge
 * instance that stays up; its state dir is wiped and a fresh processor starts on it. Every call's state
 * must come back from the changelogs with every event applied once and every duplicate counted once,
 * and the archive must hold exactly one record per ended call.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ProcessorFailoverIT {

    private static final String API_KEY = "failover-key";
    private static final Pattern READY = Pattern.compile("^callguard ready: (http://\\S+) .*");
    private static final Path JAR = Path.of("target", "callguard.jar").toAbsolutePath();
    private static final int CALLS = 30;
    /** Per call, in order: started, its retry, ended, its retry, analyzed (3 applied, 2 duplicates). */
    private static final List<String> SCRIPT = List.of("call_started", "call_started", "call_ended", "call_ended",
            "call_analyzed");
    /** The settings both processors share; a short session lets the group notice the killed one quickly. */
    private static final Map<String, String> PROCESSOR_SETTINGS = Map.of("topics.partitions", "3",
            "processor.session-timeout-ms", "6000", "capacity.max-active-calls", "300",
            // A failover is this test's subject; `run` would first warm the JIT up for tens of seconds.
            "warmup.enabled", "false");

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @AfterEach
    void stopAll() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    @Test
    void shouldRebuildStateFromChangelogAfterKillAndWipe() throws Exception {
        // Given an edge instance (broker, webhooks) and a processor in its own JVM, both running
        Gateway edge = start(Map.of("data.dir", dir.resolve("edge").toString(), "broker.port", "0",
                "roles", "ingress,egress", "node.id", "edge"));
        Topics topics = edge.config().common().topics();
        Path processorData = dir.resolve("processor");
        Process first = launchProcessor(edge.bootstrapServers(), processorData);

        // And traffic: every call's script, calls interleaved, so calls are mid-life at any moment
        List<String[]> traffic = new ArrayList<>();
        for (int batch = 0; batch < CALLS; batch += 10) {
            for (String event : SCRIPT) {
                for (int i = batch; i < batch + 10; i++) {
                    traffic.add(new String[] {"failover-" + i, event});
                }
            }
        }
        AtomicInteger sent = new AtomicInteger();
        CountDownLatch killed = new CountDownLatch(1);
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
            for (String[] webhook : traffic) {
                if (sent.get() == traffic.size() * 3 / 5) {
                    // The rest arrives while no processor runs, or after the fresh one started.
                    await().atMost(Duration.ofSeconds(60)).until(() -> killed.getCount() == 0);
                }
                int status = post(edge.httpUri(), RetellWebhooks.body(webhook[1], webhook[0]));
                assertThat(status).as("webhook %s %s acknowledged", webhook[1], webhook[0]).isEqualTo(200);
                sent.incrementAndGet();
            }
        });

        // When the processor is killed after it has applied part of the traffic, while webhooks keep coming
        try (TopicReader<CallState> states = new TopicReader<>(edge.bootstrapServers(), topics.callState().name(),
                topics.callState().valueSerde().deserializer())) {
            await().atMost(Duration.ofSeconds(60)).until(() -> states.records().size() >= traffic.size() / 4);
        }
        first.destroyForcibly();
        assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        int sentAtKill = sent.get();
        killed.countDown();
        Path stateDir = processorData.resolve("streams");
        assertThat(stateDir).exists();
        wipe(stateDir);

        // And a fresh processor starts on the wiped state dir
        Map<String, String> fresh = new HashMap<>(PROCESSOR_SETTINGS);
        fresh.putAll(Map.of("bootstrap.servers", edge.bootstrapServers(), "data.dir", processorData.toString(),
                "roles", "processor", "node.id", "processor-2"));
        Gateway second = start(fresh);
        sender.get(60, TimeUnit.SECONDS);

        // Then every call is back, each event applied once and each duplicate counted once
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            for (int i = 0; i < CALLS; i++) {
                CallState state = second.processor().callState("failover-" + i).orElse(null);
                assertThat(state).as("failover-%d", i).isNotNull();
                assertThat(state.analyzed()).as("failover-%d analyzed", i).isTrue();
                assertThat(state.duplicatesDropped()).as("failover-%d duplicates", i).isEqualTo(2);
            }
        });
        for (int i = 0; i < CALLS; i++) {
            HttpResponse<String> response = get(second.adminUri().resolve("/calls/failover-" + i));
            assertThat(response.statusCode()).isEqualTo(200);
            JsonNode state = Json.mapper().readTree(response.body());
            assertThat(state.get("status").asText()).isEqualTo(CallStatus.ENDED.wireName());
            assertThat(state.get("events_applied").asLong()).as("failover-%d events applied", i).isEqualTo(3);
            assertThat(state.get("duplicates_dropped").asLong()).isEqualTo(2);
            assertThat(state.get("started").asBoolean()).isTrue();
            assertThat(state.get("ended").asBoolean()).isTrue();
        }
        assertThat(sentAtKill).as("webhooks acknowledged before the kill").isBetween(1, traffic.size() * 3 / 5);

        // And the committed output shows each call archived exactly once, and no state counted an event twice
        try (TopicReader<CallArchive> archive = new TopicReader<>(edge.bootstrapServers(), topics.callArchive().name(),
                topics.callArchive().valueSerde().deserializer(), true);
             TopicReader<CallState> states = new TopicReader<>(edge.bootstrapServers(), topics.callState().name(),
                     topics.callState().valueSerde().deserializer(), true)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> archive.records().size() >= CALLS);
            Map<String, List<CallArchive>> byCall = archive.records().stream().collect(Collectors.groupingBy(
                    ConsumerRecord::key, Collectors.mapping(ConsumerRecord::value, Collectors.toList())));
            assertThat(byCall).hasSize(CALLS);
            byCall.forEach((call, records) -> {
                assertThat(records).as("archive records of %s", call).hasSize(1);
                assertThat(records.get(0).reason()).isEqualTo(ArchiveReason.ENDED);
            });
            assertThat(states.records()).allSatisfy(r -> assertThat(r.value().eventsApplied())
                    .as("events applied in a state of %s", r.key()).isLessThanOrEqualTo(3));
        }
    }

    private Gateway start(Map<String, String> settings) {
        Map<String, String> all = new HashMap<>(PROCESSOR_SETTINGS);
        all.putAll(Map.of("http.port", "0", "admin.port", "0", "retell.api-key", API_KEY));
        all.putAll(settings);
        Gateway gateway = new Gateway(GatewayConfig.of(all), Clock.systemUTC()).start();
        cleanup.add(gateway);
        return gateway;
    }

    /** The packaged launcher running only the processor role, against the edge's broker. */
    private Process launchProcessor(String bootstrapServers, Path dataDir) throws Exception {
        Files.createDirectories(dataDir);
        List<String> command = new ArrayList<>(List.of(java(), "-Xmx256m", "-jar", JAR.toString(), "run",
                "--roles", "processor", "--bootstrap-servers", bootstrapServers, "--data-dir", dataDir.toString(),
                "--http-port", "0", "--admin-port", "0", "--set", "node.id=processor-1"));
        PROCESSOR_SETTINGS.forEach((key, value) -> command.addAll(List.of("--set", key + "=" + value)));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("processor-1.log").toFile())).start();
        cleanup.add(process::destroyForcibly);
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String base = CompletableFuture.supplyAsync(() -> {
            try {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    Matcher m = READY.matcher(line);
                    if (m.matches()) {
                        return m.group(1);
                    }
                }
                return null;
            } catch (IOException e) {
                return null;
            }
        }).get(90, TimeUnit.SECONDS);
        assertThat(base).as("ready line; stderr in %s", dir.resolve("processor-1.log")).isNotNull();
        await().atMost(Duration.ofSeconds(60)).until(() -> streamsRunning(URI.create(base)));
        return process;
    }

    private boolean streamsRunning(URI base) {
        try {
            JsonNode ready = Json.mapper().readTree(get(base.resolve("/readyz")).body());
            return ready.path("checks").path("streams").path("ok").asBoolean();
        } catch (Exception e) {
            return false;
        }
    }

    private int post(URI base, String body) {
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        try {
            return http.send(HttpRequest.newBuilder(base.resolve("/webhook")).timeout(Duration.ofSeconds(15))
                    .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, raw, System.currentTimeMillis()))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private HttpResponse<String> get(URI url) throws Exception {
        return http.send(HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void wipe(Path tree) throws IOException {
        try (Stream<Path> files = Files.walk(tree)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}
