package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.app.warmup.LoopbackLlm;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The response cache on a real broker, callers played by signed webhooks and real sockets, the agent backend a real
 * HTTP server whose answer depends on the system prompt's {@code {{name}}} (as a prompt with the caller's name or
 * account data does): Bob is never served the answer generated for Alice, callers with the same everything share
 * it, never across agents; and after a restart the responder still knows a call's agent, version and variables.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CallerCacheIT {

    private static final String KEY = "cache-key";
    private static final String TOKEN = "cache-token";
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String QUESTION = "what is my balance";
    private static final Pattern CALLER = Pattern.compile("The caller is (\\w+)\\.");

    @TempDir
    Path dataDir;

    private final WebSocketClient client = new WebSocketClient();
    private final HttpClient http = HttpClient.newHttpClient();
    private LoopbackLlm llm;
    private Gateway gateway;

    @BeforeEach
    void start() throws Exception {
        // An LLM that answers the caller the system prompt names
        llm = LoopbackLlm.start(request -> {
            Matcher caller = CALLER.matcher(request.path("messages").toString());
            return "Your balance, " + (caller.find() ? caller.group(1) : "whoever you are") + ", is on its way.";
        });
        client.start();
    }

    @AfterEach
    void stop() throws Exception {
        client.stop();
        if (gateway != null) {
            gateway.close();
        }
        llm.close();
    }

    private Gateway startGateway() {
        gateway = new Gateway(GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0", "retell.api-key", KEY, "socket.token", TOKEN,
                "topics.partitions", "1", "agent.backend", "openai", "agent.openai.url", llm.url().toString(),
                "agent.openai.system-prompt", "You help callers with their account. The caller is {{name}}.")),
                Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        return gateway;
    }

    @Test
    void shouldNeverServeBobAlicesAnswerAndShareOnlyWhenEverythingIsTheSame() throws Exception {
        // Given Alice's first question answered for her
        startGateway();
        start("call-alice", "agent_7", 1, "Alice");
        Answer alice = ask("call-alice");
        assertThat(alice.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(alice.content()).contains("Your balance, Alice,");

        // When Bob, same agent and version but his own dynamic variables, asks exactly the same first question
        start("call-bob", "agent_7", 1, "Bob");
        Answer bob = ask("call-bob");

        // Then the backend answered him, for him: not Alice's answer from the cache
        assertThat(bob.kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(bob.content()).contains("Your balance, Bob,").doesNotContain("Alice");

        // And another caller with exactly Alice's agent, version and variables shares her answer
        start("call-alice-again", "agent_7", 1, "Alice");
        Answer again = ask("call-alice-again");
        assertThat(again.kind()).isEqualTo(ResponseKind.CACHED);
        assertThat(again.content()).isEqualTo(alice.content());

        // But a caller of another agent never does, whatever else is the same
        start("call-other-agent", "agent_8", 1, "Alice");
        assertThat(ask("call-other-agent").kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(llm.requests()).isEqualTo(3);
    }

    @Test
    void shouldStillKnowACallsAgentVersionAndVariablesAfterARestart() throws Exception {
        // Given two calls of agent_7 version 4 for Alice, started before a restart; the first asked and was answered
        startGateway();
        start("call-before", "agent_7", 4, "Alice");
        start("call-across", "agent_7", 4, "Alice");
        Answer before = ask("call-before");
        assertThat(before.kind()).isEqualTo(ResponseKind.GENERATED);
        gateway.close();

        // When the gateway restarts (a new responder, nothing in memory) and the second call's caller asks the same
        startGateway();
        Answer across = ask("call-across");

        // Then its turn is keyed with the call's agent, version 4 and Alice's variables, rebuilt from call-state:
        // the answer cached for exactly those is served (an unknown agent is never cached, a lost version or
        // variables would make another key)
        assertThat(across.kind()).isEqualTo(ResponseKind.CACHED);
        assertThat(across.content()).isEqualTo(before.content()).contains("Alice");
        // And the version is part of that key: a call of version 5 is answered by the backend
        start("call-version-5", "agent_7", 5, "Alice");
        assertThat(ask("call-version-5").kind()).isEqualTo(ResponseKind.GENERATED);
        assertThat(llm.requests()).isEqualTo(2);
    }

    /** A call started by its signed call_started webhook, admitted. */
    private void start(String callId, String agentId, int version, String name) throws Exception {
        assertThat(RetellWebhooks.post(http, gateway.httpUri(), KEY,
                RetellWebhooks.callStarted(callId, agentId, version, Map.of("name", name)))).isEqualTo(200);
        await().atMost(WAIT).until(() -> gateway.processor().callState(callId)
                .map(s -> s.status() == CallStatus.ACTIVE).orElse(false));
    }

    /** A turn's answer as the caller heard it: the kind of its complete record, the words of all its records. */
    private record Answer(ResponseKind kind, String content) {
    }

    /** The call's socket opens, the caller asks {@link #QUESTION} after the greeting; the answer as written. */
    private Answer ask(String callId) throws Exception {
        RetellSocketClient socket = RetellSocketClient.connect(client, gateway.httpUri(), callId, TOKEN);
        socket.nextComplete(0, WAIT);
        socket.sendResponseRequired(1, QUESTION);
        socket.nextComplete(1, WAIT);
        socket.close();
        try (TopicReader<AgentResponse> responses = new TopicReader<>(gateway.bootstrapServers(),
                gateway.config().common().topics().responses().name(),
                gateway.config().common().topics().responses().valueSerde().deserializer())) {
            await().atMost(WAIT).until(() -> responses.valuesFor(callId).stream()
                    .anyMatch(r -> r.responseId() == 1 && r.contentComplete()));
            List<AgentResponse> records = responses.valuesFor(callId).stream().filter(r -> r.responseId() == 1)
                    .sorted(Comparator.comparingInt(AgentResponse::chunkIndex)).toList();
            StringBuilder words = new StringBuilder();
            records.forEach(r -> words.append(r.content()));
            return new Answer(records.get(records.size() - 1).kind(), words.toString().strip());
        }
    }
}
