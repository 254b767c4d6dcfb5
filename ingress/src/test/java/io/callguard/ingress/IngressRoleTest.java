package io.callguard.ingress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.callguard.common.RoleState;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.Topics;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The ingress role: its lifecycle, its producer, and a socket frame handler of one's own, on a real Jetty server. */
class IngressRoleTest {

    private static final String TOKEN = "t0ken";
    private final MockProducer<String, byte[]> producer =
            new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
    private final AtomicInteger producersBuilt = new AtomicInteger();
    private IngressRole role;

    @AfterEach
    void closeRole() {
        if (role != null) {
            role.close();
        }
    }

    private IngressRole role(boolean takesTraffic) {
        role = new IngressRole(new IngressConfig(Map.of(IngressConfig.HTTP_PORT_CONFIG, 0,
                IngressConfig.SOCKET_TOKEN_CONFIG, TOKEN)), Topics.defaults(), new SimpleMeterRegistry(),
                Clock.systemUTC(), "node-test", takesTraffic ? () -> {
                    producersBuilt.incrementAndGet();
                    return producer;
                } : null);
        return role;
    }

    @Test
    void shouldOpenNothingUntilStartAndRefuseASecondStart() throws Exception {
        // Given a role with a route
        role(true).route("GET", "/ping", q -> HttpReply.text(200, "pong"));
        assertThat(producersBuilt).hasValue(0);
        assertThat(role.health().state()).isEqualTo(RoleState.CREATED);
        assertThat(role.health().detail()).isEqualTo("not started or stopped");

        // When
        role.start();

        // Then it serves, says where, and refuses a second start and late routes
        assertThat(producersBuilt).hasValue(1);
        assertThat(role.health().ready()).isTrue();
        assertThat(role.health().detail()).isEqualTo("listening on " + role.uri());
        HttpClient client = new HttpClient();
        client.start();
        try {
            assertThat(client.GET(role.uri().resolve("/ping")).getContentAsString()).isEqualTo("pong");
        } finally {
            client.stop();
        }
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> role.route("GET", "/late", q -> HttpReply.text(200, "")))
                .isInstanceOf(IllegalStateException.class);

        // When closed twice
        role.close();
        role.close();

        // Then the producer is closed and no thread is left
        assertThat(producer.closed()).isTrue();
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        await().atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("callguard-ingress")));
    }

    @Test
    void shouldLingerTheProducerForTheTurnPathLingerOnly() {
        io.callguard.common.KafkaClients clients = new io.callguard.common.KafkaClients("127.0.0.1:9092", "n1");

        assertThat(IngressRole.producerConfig(clients.withTurnLingerMs(5))
                .get(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG)).isEqualTo(5);
        assertThat(IngressRole.producerConfig(clients)
                .get(org.apache.kafka.clients.producer.ProducerConfig.LINGER_MS_CONFIG)).isEqualTo(0);
        // Durability is not traded for it
        assertThat(IngressRole.producerConfig(clients.withTurnLingerMs(5))
                .get(org.apache.kafka.clients.producer.ProducerConfig.ACKS_CONFIG)).isEqualTo("all");
    }

    @Test
    void shouldCloseWithoutStart() {
        role(true).close();
        role.close();

        assertThat(producersBuilt).hasValue(0);
        assertThat(role.health().state()).isEqualTo(RoleState.STOPPED);
        assertThatThrownBy(role::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldRefuseDialOutFramesUntilTheProtocolRuns() {
        role(true).withSockets(EdgeListener.NONE, null);
        CallSocket socket = new RecordingSocket("call-1", "c1");

        assertThat(role.servesSockets()).isTrue();
        assertThatThrownBy(() -> role.socketFrames().opened(socket)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldFeedSocketFramesToAHandlerOfItsOwnWithoutAProducer() throws Exception {
        // Given an ingress without traffic whose sockets go to a recording handler
        List<String> texts = new CopyOnWriteArrayList<>();
        role(false).withSocketFrames(new SocketFrameHandler() {
            @Override
            public void opened(CallSocket socket) {
                socket.send("{\"hello\":\"" + socket.callId() + "\"}");
            }

            @Override
            public void text(CallSocket socket, String frame) {
                texts.add(frame);
            }

            @Override
            public void closed(CallSocket socket, int code, String reason) {
            }
        });
        role.start();
        assertThat(role.servesSockets()).isTrue();

        // When a client connects and speaks
        WebSocketClient client = new WebSocketClient();
        client.start();
        try {
            RecordingClientEndpoint endpoint = new RecordingClientEndpoint();
            URI base = role.uri();
            client.connect(endpoint, URI.create("ws://" + base.getHost() + ":" + base.getPort()
                    + IngressServer.LLM_WEBSOCKET_PATH + "call-7?token=" + TOKEN)).get(5, TimeUnit.SECONDS);

            // Then the handler greeted it and got its frame; no producer was ever built
            assertThat(endpoint.nextText()).isEqualTo("{\"hello\":\"call-7\"}");
            endpoint.send("{\"interaction_type\":\"ping_pong\",\"timestamp\":1}");
            await().atMost(Duration.ofSeconds(5)).until(() -> texts.size() == 1);
        } finally {
            client.stop();
        }
        assertThat(producersBuilt).hasValue(0);
    }
}
