package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.cli.Main;
import io.callguard.schemas.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * The drill with webhooks off against a custom-LLM server reached directly ({@link ScriptSocketServer}): calls the
 * agent ends or transfers, agent frames counted by type, and the drill failing when the agent does not act as
 * asked or acts unasked.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DrillSocketsOnlyTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** Runs the drill, sockets only, against the server: 4 calls of 2 s, a turn each 200 ms, unless overridden. */
    private int drill(ScriptSocketServer server, String... overrides) {
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        Map<String, String> options = new LinkedHashMap<>(Map.of("--webhooks", "false", "--socket-url",
                server.socketUrl(), "--calls", "4", "--duration", "2s", "--turn-interval", "200ms", "--ramp-up", "0s"));
        for (int i = 0; i < overrides.length; i += 2) {
            options.put(overrides[i], overrides[i + 1]);
        }
        List<String> args = new ArrayList<>(List.of("drill", "--json"));
        options.forEach((k, v) -> args.addAll(List.of(k, v)));
        return cli.execute(args.toArray(String[]::new));
    }

    @Test
    void shouldEndAndTransferCallsAsAskedWithoutAnyWebhook() throws Exception {
        // Given an upstream that hangs up on goodbye and transfers on transfer me
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.AS_ASKED).start()) {

            // When the drill plays 4 calls, sockets only, half of them asking to end and half to be transferred
            int exit = drill(server, "--end-call-rate", "0.5", "--transfer-rate", "0.5", "--seed", "5");

            // Then it passes: every call ended on its 3rd turn, by end_call or by a transfer to the server's number,
            // the drill hanging up each socket with 1000 and asking nothing more; no webhook (nor any HTTP request)
            // was sent; the agent's frames are counted by type, and the interrupt's words were no turn's answer
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "" + err).isZero();
            JsonNode endings = report.path("endings");
            long ended = endings.path("calls_ended_by_agent").asLong();
            long transferred = endings.path("calls_transferred").asLong();
            assertThat(ended).as(out.toString()).isPositive();
            assertThat(transferred).as(out.toString()).isPositive();
            assertThat(ended + transferred).isEqualTo(4);
            assertThat(Json.mapper().convertValue(endings.path("transfer_numbers"), Map.class))
                    .isEqualTo(Map.of(ScriptSocketServer.TRANSFER_NUMBER, (int) transferred));
            assertThat(endings.path("end_call_missing").asLong() + endings.path("transfer_missing").asLong()
                    + endings.path("unexpected_end_call").asLong() + endings.path("endings_not_reached").asLong())
                    .isZero();
            assertThat(report.path("counts").path("turns_sent").asLong()).isEqualTo(4 * 3);
            assertThat(report.path("heard").path("whole").asLong()).isEqualTo(4 * 3);
            assertThat(report.path("counts").path("reconnects").asLong()).isZero();
            assertThat(report.path("counts").has("other_frames")).isFalse();
            assertThat(report.path("webhook_ack_latency_ms").path("count").asLong()).isZero();
            assertThat(server.httpRequests()).isZero();
            assertThat(server.sockets()).isEqualTo(4);
            assertThat(server.closedWith1000()).isEqualTo(4);
            JsonNode frames = report.path("agent_frames");
            assertThat(frames.path("update_agent").asLong()).isEqualTo(4);
            assertThat(frames.path("agent_interrupt").asLong()).isEqualTo(4);
            assertThat(frames.path("metadata").asLong()).isEqualTo(ended);
            assertThat(frames.path("tool_call_invocation").asLong()).isEqualTo(transferred);
            assertThat(frames.path("tool_call_result").asLong()).isEqualTo(transferred);
        }
    }

    @Test
    void shouldFailWithEndCallMissingWhenTheAgentDoesNotHangUp() throws Exception {
        // Given an upstream that answers goodbye with words only
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.NEVER).start()) {

            // When every call's caller says goodbye on its 3rd turn
            int exit = drill(server, "--end-call-rate", "1");

            // Then the drill fails naming end_call_missing, once per call, and the calls went on past the 3rd turn
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "\n" + err).isEqualTo(1);
            assertThat(report.path("failures")).extracting(JsonNode::asText).containsExactly("end_call_missing: 4");
            assertThat(err.toString()).contains("drill failed: end_call_missing: 4");
            assertThat(report.path("endings").path("calls_ended_by_agent").asLong()).isZero();
            assertThat(report.path("counts").path("turns_sent").asLong()).isGreaterThan(4 * 3);
            assertThat(server.closedWith1000()).isEqualTo(4);
        }
    }

    @Test
    void shouldFailWithUnexpectedEndCallWhenTheAgentHangsUpUnasked() throws Exception {
        // Given an upstream that sets end_call on every answer
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.ALWAYS_END_CALL).start()) {

            // When the drill plays plain calls, none asking to end
            int exit = drill(server, "--calls", "2", "--duration", "1s");

            // Then every answered turn is an unexpected end_call, and the drill fails on it alone
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "\n" + err).isEqualTo(1);
            long answered = report.path("counts").path("turns_answered").asLong();
            assertThat(answered).isPositive();
            assertThat(report.path("failures")).extracting(JsonNode::asText)
                    .containsExactly("unexpected_end_call: " + answered);
        }
    }

    @Test
    void shouldCountEndingsNotReachedInCallsTooShortForTheEndingTurn() throws Exception {
        // Given an upstream that would hang up as asked
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.AS_ASKED).start()) {

            // When calls last one turn interval only, too short to reach their 3rd turn
            int exit = drill(server, "--calls", "2", "--duration", "200ms", "--end-call-rate", "1",
                    "--min-whole-answers", "0");

            // Then each is counted as not reached, which is no failure
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "\n" + err).isZero();
            assertThat(report.path("endings").path("endings_not_reached").asLong()).isEqualTo(2);
            assertThat(report.path("endings").path("calls_ended_by_agent").asLong()).isZero();
        }
    }

    @Test
    void shouldReconnectAfterAnAbnormalCloseAndCountAGreetingSaidAgain() throws Exception {
        // Given an upstream that drops each call's socket without a close frame after its 2nd answer, and greets the
        // reconnect as a new call
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.AS_ASKED,
                ScriptSocketServer.Drops.ABORT_AND_GREET_AGAIN).start()) {

            // When the drill plays 4 calls long enough for turns after the drop
            int exit = drill(server, "--duration", "3s");

            // Then every call saw 1006, dialled again at once and went on: no turn silent, no call dropped; each
            // greeting on a reconnect is counted, not failed
            JsonNode report = Json.mapper().readTree(out.toString());
            JsonNode counts = report.path("counts");
            assertThat(exit).as(out + "\n" + err).isZero();
            assertThat(counts.path("socket_closes_1006").asLong()).isEqualTo(4);
            assertThat(counts.path("reconnects").asLong()).isEqualTo(4);
            assertThat(counts.path("reconnect_failures").asLong()).isZero();
            assertThat(counts.path(DrillReport.DROPPED_CALLS).asLong()).isZero();
            assertThat(counts.path(DrillReport.GREETED_AGAIN).asLong()).isEqualTo(4);
            assertThat(counts.path(DrillReport.SILENT_TURNS).asLong()).isZero();
            assertThat(server.sockets()).isEqualTo(8);
            assertThat(counts.path("turns_answered").asLong()).isGreaterThan(4 * 3);
        }
    }

    @Test
    void shouldFailWithDroppedCallsWhenTheServerHangsUpUnasked() throws Exception {
        // Given an upstream that closes each call's socket with 1000 after its 2nd answer: Retell hangs up
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.AS_ASKED,
                ScriptSocketServer.Drops.HANG_UP).start()) {

            // When the drill plays plain calls
            int exit = drill(server);

            // Then each call is dropped, which fails the drill, and none dialled again
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "\n" + err).isEqualTo(1);
            assertThat(report.path("failures")).extracting(JsonNode::asText).contains("calls_dropped: 4");
            assertThat(report.path("counts").path("reconnects").asLong()).isZero();
            assertThat(server.sockets()).isEqualTo(4);
        }
    }

    @Test
    void shouldDropACallWhoseReconnectsAreAllRefused() throws Exception {
        // Given an upstream that drops each socket after its 2nd answer and refuses every reconnect with 503
        try (ScriptSocketServer server = new ScriptSocketServer(ScriptSocketServer.Acts.AS_ASKED,
                ScriptSocketServer.Drops.ABORT_AND_REFUSE_RECONNECTS).start()) {

            // When one call lasts long enough for Retell's three attempts, 3 s apart
            int exit = drill(server, "--calls", "1", "--duration", "8s", "--min-whole-answers", "0");

            // Then the call is dropped after exactly three attempts, and the drill fails on it
            JsonNode report = Json.mapper().readTree(out.toString());
            assertThat(exit).as(out + "\n" + err).isEqualTo(1);
            assertThat(report.path("counts").path("reconnect_failures").asLong())
                    .isEqualTo(SimulatedCall.RECONNECT_ATTEMPTS);
            assertThat(report.path("failures")).extracting(JsonNode::asText).contains("calls_dropped: 1");
        }
    }
}
