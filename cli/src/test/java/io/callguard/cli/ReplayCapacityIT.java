package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code replay} of calls that went through capacity live, on a real broker with real sockets: one slot, one queue
 * place. A is admitted and its socket lost past the grace (the slot released), B waits on hold and is admitted from
 * the queue, C is refused. Each call's timeline shows its hold or busy answers and its decisions, the live ones
 * beside those re-made for the call alone where they differ.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ReplayCapacityIT {

    private static final String KEY = "replay-key";
    private static final String TOKEN = "replay-token";
    private static final String HOLD = "Please hold, you are next in line.";
    private static final String BUSY = "All lines are busy, please call again later.";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path dataDir;

    private final WebSocketClient client = new WebSocketClient();
    private Gateway gateway;

    @BeforeAll
    void playThreeCalls() throws Exception {
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", KEY, "socket.token", TOKEN,
                "topics.partitions", "1", "capacity.max-active-calls-per-partition", "1", "capacity.queue-size", "1",
                "capacity.socket-lost-grace-ms", "2000"));
        settings.putAll(Map.of("capacity.hold-message", HOLD, "capacity.busy-message", BUSY,
                "capacity.hold-repeat-ms", "3600000", "call.expiry-scan-interval-ms", "200"));
        gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        client.start();
        assertThat(RetellWebhooks.post(HttpClient.newHttpClient(), gateway.httpUri(), KEY,
                RetellWebhooks.body("call_started", "call-a"))).isEqualTo(200);
        RetellSocketClient a = RetellSocketClient.connect(client, gateway.httpUri(), "call-a", TOKEN);
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.ACTIVE && a.completes(0) == 1);
        RetellSocketClient b = RetellSocketClient.connect(client, gateway.httpUri(), "call-b", TOKEN);
        await().atMost(WAIT).until(() -> status("call-b") == CallStatus.QUEUED && b.completes(0) == 1);
        RetellSocketClient c = RetellSocketClient.connect(client, gateway.httpUri(), "call-c", TOKEN);
        await().atMost(WAIT).until(() -> status("call-c") == CallStatus.REJECTED && c.completes(0) == 1);
        c.sendResponseRequired(1, "hello");
        await().atMost(WAIT).until(() -> c.completes(1) == 1);
        // A's socket goes and does not come back: past the grace its slot goes to B
        a.close();
        await().atMost(WAIT).until(() -> status("call-a") == CallStatus.EXPIRED
                && status("call-b") == CallStatus.ACTIVE);
        b.close();
        c.close();
    }

    @AfterAll
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldShowTheHoldAnswerAndTheLiveQueueDecisionsOfACallAdmittedFromTheQueue() throws Exception {
        JsonNode t = replay("call-b");

        // The replay, for B alone, admits it at its socket's opening; the live decisions are shown beside that
        JsonNode opened = t.path("timeline").get(0);
        assertThat(texts(opened.path("decisions"))).contains("admitted");
        assertThat(opened.path("live_admission")).extracting(d -> d.path("decision").asText())
                .containsExactly("queued", "admitted from queue");
        assertThat(t.path("live").path("admission_differs").asBoolean()).isTrue();
        // And the hold line it heard is on the timeline, with the agent's begin when it was admitted
        assertThat(kinds(t)).contains("hold");
        assertThat(t.toString()).contains(HOLD);
        assertThat(text("call-b")).contains("live admission (call-state): queued at ",
                ", admitted from queue at ", "; re-made for this call alone: admitted", "hold");
    }

    @Test
    void shouldShowTheBusyAnswerAndTheLiveRejectionOfARefusedCall() throws Exception {
        JsonNode t = replay("call-c");

        assertThat(t.path("timeline").get(0).path("live_admission")).extracting(d -> d.path("decision").asText())
                .containsExactly("rejected (queue_full)");
        assertThat(kinds(t)).contains("busy");
        assertThat(text("call-c")).contains("busy", "[end_call]", "rejected (queue_full) at ");
    }

    @Test
    void shouldShowTheSlotReleasedForASocketLostPastTheGrace() throws Exception {
        JsonNode t = replay("call-a");

        List<String> decisions = new ArrayList<>();
        t.path("timeline").forEach(e -> decisions.addAll(texts(e.path("decisions"))));
        assertThat(decisions).contains("admitted", "socket lost: slot kept for the grace of 2000 ms",
                "socket lost past the grace with no call_ended: slot released (socket_lost)",
                "archived (socket_lost)");
        // Admitted live at its first event as in the replay: nothing to set beside it
        assertThat(t.path("live").path("admission_differs").asBoolean()).isFalse();
        assertThat(t.path("live").path("archived").asText()).isEqualTo("socket_lost");
        assertThat(t.path("replayed").path("archived").asText()).isEqualTo("socket_lost");
    }

    /** The call's replay as JSON, once the live call-state it is compared with has its final status. */
    private JsonNode replay(String callId) throws Exception {
        String live = status(callId).wireName();
        JsonNode[] timeline = new JsonNode[1];
        await().atMost(WAIT).untilAsserted(() -> {
            String[] run = run("replay", "--call-id", callId, "--bootstrap-servers", gateway.bootstrapServers(),
                    "--json", "--set", "capacity.max-active-calls-per-partition=1", "--set", "capacity.queue-size=1",
                    "--set", "capacity.socket-lost-grace-ms=2000", "--set", "topics.partitions=1");
            assertThat(run[0]).as(run[2]).isEqualTo("0");
            timeline[0] = Json.mapper().readTree(run[1]);
            assertThat(timeline[0].path("live").path("final_state").path("status").asText()).isEqualTo(live);
        });
        return timeline[0];
    }

    private String text(String callId) {
        String[] run = run("replay", "--call-id", callId, "--bootstrap-servers", gateway.bootstrapServers(),
                "--set", "capacity.socket-lost-grace-ms=2000");
        assertThat(run[0]).as(run[2]).isEqualTo("0");
        return run[1];
    }

    /** exit code, stdout, stderr. */
    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new String[] {String.valueOf(exit), out.toString(), err.toString()};
    }

    private static List<String> kinds(JsonNode timeline) {
        List<String> kinds = new ArrayList<>();
        timeline.path("timeline").forEach(e -> e.path("answers").forEach(a -> kinds.add(a.path("kind").asText())));
        return kinds;
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(x -> out.add(x.asText()));
        return out;
    }

    private CallStatus status(String callId) {
        return gateway.processor().callState(callId).map(CallState::status).orElse(null);
    }
}
