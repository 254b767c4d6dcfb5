package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.Main;
import io.callguard.schemas.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
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
 * The drill's chaos options end to end on one gateway: a real process killed with SIGKILL at its time into the run
 * and reported, and the audit of the gateway's own topics (every acknowledged webhook on call-events, every ended
 * call archived once as ended) read from its real broker.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ChaosDrillIT {

    private static final String KEY = "chaos-it-key";
    private static final String TOKEN = "chaos-it-token";

    @TempDir
    Path dataDir;

    @Test
    void shouldKillAProcessOnScheduleAndAuditWhatTheGatewayAcknowledged() throws Exception {
        // Given a gateway, and a process standing in for a broker or gateway to kill
        Map<String, String> values = Map.of("data.dir", dataDir.toString(), "broker.port", "0", "http.port", "0",
                "admin.port", "0", "retell.api-key", KEY, "socket.token", TOKEN, "topics.partitions", "2");
        Process victim = new ProcessBuilder("sleep", "120").start();
        try (Gateway gateway = new Gateway(GatewayConfig.of(values), Clock.systemUTC()).start()) {
            await().atMost(Duration.ofSeconds(60)).until(() -> gateway.processor().isRunning());
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(new StringWriter()));

            // When the drill plays 4 calls for 8 s (a fault is healed after 5 s of whole answers), kills the process
            // 1 s in, and audits the topics after
            int exit = cli.execute("drill", "--target", gateway.httpUri().toString(), "--calls", "4",
                    "--duration", "8s", "--turn-interval", "400ms", "--ramp-up", "0s", "--warmup", "2s",
                    "--retell-api-key", KEY, "--socket-token", TOKEN, "--admin-url", gateway.adminUri().toString(),
                    "--kill", victim.pid() + "@1s", "--heal-on", "answered", "--audit-bootstrap-servers",
                    gateway.bootstrapServers(), "--json");

            // Then the process died of SIGKILL at its time, and the fault is reported with the turns after it
            assertThat(victim.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(victim.exitValue()).isEqualTo(137);
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out.toString()).isZero();
            JsonNode fault = report.path("faults").get(0);
            assertThat(fault.path("kill_pid").asLong()).isEqualTo(victim.pid());
            assertThat(fault.path("killed").asBoolean()).isTrue();
            assertThat(fault.path("at_seconds").asDouble()).isBetween(0.9, 3.0);
            assertThat(fault.path("turns_after").asLong()).as(out.toString()).isPositive();
            // (the killed process served nothing: every turn after it was whole, so it healed at once)
            assertThat(fault.path("turns_hurt").asLong()).as(out.toString()).isZero();
            assertThat(fault.path("heal_seconds").asDouble()).isZero();
            assertThat(fault.path("healed").asBoolean()).as(out.toString()).isTrue();
            assertThat(fault.path("heal_on").asText()).isEqualTo("answered");
            // (with the turns in the stretches around it: 1 s of turns before it, and those after it in 0-5 s)
            assertThat(fault.path("around")).hasSize(5);
            assertThat(fault.path("around").get(1).path("turns").asLong()).as(out.toString()).isPositive();
            assertThat(fault.path("around").get(1).path("whole_answer_p90_ms").asLong()).as(out.toString())
                    .isPositive();

            // And every webhook the gateway acknowledged is on call-events, every ended call archived as ended
            JsonNode audit = report.path("audit");
            // 4 calls: call_started, call_ended, call_analyzed each
            assertThat(audit.path("webhooks_acknowledged").asLong()).as(out.toString()).isEqualTo(12);
            assertThat(audit.path("missing_from_call_events").asLong()).isZero();
            assertThat(audit.path("calls_ended").asLong()).isEqualTo(4);
            assertThat(audit.path("archived_ended").asLong()).as(out.toString()).isEqualTo(4);
            assertThat(audit.path("not_archived").asLong() + audit.path("archived_twice").asLong()
                    + audit.path("archived_not_ended").asLong()).isZero();
        } finally {
            victim.destroyForcibly();
        }
    }

    @Test
    void shouldFailWhenAnAcknowledgedWebhookIsNotOnCallEvents() {
        // Given what a drill saw acknowledged, audited against topics that never received it
        EventAudit.Result result = new EventAudit.Result(3, 1, 1, 0, 1, 0, 0,
                java.util.List.of("acknowledged but not on call-events: call_ended of c1"));
        DrillReport report = new DrillReport(0);
        report.audit(result);
        report.finish(1, 0, Double.NaN, null);

        // Then the drill fails and says what is missing
        assertThat(report.passed()).isFalse();
        assertThat(report.failures()).anyMatch(f -> f.contains("acknowledged webhooks missing from call-events: 1 of 3"))
                .anyMatch(f -> f.contains("1 not archived"));
    }
}
