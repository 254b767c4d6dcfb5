package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellWebhooks;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged launcher as a user runs it, in its own JVM: ready line, a webhook, {@code tap}, SIGTERM
 * within 10 s, and a second run on the same data dir that finds the call again.
 */
@Tag("integration")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class LauncherIT {

    private static final String API_KEY = "launcher-key";
    private static final Pattern READY = Pattern.compile(
            "^callguard ready: (http://\\S+) broker=(\\S+) \\(embedded\\) .* admin=(http://\\S+) .*");
    private static final Pattern SOCKET_TOKEN = Pattern.compile(" socket=ws://\\S+\\?token=([A-Za-z0-9_-]+)(?: |$)");
    private static final Path JAR = Path.of("target", "callguard.jar").toAbsolutePath();

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void shouldRunStopOnSigtermAndFindItsDataAgain() throws Exception {
        assertThat(JAR).exists();

        // Given a gateway started by the launcher on an empty data dir
        Running first = start();
        String started = RetellWebhooks.body("call_started", "call-launch");
        assertThat(post(first.url, started).statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> lastState(tap("call-state", 50), "call-launch") != null);

        // And its metrics are on the admin listener the ready line names, not on the public one
        HttpResponse<String> metrics = get(first.admin + "metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("callguard_webhook_latency_seconds");
        assertThat(get(first.url + "metrics").statusCode()).isEqualTo(404);

        // When it gets SIGTERM
        long stopAt = System.nanoTime();
        first.process.destroy();
        boolean exited = first.process.waitFor(10, TimeUnit.SECONDS);

        // Then it stops cleanly within 10 s
        assertThat(exited).as("stopped within 10 s of SIGTERM").isTrue();
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopAt)).isLessThan(10_000);
        assertThat(first.process.exitValue()).isIn(0, 143);
        assertThat(Files.exists(dataDir.resolve("broker.address"))).isFalse();

        // And a second run on the same data dir still knows the call started before, and prints the same socket
        // token on stdout (the URL set in Retell's agent still works), which no line on stderr ever showed
        Running second = start();
        try {
            assertThat(second.socketToken()).isEqualTo(first.socketToken());
            assertThat(Files.readString(dataDir.resolve("stderr.log"))).contains("socket token made and kept in")
                    .doesNotContain(first.socketToken());
            String ended = RetellWebhooks.body("call_ended", "call-launch");
            assertThat(post(second.url, ended).statusCode()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonNode state = lastState(tap("call-state", 50), "call-launch");
                assertThat(state).isNotNull();
                assertThat(state.get("ended").asBoolean()).isTrue();
                assertThat(state.get("started").asBoolean()).as("call_started from the first run kept").isTrue();
                assertThat(state.get("events_applied").asLong()).isEqualTo(2);
            });
        } finally {
            second.process.destroy();
            assertThat(second.process.waitFor(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void shouldRefuseAStartWithTheReasonInOneLineNotAStackTrace() throws Exception {
        // Given a data dir whose socket token file others may read
        java.nio.file.Files.createDirectories(dataDir);
        Path token = dataDir.resolve("socket-token");
        java.nio.file.Files.writeString(token, "0123456789abcdefghijklmnopqrstuv\n");
        java.nio.file.Files.setPosixFilePermissions(token, java.nio.file.attribute.PosixFilePermissions.fromString(
                "rw-r--r--"));

        // When it is run on it
        Process p = new ProcessBuilder(java(), "-jar", JAR.toString(), "run", "--data-dir", dataDir.toString(),
                "--set", "warmup.enabled=false", "--set", "http.port=0", "--set", "admin.port=0",
                "--set", "broker.port=0", "--insecure-skip-signature").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        // Then the start is refused with a line naming the file, and no exception escapes to the JVM
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(output).isEqualTo(1);
        assertThat(output).containsPattern("(?m)^callguard: cannot start: .*" + java.util.regex.Pattern.quote(
                token.toString()));
        assertThat(output).doesNotContain("Exception in thread");
    }

    @Test
    void shouldRefuseUnknownKeyNamingIt() throws Exception {
        Process p = new ProcessBuilder(java(), "-jar", JAR.toString(), "run", "--data-dir", dataDir.toString(),
                "--set", "capacity.max-activ-calls=3").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(output).contains("capacity.max-activ-calls").contains("--set");
    }

    @Test
    void shouldListEveryKeyInRunHelp() throws Exception {
        Process p = new ProcessBuilder(java(), "-jar", JAR.toString(), "run", "--help").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        for (String key : io.callguard.app.config.GatewayConfig.definition().names()) {
            assertThat(output).contains(key);
        }
    }

    private record Running(Process process, String url, String admin, String readyLine) {

        /** The socket token on the ready line (the data dir's own: no socket.token is configured here). */
        String socketToken() {
            Matcher m = SOCKET_TOKEN.matcher(readyLine);
            assertThat(m.find()).as("a socket token on the ready line").isTrue();
            return m.group(1);
        }
    }

    private Running start() throws Exception {
        Process process = new ProcessBuilder(java(), "-jar", JAR.toString(), "run", "--data-dir", dataDir.toString(),
                "--http-port", "0", "--admin-port", "0", "--set", "broker.port=0", "--set", "topics.partitions=2",
                // run warms the JIT up before its ready line (on by default): a short one, still the real path
                "--set", "warmup.turns=300", "--retell-api-key", API_KEY)
                .redirectError(ProcessBuilder.Redirect.appendTo(dataDir.resolve("stderr.log").toFile()))
                .start();
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> {
            try {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    if (READY.matcher(line).matches()) {
                        return line;
                    }
                }
                return null;
            } catch (IOException e) {
                return null;
            }
        });
        String line = ready.get(90, TimeUnit.SECONDS);
        assertThat(line).as("ready line; stderr in %s", dataDir.resolve("stderr.log")).isNotNull();
        Matcher m = READY.matcher(line);
        assertThat(m.matches()).isTrue();
        String base = m.group(1);
        await().atMost(Duration.ofSeconds(60)).until(() -> get(base + "readyz").statusCode() == 200);
        return new Running(process, base, m.group(3), line);
    }

    private List<JsonNode> tap(String topic, int max) throws Exception {
        Process p = new ProcessBuilder(java(), "-jar", JAR.toString(), "tap", topic, "--data-dir", dataDir.toString(),
                "--from-beginning", "--max", String.valueOf(max), "--idle-exit-ms", "1500")
                .redirectError(ProcessBuilder.Redirect.appendTo(dataDir.resolve("tap-stderr.log").toFile())).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : output.split("\n")) {
            if (!line.isBlank()) {
                lines.add(Json.mapper().readTree(line));
            }
        }
        return lines;
    }

    private static JsonNode lastState(List<JsonNode> records, String callId) {
        JsonNode last = null;
        for (JsonNode r : records) {
            if (callId.equals(r.get("key").asText())) {
                last = r.get("value");
            }
        }
        return last;
    }

    private HttpResponse<String> post(String base, String body) throws Exception {
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(URI.create(base + "webhook"))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}
