package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.tools.PrometheusText;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import java.awt.image.BufferedImage;
import java.io.IOException;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue 5 against one running gateway (one broker start keeps this suite short): traffic is driven once
 * (webhooks with a duplicate and a dead letter, a call's socket with turns that all fall back because the
 * script backend fails every attempt, a reconnect), then {@code /metrics}, the Grafana dashboard's queries,
 * {@code /dashboard}, the HTML page in headless chromium, the logs and the health endpoints are checked.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ObservabilityIT {

    private static final String API_KEY = "obs-it-api-key-5f3a9c71";
    private static final String TOKEN = "obs-it-socket-token-8e21d4";
    private static final String CALL = "call-obs-1";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path GRAFANA_DASHBOARD = Path.of("..", "deploy", "grafana", "dashboards", "callguard.json");

    @TempDir
    static Path dataDir;
    @TempDir
    static Path browserDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final WebSocketClient sockets = new WebSocketClient();
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private Gateway gateway;
    private PrometheusText before;
    private int webhookDeadLetterStatus;

    @BeforeAll
    void startGatewayAndDriveTraffic() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        logs.start();
        root.addAppender(logs);

        // Every backend attempt fails, so every turn ends in the responder's "error" fallback; the breaker
        // needs more calls than this suite makes before it judges, so it stays closed. Every webhook counts as
        // slow, so the slow-webhook counter exists for the Grafana check. The greeting is said at the edge at once
        // (socket.begin-message=greeting): a begin message the responder says is a record on callguard.responses and
        // would count as one whole answer among the turns this suite expects to fail.
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", API_KEY, "socket.token", TOKEN,
                "topics.partitions", "2", "agent.script.failure-rate", "1", "responder.breaker.minimum-calls", "1000",
                "webhook.slow-threshold-ms", "0"));
        settings.put("socket.begin-message", "greeting");
        GatewayConfig config = GatewayConfig.of(settings);
        gateway = new Gateway(config, Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> "true".equals(readyz().path("ready").asText()));
        sockets.start();
        before = scrape();

        // Webhooks: a call_started, the same again (Retell retries), and a body that is not JSON
        assertThat(postWebhook(RetellWebhooks.body("call_started", CALL))).isEqualTo(200);
        assertThat(postWebhook(RetellWebhooks.body("call_started", CALL))).isEqualTo(200);
        webhookDeadLetterStatus = postWebhook("{not json");

        // The call's socket: three turns, each answered with a fallback
        RetellSocketClient retell = RetellSocketClient.connect(sockets, gateway.httpUri(), CALL, TOKEN);
        retell.next("response", WAIT);
        for (long id = 1; id <= 3; id++) {
            retell.sendResponseRequired(id, "question " + id);
            completeAnswer(retell, id);
        }
        // Retell reconnects the same call: the new socket supersedes the old one
        RetellSocketClient again = RetellSocketClient.connect(sockets, gateway.httpUri(), CALL, TOKEN);
        again.sendResponseRequired(4, "still there?");
        completeAnswer(again, 4);
        retell.close();
        again.close();
    }

    @AfterAll
    void stop() throws Exception {
        sockets.stop();
        if (gateway != null) {
            gateway.close();
        }
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    @Test
    @Order(1)
    void shouldMoveTheCountersAndHistogramsTheTrafficTouched() throws Exception {
        // When /metrics is scraped after the traffic (the duplicate is dropped asynchronously, in the processor)
        await().atMost(WAIT).until(() -> scrape().sum("callguard_duplicates_dropped_total", "kind", "call_started") >= 1);
        PrometheusText after = scrape();

        // Then each decision shows up under its name and tags
        assertThat(webhookDeadLetterStatus).isEqualTo(400);
        assertThat(moved(after, "callguard_fallbacks_total", "reason", "error")).isGreaterThanOrEqualTo(4);
        assertThat(moved(after, "callguard_turn_latency_seconds_count", "kind", "fallback")).isGreaterThanOrEqualTo(4);
        assertThat(after.sum("callguard_turn_latency_seconds_bucket", "kind", "fallback", "le", "+Inf"))
                .as("percentile histogram buckets").isGreaterThanOrEqualTo(4);
        assertThat(moved(after, "callguard_turn_first_words_latency_seconds_count")).as("first words, any kind")
                .isGreaterThanOrEqualTo(4);
        assertThat(moved(after, "callguard_turn_outcomes_total", "outcome", "closed", "reason", "error"))
                .isGreaterThanOrEqualTo(4);
        assertThat(moved(after, "callguard_turn_outcomes_total", "outcome", "whole")).isZero();
        assertThat(moved(after, "callguard_webhook_slow_total", "event", "call_started", "outcome", "accepted"))
                .isEqualTo(2);
        assertThat(moved(after, "callguard_duplicates_dropped_total", "kind", "call_started")).isEqualTo(1);
        assertThat(moved(after, "callguard_dead_letters_total", "source", "webhook", "reason", "invalid_json"))
                .isEqualTo(1);
        assertThat(moved(after, "callguard_webhook_latency_seconds_count", "event", "call_started", "outcome",
                "accepted")).isEqualTo(2);
        assertThat(moved(after, "callguard_webhooks_rejected_total", "reason", "invalid_json")).isEqualTo(1);
        assertThat(moved(after, "callguard_socket_reconnects_total", "mode", "dial_in")).isEqualTo(1);
        assertThat(moved(after, "callguard_socket_superseded_total")).isEqualTo(1);
        assertThat(after.names()).contains("callguard_socket_connections", "callguard_calls_active",
                "callguard_calls_queued", "callguard_capacity", "callguard_capacity_utilization",
                "resilience4j_circuitbreaker_state", "resilience4j_bulkhead_available_concurrent_calls",
                "resilience4j_retry_calls_total", "resilience4j_timelimiter_calls_total",
                "kafka_consumer_fetch_manager_records_lag_max", "kafka_producer_record_send_total",
                "jvm_memory_used_bytes", "process_cpu_usage");
        assertThat(moved(after, "resilience4j_timelimiter_calls_total", "kind", "failed")).isGreaterThanOrEqualTo(4);
        assertThat(after.sum("callguard_calls_active")).isEqualTo(1);
        assertThat(after.sum("callguard_capacity_utilization")).isGreaterThan(0);
    }

    @Test
    @Order(2)
    void shouldFindEveryMetricTheGrafanaDashboardQueries() throws Exception {
        // Given the provisioned dashboard's PromQL
        JsonNode dashboard = Json.mapper().readTree(Files.readAllBytes(GRAFANA_DASHBOARD));
        List<String> queries = new ArrayList<>();
        dashboard.findValues("expr").forEach(e -> queries.add(e.asText()));
        assertThat(queries).as("queries in " + GRAFANA_DASHBOARD).hasSizeGreaterThanOrEqualTo(7);

        // When the names each query reads are taken out of it
        Set<String> used = new TreeSet<>();
        queries.forEach(q -> used.addAll(GrafanaQueries.metricNames(q)));

        // Then the running gateway publishes every one of them
        Set<String> published = scrape().names();
        assertThat(used).contains("callguard_turn_latency_seconds_bucket", "callguard_fallbacks_total",
                "kafka_consumer_fetch_manager_records_lag_max", "callguard_turn_first_words_latency_seconds_bucket",
                "callguard_turn_outcomes_total", "callguard_responder_hedges_won_total",
                "resilience4j_circuitbreaker_state");
        assertThat(published).containsAll(used);
    }

    @Test
    @Order(3)
    void shouldAnswerTheDashboardJsonForThisInstanceAndTheApplication() throws Exception {
        // When /dashboard is asked, once the responses reader has seen the fallbacks
        // (the application's capacity is asked every 5 s, off the request path)
        await().atMost(WAIT).until(() -> dashboard().path("application").path("last_fallbacks").size() >= 4
                && dashboard().path("application").path("active_calls").asLong() == 1);
        JsonNode d = dashboard();

        // Then the seed's fields and the issue's additions are there, with plausible values
        assertThat(d.path("p50_latency").asDouble()).isPositive();
        assertThat(d.path("p99_latency").asDouble()).isGreaterThanOrEqualTo(d.path("p50_latency").asDouble());
        assertThat(d.path("active_calls").asDouble()).isEqualTo(1.0);
        assertThat(d.path("slow_webhooks_pct").asDouble()).isEqualTo(100.0);
        assertThat(d.path("capacity").asDouble()).isPositive();
        assertThat(d.path("capacity_utilization").asDouble()).isBetween(0.0001, 1.0);
        assertThat(d.path("fallback_rate").asDouble()).isEqualTo(1.0);
        assertThat(d.path("breaker_state").asText()).isEqualTo("closed");
        // And first words, the whole answer, the turn shares, hedges and breakers per backend
        assertThat(d.path("first_words_source").asText()).isEqualTo("edge");
        assertThat(d.path("p50_answer_ms").asDouble()).isPositive();
        assertThat(d.path("p99_answer_ms").asDouble()).isGreaterThanOrEqualTo(d.path("p50_answer_ms").asDouble());
        JsonNode shares = d.path("turn_shares");
        assertThat(shares.path("turns").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(shares.path("closed_share").asDouble()).isEqualTo(1.0);
        assertThat(shares.path("whole_share").asDouble()).isZero();
        assertThat(shares.path("closed_by_reason").path("error").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(d.path("breakers").path("agent-backend").asText()).isEqualTo("closed");
        assertThat(d.path("hedges_won").path("agent-backend").isIntegralNumber()).isTrue();
        assertThat(d.path("hedges_won").path("agent-backend").asLong()).isZero();
        JsonNode app = d.path("application");
        assertThat(app.path("turn_shares").path("closed").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(app.path("turn_shares").path("closed_share").asDouble()).isEqualTo(1.0);
        assertThat(app.path("turn_shares").path("closed_by_reason").path("error").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(app.path("fallbacks_by_reason").path("error").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(app.path("fallback_rate").asDouble()).isEqualTo(1.0);
        assertThat(app.path("active_calls").asLong()).isEqualTo(1);
        assertThat(app.path("capacity_utilization").asDouble()).isPositive();
        assertThat(app.path("last_fallbacks").get(0).path("call_id").asText()).isEqualTo(CALL);
    }

    @Test
    @Order(4)
    void shouldRenderTheLivePageInHeadlessChromium() throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            fail(CHROMIUM + " is missing: install Debian's chromium package (apt-get install -y chromium); "
                    + ".ci/run installs it before the tests");
        }
        await().atMost(WAIT).until(() -> dashboard().path("application").path("last_fallbacks").size() >= 1);

        // When chromium loads the page and lets its script run
        String dom = chromium("--dump-dom");
        Path png = browserDir.resolve("dashboard.png");
        chromium("--screenshot=" + png);

        // Then the script filled the tiles and the fallback table from /dashboard
        assertThat(tile(dom, "p50")).as("p50 tile").matches("[0-9]+\\.[0-9]").isNotEqualTo("0.0");
        assertThat(tile(dom, "active")).isEqualTo("1");
        assertThat(tile(dom, "breaker")).isEqualTo("closed");
        assertThat(tile(dom, "fallback")).isEqualTo("100.0%");
        assertThat(tile(dom, "p50answer")).as("whole answer p50 tile").matches("[0-9]+\\.[0-9]").isNotEqualTo("0.0");
        assertThat(tile(dom, "share-closed")).isEqualTo("100.0%");
        assertThat(tile(dom, "share-whole")).isEqualTo("0.0%");
        assertThat(tile(dom, "share-bridged")).isEqualTo("0.0%");
        assertThat(tile(dom, "app-share-closed")).isEqualTo("100.0%");
        assertThat(tile(dom, "closed-error")).as("closing lines for errors").matches("[0-9]+");
        assertThat(Long.parseLong(tile(dom, "closed-error"))).isGreaterThanOrEqualTo(4);
        assertThat(tile(dom, "breaker-agent-backend")).isEqualTo("closed");
        assertThat(tile(dom, "hedges-agent-backend")).isEqualTo("0");
        assertThat(dom).contains("<td>error</td>").contains("<td>" + CALL + "</td>").contains("<polyline");
        assertThat(tile(dom, "status")).startsWith("updated");

        // And the screenshot shows a page, not a blank image
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).as("screenshot " + png).isNotNull();
        Set<Integer> colours = new HashSet<>();
        long notWhite = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y) & 0xFFFFFF;
                colours.add(rgb);
                if (rgb != 0xFFFFFF && rgb != 0xFAFAFA) {
                    notWhite++;
                }
            }
        }
        assertThat(colours.size()).as("distinct colours").isGreaterThan(20);
        assertThat((double) notWhite / ((long) image.getWidth() * image.getHeight())).as("share of inked pixels")
                .isGreaterThan(0.01);
    }

    @Test
    @Order(5)
    void shouldLogEveryDecisionWithItsCallAndNeverASecret() {
        List<String> lines = new ArrayList<>();
        for (ILoggingEvent e : List.copyOf(logs.list)) {
            lines.add(e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage()));
        }
        assertThat(lines).anyMatch(l -> l.contains("call " + CALL + " admitted"));
        assertThat(lines).anyMatch(l -> l.contains("call " + CALL + " response 1: closing line error"));
        assertThat(lines).anyMatch(l -> l.contains("call " + CALL + ": reconnected"));
        assertThat(lines).anyMatch(l -> l.contains("dead-lettering a webhook: invalid_json"));
        assertThat(lines).noneMatch(l -> l.contains(API_KEY)).noneMatch(l -> l.contains(TOKEN));
        // The embedded broker stays quiet: nothing under INFO from Kafka's own loggers
        assertThat(List.copyOf(logs.list)).noneMatch(e -> (e.getLoggerName().startsWith("kafka.")
                || e.getLoggerName().startsWith("org.apache.kafka")) && e.getLevel().toInt() < 30_000);
    }

    @Test
    @Order(10)
    void shouldBeLiveAndReadyThenNotReadyWithTheReasonWhenStreamsStops() throws Exception {
        // Given a ready gateway
        assertThat(get("/healthz").statusCode()).isEqualTo(200);
        HttpResponse<String> ready = get("/readyz");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(Json.mapper().readTree(ready.body()).path("checks").path("socket").path("ok").asBoolean()).isTrue();

        // When its Kafka Streams client stops
        gateway.processor().close();

        // Then it is not ready and says why, and still live (a restart is not what it needs)
        HttpResponse<String> notReady = get("/readyz");
        assertThat(notReady.statusCode()).isEqualTo(503);
        JsonNode body = Json.mapper().readTree(notReady.body());
        assertThat(body.path("ready").asBoolean()).isFalse();
        assertThat(body.path("checks").path("streams").path("ok").asBoolean()).isFalse();
        assertThat(body.path("checks").path("streams").path("detail").asText()).contains("NOT_RUNNING");
        assertThat(body.path("checks").path("broker").path("ok").asBoolean()).isTrue();
        assertThat(get("/healthz").statusCode()).isEqualTo(200);
    }

    // ---- helpers

    private String chromium(String output) throws IOException, InterruptedException {
        List<String> command = List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--user-data-dir=" + browserDir.resolve("profile"),
                "--window-size=1000,900", "--virtual-time-budget=5000", output, gateway.adminUri().toString());
        Path out = browserDir.resolve("stdout.txt");
        Path err = browserDir.resolve("stderr.txt");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("chromium did not finish within 60 s: " + Files.readString(err));
        }
        assertThat(p.exitValue()).as("chromium exit code; stderr: " + Files.readString(err)).isZero();
        return Files.readString(out);
    }

    private static String tile(String dom, String id) {
        Matcher m = Pattern.compile("id=\"" + id + "\"[^>]*>([^<]*)<").matcher(dom);
        return m.find() ? m.group(1) : "(no element #" + id + ")";
    }

    private double moved(PrometheusText after, String name, String... labels) {
        return after.sum(name, labels) - before.sum(name, labels);
    }

    private PrometheusText scrape() throws Exception {
        HttpResponse<String> r = get(gateway.adminUri(), "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        Files.writeString(Path.of("target", "observability-it-metrics.txt"), r.body());
        return new PrometheusText(r.body());
    }

    private JsonNode dashboard() throws Exception {
        return Json.mapper().readTree(get(gateway.adminUri(), "/dashboard").body());
    }

    private JsonNode readyz() throws Exception {
        return Json.mapper().readTree(get("/readyz").body());
    }

    /** A GET of the public listener (health, readiness). */
    private HttpResponse<String> get(String path) throws Exception {
        return get(gateway.httpUri(), path);
    }

    private HttpResponse<String> get(URI base, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path.substring(1)))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private int postWebhook(String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return http.send(HttpRequest.newBuilder(URI.create(gateway.httpUri() + "webhook"))
                .timeout(Duration.ofSeconds(10))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, bytes, System.currentTimeMillis()))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static void completeAnswer(RetellSocketClient retell, long responseId) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            RetellSocketClient.Frame f = retell.next("response", WAIT);
            if (f.json().path("response_id").asLong() == responseId && f.json().path("content_complete").asBoolean()) {
                return;
            }
        }
        throw new AssertionError("no complete answer for response " + responseId);
    }
}
