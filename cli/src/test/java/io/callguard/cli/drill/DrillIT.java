package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.cli.Main;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The drill against a gateway started in the test: it passes with every fault flag on, and it fails (exit 1)
 * when the gateway leaves turns unanswered, so it can gate a deployment.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DrillIT {

    private static final String KEY = "drill-it-key";
    private static final String TOKEN = "drill-it-token";
    /** Every gateway here asks for it on its admin listener, where the drill reads its metrics. */
    private static final String ADMIN_TOKEN = "drill-it-admin-token";

    @TempDir
    Path dataDir;

    @Test
    void shouldPassShortDrillWithEveryFaultFlagOn() throws Exception {
        // Given a whole gateway with room for every call of the drill
        try (Gateway gateway = startGateway(Map.of("capacity.max-active-calls", "200"))) {
            DrillOptions options = new DrillOptions(gateway.httpUri(), KEY, TOKEN, 20, Duration.ofSeconds(10),
                    Duration.ofSeconds(1), Duration.ofMillis(1000), 2, 0.2, true, 0.1, 7, Duration.ofSeconds(1))
                    .withAdmin(new GatewayAdmin(gateway.adminUri(), ADMIN_TOKEN));

            // (after 3 s of plain calls, unmeasured: a fresh gateway's first calls wait seconds for admission on a
            // loaded CI host, and fresh-clone CI failed this test twice on those turns; a cold start the hardening
            // issue's warm-up is for, off in tests)
            new Drill(new DrillOptions(gateway.httpUri(), KEY, TOKEN, 20, Duration.ofSeconds(3), Duration.ofSeconds(1),
                    Duration.ofMillis(1000), 1, 0, false, 0, 8, Duration.ofSeconds(1)), line -> { }).run();

            // When the drill plays 20 calls for 10 s with duplicated webhooks, cut sockets, out-of-order
            // lifecycles and malformed input
            DrillReport report = new Drill(options, line -> { }).run();

            // Then no caller heard silence or a wrong answer, and every fault was actually exercised
            assertThat(report.passed()).as(report.text()).isTrue();
            assertThat(report.count(DrillReport.SILENT_TURNS, 0)).isZero();
            assertThat(report.count("sockets_dropped", 0)).as(report.text()).isPositive();
            assertThat(report.count("reconnects", 0)).as(report.text()).isPositive();
            assertThat(report.count("bad_input_rejected", 0)).as(report.text()).isPositive();
            assertThat(report.count("out_of_order_calls", 0)).as(report.text()).isPositive();
            assertThat(report.count("busy_rejections", 0)).isZero();
            long sent = report.count("turns_sent", 0);
            // About 8 a call in 10 s; the first turns of a call can wait for its admission on a loaded host.
            assertThat(sent).as(report.text()).isGreaterThan(20 * 6);
            // A turn may be superseded by the next one before its answer arrives; that is not silence, but it
            // must stay rare on an unloaded gateway.
            assertThat(report.count("turns_answered", 0)).as(report.text()).isGreaterThanOrEqualTo(sent * 9 / 10);
            assertThat(report.webhooks().getTotalCount()).isEqualTo(20L * 3 * 2);
            // An instant backend: every judged turn is the agent's own answer, heard whole, first words in budget
            assertThat(report.heard(Heard.WHOLE)).as(report.text()).isPositive();
            assertThat(report.wholeShare()).as(report.text()).isGreaterThanOrEqualTo(0.99);
            assertThat(report.firstWords().getTotalCount()).as(report.text()).isPositive();
            assertThat(Json.mapper().readTree(report.json()).path("gateway_process_cpu_cores").asDouble(-1))
                    .as(report.text()).isPositive();
        }
    }

    @Test
    void shouldHearASlowBackendBridgedAndCountInterruptionsApart() throws Exception {
        // Given a gateway whose backend's first chunk comes at 1200 ms, past the 800 ms budget: a filler bridges it
        try (Gateway gateway = startGateway(Map.of("agent.script.first-chunk-median-ms", "1200",
                "agent.script.first-chunk-p99-ms", "1200", "agent.script.chunks", "4",
                "agent.script.chunk-gap-ms", "30"))) {
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));

            // When the drill plays 3 calls for 5 s, the caller interrupting about a third of the turns, after a warm-up
            // (a fresh gateway's first calls wait seconds for admission on a loaded CI host: CI failed on one such
            // turn reaching the first-words deadline, a cold start the hardening issue's warm-up is for)
            int exit = cli.execute("drill", "--target", gateway.httpUri().toString(), "--calls", "3",
                    "--duration", "5s", "--turn-interval", "300ms", "--ramp-up", "0s", "--interrupt-rate", "0.3", "--warmup", "2s",
                    "--seed", "3", "--retell-api-key", KEY, "--socket-token", TOKEN, "--json");

            // Then every judged turn was heard bridged (a filler, then the whole answer), which counts as whole;
            // first words came within the budget, the whole answer after the backend's first chunk; and the
            // interrupted turns were counted apart, not as failures
            JsonNode report = Json.mapper().readTree(out.toString());
            JsonNode heard = report.path("heard");
            assertThat(exit).as(out.toString()).isZero();
            assertThat(heard.path("bridged").asLong()).as(out.toString()).isPositive()
                    .isEqualTo(heard.path("turns").asLong());
            assertThat(heard.path("whole").asLong() + heard.path("truncated").asLong()
                    + heard.path("closing_only").asLong() + heard.path("silent").asLong()).isZero();
            assertThat(heard.path("whole_answers_share").asDouble()).isEqualTo(1.0);
            assertThat(heard.path("shares").path("bridged").asDouble()).isEqualTo(1.0);
            assertThat(report.path("first_words_latency_ms").path("max").asDouble()).as(out.toString())
                    .isLessThan(1000);
            assertThat(report.path("whole_answer_latency_ms").path("p50").asDouble()).as(out.toString())
                    .isGreaterThan(1100);
            assertThat(report.path("counts").path("turns_interrupted").asLong()).as(out.toString()).isPositive();
            assertThat(report.path("counts").path("turns_sent").asLong()).isEqualTo(
                    heard.path("turns").asLong() + report.path("counts").path("turns_interrupted").asLong());
        }
    }

    @Test
    void shouldPlayCallsTheAgentEndsAndTransfers() throws Exception {
        // Given a whole gateway whose script backend hangs up on goodbye and transfers on transfer me (the greeting
        // said at once, so every call's begin is a whole answer whoever owes it)
        try (Gateway gateway = startGateway(Map.of("agent.script.transfer-number", "+15550001234",
                "socket.begin-message", "greeting"))) {
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));

            // When the drill plays 4 calls, half asking the agent to end the call and half to transfer it, after a
            // warm-up (fresh-clone CI failed this test twice on a cold gateway's first turns waiting for admission)
            int exit = cli.execute("drill", "--target", gateway.httpUri().toString(), "--calls", "4", "--warmup", "2s",
                    "--duration", "6s", "--turn-interval", "300ms", "--ramp-up", "0s", "--end-call-rate", "0.5",
                    "--transfer-rate", "0.5", "--seed", "5", "--retell-api-key", KEY, "--socket-token", TOKEN,
                    "--json");

            // Then it passes: each call ended on its 3rd turn, by end_call or by a transfer to the script's number,
            // asked nothing more, and its webhooks still ended it (3 per call)
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out.toString()).isZero();
            JsonNode endings = report.path("endings");
            long ended = endings.path("calls_ended_by_agent").asLong();
            long transferred = endings.path("calls_transferred").asLong();
            assertThat(ended).as(out.toString()).isPositive();
            assertThat(transferred).as(out.toString()).isPositive();
            assertThat(ended + transferred).as(out.toString()).isEqualTo(4);
            assertThat(endings.path("transfer_numbers").path("+15550001234").asLong()).isEqualTo(transferred);
            assertThat(report.path("counts").path("turns_sent").asLong()).as(out.toString()).isEqualTo(4 * 3);
            // Every answer whole; on a loaded host a first turn 300 ms into its call may wait for the call's
            // admission (call-state) past the budget and be bridged by the filler: still the whole answer.
            assertThat(report.path("heard").path("whole").asLong() + report.path("heard").path("bridged").asLong())
                    .as(out.toString()).isEqualTo(4 * 3);
            // Every webhook taken (exit 0: none failed); the endings' acks may land after the report on a loaded host.
            assertThat(report.path("counts").path(DrillReport.WEBHOOK_FAILURES).asLong()).isZero();
            assertThat(report.path("webhook_ack_latency_ms").path("count").asLong()).as(out.toString())
                    .isBetween(4L * 2, 4L * 3);
        }
    }

    @Test
    void shouldFailWhenTurnsGoSilent() throws Exception {
        // Given a gateway that takes turns but cannot answer them: no egress role (no delivery, no edge
        // watchdog) and a short turn budget
        try (Gateway gateway = startGateway(Map.of("roles", "ingress,processor", "turn.budget-ms", "300"))) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(err));

            // When the drill runs against it, given its admin listener but not its admin token
            int exit = cli.execute("drill", "--target", gateway.httpUri().toString(), "--calls", "3",
                    "--duration", "3s", "--turn-interval", "1s", "--budget-ms", "300", "--retell-api-key", KEY,
                    "--socket-token", TOKEN, "--admin-url", gateway.adminUri().toString(), "--json");

            // Then it fails, naming the silent turns
            assertThat(exit).as(out.toString()).isEqualTo(1);
            assertThat(out.toString()).contains("\"passed\" : false").contains("\"silent_turns\"");
            // And it says why the gateway's numbers are missing, and reports none
            assertThat(err.toString()).contains("cannot read the gateway's metrics at " + gateway.adminUri()
                    + "metrics: HTTP 401: give the gateway's admin.token as --admin-token");
            assertThat(Json.mapper().readTree(out.toString()).has("gateway_process_cpu_cores")).isFalse();
        }
    }

    @Test
    void shouldWarmUpUnreportedAndFailBelowMinWholeAnswersWhenEveryAnswerIsAClosingLine() throws Exception {
        // Given a whole gateway whose backend fails every generation, so every answer is a closing line
        try (Gateway gateway = startGateway(Map.of("agent.script.failure-rate", "1.0"))) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(err));

            // When the drill warms up for 2 s and then measures 3 calls for 2 s
            int exit = cli.execute("drill", "--target", gateway.httpUri().toString(), "--calls", "3",
                    "--duration", "2s", "--turn-interval", "500ms", "--warmup", "2s", "--ramp-up", "0s",
                    "--retell-api-key", KEY, "--socket-token", TOKEN, "--admin-url", gateway.adminUri().toString(),
                    "--admin-token", ADMIN_TOKEN, "--json");

            // Then it fails on answer quality alone (a closing line is an answer, never silence: every turn was
            // heard closing_only), saying why; it reports only the measured calls' turns (3 calls, 4 turns each at
            // most), the CPU its own process and the gateway's used meanwhile, and the gateway's fallbacks over the
            // measured part only: one per answered turn
            assertThat(exit).as(out.toString()).isEqualTo(1);
            assertThat(err.toString()).contains("warm-up, 3 calls for 2s, not reported")
                    .contains("warm-up drill: 3 calls open")
                    .contains("drill failed: whole answers 0.0% of").contains("below --min-whole-answers 99.0%");
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(report.path("failures")).as(out.toString()).hasSize(1);
            assertThat(report.path("counts").path("silent_turns").asLong()).isZero();
            long answered = report.path("counts").path("turns_answered").asLong();
            assertThat(report.path("heard").path("closing_only").asLong()).as(out.toString()).isEqualTo(answered);
            assertThat(report.path("heard").path("whole_answers_share").asDouble()).isZero();
            assertThat(report.path("counts").path("turns_sent").asLong()).as(out.toString()).isBetween(3L, 12L);
            assertThat(report.path("webhook_ack_latency_ms").path("count").asLong()).isEqualTo(3 * 3);
            assertThat(report.path("drill_process_cpu_cores").asDouble(-1)).isPositive();
            assertThat(report.path("gateway_process_cpu_cores").asDouble(-1)).isPositive();
            long fallbacks = 0;
            for (JsonNode n : report.path("gateway_fallbacks")) {
                fallbacks += n.asLong();
            }
            assertThat(answered).as(out.toString()).isPositive();
            assertThat(fallbacks).as(out.toString()).isEqualTo(answered);
        }
    }

    @Test
    void benchWebhooksShouldMeasureAcksOnScheduleAndTheProcessorsBacklog() throws Exception {
        // Given a whole gateway (ingress, processor, responder, egress)
        try (Gateway gateway = startGateway(Map.of())) {
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));

            // When bench-webhooks offers 300 webhooks at 200 a second
            int exit = cli.execute("bench-webhooks", "--target", gateway.httpUri().toString(), "--retell-api-key", KEY,
                    "--count", "300", "--warmup", "20", "--rate", "200", "--concurrency", "8",
                    "--admin-url", gateway.adminUri().toString(), "--admin-token", ADMIN_TOKEN);

            // Then every one was acknowledged, on schedule (300 at 200/s take 1.5 s), and the processor took them all
            assertThat(exit).as(out.toString()).isZero();
            assertThat(out.toString()).contains("webhooks: 300 in ").contains("(offered 200/s)")
                    .contains("statuses {200=300}").contains("(from when each was due)")
                    .containsPattern("cpu: gateway process [0-9.]+ cores, this load generator [0-9.]+ cores")
                    .containsPattern("processor backlog \\(acknowledged, not yet taken by the processor\\): max \\d+ "
                            + "at \\d+ s, \\d+ at the last ack, all taken [0-9.]+ s after it");
            double seconds = Double.parseDouble(out.toString().replaceAll("(?s).*webhooks: 300 in ([0-9.]+) s.*", "$1"));
            assertThat(seconds).as(out.toString()).isGreaterThanOrEqualTo(1.49);
            assertThat(gateway.processor().isRunning()).isTrue();
        }
    }

    @Test
    void benchWebhooksShouldSayWhenTheTargetRunsNoProcessor() throws Exception {
        // Given an edge node only
        try (Gateway gateway = startGateway(Map.of("roles", "ingress,egress"))) {
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));

            // When bench-webhooks runs closed loop against it
            int exit = cli.execute("bench-webhooks", "--target", gateway.httpUri().toString(), "--retell-api-key", KEY,
                    "--count", "100", "--warmup", "0", "--concurrency", "4",
                    "--admin-url", gateway.adminUri().toString(), "--admin-token", ADMIN_TOKEN);

            // Then the acks are measured and the backlog is said not to be
            assertThat(exit).as(out.toString()).isZero();
            assertThat(out.toString()).contains("statuses {200=100}")
                    .contains("processor backlog: not measured (the target does not run the processor");
        }
    }

    private Gateway startGateway(Map<String, String> extra) throws Exception {
        Path dir = Files.createTempDirectory(dataDir, "gw");
        Map<String, String> values = new java.util.HashMap<>(Map.of("data.dir", dir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", KEY, "socket.token", TOKEN, "topics.partitions", "2",
                "admin.token", ADMIN_TOKEN));
        values.putAll(extra);
        Gateway gateway = new Gateway(GatewayConfig.of(values), Clock.systemUTC()).start();
        if (gateway.processor() != null) {
            await().atMost(Duration.ofSeconds(60)).until(() -> gateway.processor().isRunning());
        }
        return gateway;
    }
}
