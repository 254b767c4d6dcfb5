package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.Gateway;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** tap and replay against a gateway with its embedded broker: a call that went through the live processor. */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OperatorToolsIT {

    private static final String KEY = "tools-key";
    private static final String CALL = "call-tools-1";

    @TempDir
    static Path dataDir;

    private Gateway gateway;
    private final Topics topics = Topics.defaults();
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void startAndPlayOneArchivedCall() throws Exception {
        gateway = new Gateway(GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", KEY, "socket.token", "t", "topics.partitions", "3")),
                Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> gateway.processor().isRunning());
        // A call with a duplicated call_started, then its end and analysis: the live processor archives it.
        for (String event : List.of("call_started", "call_started", "call_ended", "call_analyzed")) {
            assertThat(post(RetellWebhooks.body(event, CALL)) / 100).isEqualTo(2);
        }
        try (TopicReader<byte[]> archive = new TopicReader<>(gateway.bootstrapServers(), topics.callArchive().name(),
                new ByteArrayDeserializer());
             TopicReader<byte[]> states = new TopicReader<>(gateway.bootstrapServers(), topics.callState().name(),
                     new ByteArrayDeserializer())) {
            await().atMost(Duration.ofSeconds(30)).until(() -> !archive.valuesFor(CALL).isEmpty()
                    && liveState(states.valuesFor(CALL)).analyzed());
        }
    }

    @AfterAll
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldReplayArchivedCallTimelineMatchingTheLiveState() throws Exception {
        // When the archived call is replayed
        Run run = cli("replay", "--call-id", CALL, "--bootstrap-servers", gateway.bootstrapServers(), "--json");

        // Then every event is on the timeline with what it did, and the replay ends where the live processor did
        assertThat(run.exit).as(run.err).isZero();
        JsonNode t = Json.mapper().readTree(run.out);
        List<String> types = new ArrayList<>();
        List<String> decisions = new ArrayList<>();
        t.path("timeline").forEach(e -> {
            if (e.path("kind").asText().equals("event")) {
                types.add(e.path("type").asText());
            }
            e.path("decisions").forEach(d -> decisions.add(e.path("type").asText() + ": " + d.asText()));
        });
        assertThat(types).containsExactly("call_started", "call_started", "call_ended", "call_analyzed");
        assertThat(decisions).contains("call_started: admitted", "call_started: duplicate dropped",
                "call_ended: archived (ended)");
        assertThat(t.path("timeline").get(0).path("idempotency_key").asText()).isNotEmpty();
        assertThat(t.path("timeline").get(2).path("transition").path("status_after").asText()).isEqualTo("ended");
        assertThat(t.path("matches_live").asBoolean()).as(run.out).isTrue();
        assertThat(t.path("replayed").path("final_state").path("status").asText())
                .isEqualTo(t.path("live").path("final_state").path("status").asText()).isEqualTo("ended");
        assertThat(t.path("live").path("archived").asText()).isEqualTo("ended");
    }

    @Test
    void shouldPrintReadableTimeline() {
        Run run = cli("replay", "--call-id", CALL, "--bootstrap-servers", gateway.bootstrapServers());

        assertThat(run.exit).as(run.err).isZero();
        assertThat(run.out).contains("webhook call_started").contains("state (new) -> active")
                .contains("decisions: admitted").contains("duplicate dropped").contains("the replay reached the live state");
    }

    @Test
    void shouldRepublishIntoAnotherPrefixOnly() throws Exception {
        // Given how many records the live call-events topic holds
        int liveBefore = count(topics.callEvents().name());

        // When the call is replayed into a staging prefix
        Run run = cli("replay", "--call-id", CALL, "--bootstrap-servers", gateway.bootstrapServers(),
                "--into", "staging.");

        // Then staging.call-events holds exactly the call's four events, and the live topic did not grow
        assertThat(run.exit).as(run.err).isZero();
        assertThat(run.out).contains("re-published 4 events to staging.call-events");
        try (TopicReader<byte[]> staged = new TopicReader<>(gateway.bootstrapServers(), "staging.call-events",
                new ByteArrayDeserializer())) {
            await().atMost(Duration.ofSeconds(10)).until(() -> staged.records().size() == 4);
            assertThat(staged.records()).allSatisfy(r -> assertThat(r.key()).isEqualTo(CALL));
        }
        assertThat(count(topics.callEvents().name())).isEqualTo(liveBefore);
    }

    @Test
    void shouldRefuseToRepublishIntoTheLivePrefix() {
        Run run = cli("replay", "--call-id", CALL, "--bootstrap-servers", gateway.bootstrapServers(),
                "--into", Topics.DEFAULT_PREFIX);

        assertThat(run.exit).isEqualTo(2);
        assertThat(run.err).contains("is the live prefix");
    }

    @Test
    void shouldExitThreeNamingThePartitionWhenTheCallsEventsAreNotThere() {
        Run run = cli("replay", "--call-id", "call-never-seen", "--bootstrap-servers", gateway.bootstrapServers());

        assertThat(run.exit).isEqualTo(3);
        assertThat(run.err).contains("no events of call call-never-seen on callguard.call-events-")
                .contains("earliest retained offset").contains("retention");
    }

    @Test
    void shouldTapOnlyOneCallsRecordsOfOneType() throws Exception {
        Run run = cli("tap", "call-events", "--call-id", CALL, "--type", "call_started", "--from-beginning",
                "--idle-exit-ms", "1500", "--bootstrap-servers", gateway.bootstrapServers());

        assertThat(run.exit).as(run.err).isZero();
        List<String> lines = run.out.lines().toList();
        assertThat(lines).hasSize(2);
        for (String line : lines) {
            JsonNode r = Json.mapper().readTree(line);
            assertThat(r.path("key").asText()).isEqualTo(CALL);
            assertThat(r.path("value").path("type").asText()).isEqualTo("call_started");
        }
    }

    @Test
    void shouldTapSinceADurationInPrettyFormat() {
        Run run = cli("tap", "call-state", "--call-id", CALL, "--type", "ended", "--since", "10m", "--format",
                "pretty", "--idle-exit-ms", "1500", "--bootstrap-servers", gateway.bootstrapServers());

        assertThat(run.exit).as(run.err).isZero();
        assertThat(run.out).contains("callguard.call-state-").contains("key=" + CALL).contains("\"status\" : \"ended\"");
    }

    @Test
    void shouldExplainUnknownTopicAndBadSince() {
        Run unknown = cli("tap", "no-such-topic", "--bootstrap-servers", gateway.bootstrapServers());
        Run badSince = cli("tap", "call-events", "--since", "yesterday-ish", "--bootstrap-servers",
                gateway.bootstrapServers());

        assertThat(unknown.exit).isEqualTo(1);
        assertThat(unknown.err).contains("no topic no-such-topic").contains("callguard.call-events");
        assertThat(badSince.exit).isEqualTo(2);
        assertThat(badSince.err).contains("not a time: 'yesterday-ish'");
    }

    private record Run(int exit, String out, String err) {
    }

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private int post(String body) throws Exception {
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway.httpUri() + "webhook"))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(KEY, raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build();
        return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private int count(String topic) {
        try (TopicReader<byte[]> reader = new TopicReader<>(gateway.bootstrapServers(), topic,
                new ByteArrayDeserializer())) {
            int last = -1;
            int now = reader.records().size();
            while (now != last) {
                last = now;
                now = reader.records().size();
            }
            return now;
        }
    }

    private static CallState liveState(List<byte[]> values) {
        byte[] last = values.isEmpty() ? null : values.get(values.size() - 1);
        if (last == null) {
            return CallState.builder(CALL).status(io.callguard.schemas.CallStatus.ACTIVE).build();
        }
        return Topics.defaults().callState().valueSerde().deserializer().deserialize("", last);
    }
}
