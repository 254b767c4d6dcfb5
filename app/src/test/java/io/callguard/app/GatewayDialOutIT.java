package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.Json;
import io.callguard.testkit.RetellWebhooks;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dial-out mode end to end: a call admitted by the processor makes the egress dial the platform's socket;
 * the platform's requests are answered on that socket; call_ended hangs up with 1000.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class GatewayDialOutIT {

    @TempDir
    Path dataDir;

    private final Server platform = new Server();
    private final List<PlatformSide> connections = new CopyOnWriteArrayList<>();
    private Gateway gateway;

    /** The platform's end of one dialled socket: it asks like Retell asks, and records what it gets. */
    public static final class PlatformSide implements Session.Listener.AutoDemanding {
        final String path;
        final List<JsonNode> received = new CopyOnWriteArrayList<>();
        volatile Session session;
        volatile int closeCode = -1;

        PlatformSide(String path) {
            this.path = path;
        }

        @Override
        public void onWebSocketOpen(Session opened) {
            session = opened;
        }

        @Override
        public void onWebSocketText(String message) {
            try {
                received.add(Json.mapper().readTree(message));
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            closeCode = statusCode;
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (gateway != null) {
            gateway.close();
        }
        platform.stop();
    }

    @Test
    void shouldDialAnAdmittedCallAnswerItsTurnsAndHangUpWhenItEnds() throws Exception {
        // Given a platform that accepts the agent's socket
        ServerConnector connector = new ServerConnector(platform);
        connector.setHost("127.0.0.1");
        platform.addConnector(connector);
        platform.setHandler(WebSocketUpgradeHandler.from(platform, container -> container.addMapping("/agent/*",
                (request, response, callback) -> {
                    PlatformSide side = new PlatformSide(request.getHttpURI().getPath());
                    connections.add(side);
                    return side;
                })));
        platform.start();
        String template = "ws://127.0.0.1:" + connector.getLocalPort() + "/agent/{call_id}";
        gateway = new Gateway(GatewayConfig.of(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "admin.port", "0",
                "retell.api-key", "k", "topics.partitions", "2", "dialout.enabled", "true",
                "dialout.url-template", template)), Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));

        // When the call starts (admitted by the processor)
        assertThat(webhook("call_started", "call-dial")).isEqualTo(200);

        // Then the egress dials the platform and sends config and the begin message
        await().atMost(Duration.ofSeconds(30)).until(() -> connections.size() == 1
                && connections.get(0).received.size() >= 2);
        PlatformSide side = connections.get(0);
        assertThat(side.path).isEqualTo("/agent/call-dial");
        assertThat(side.received.get(0).path("response_type").asText()).isEqualTo("config");

        // And a request on the dialled socket is answered there, once
        side.session.sendText("{\"interaction_type\":\"response_required\",\"response_id\":1,\"transcript\":"
                + "[{\"role\":\"user\",\"content\":\"dialled question\"}]}", Callback.NOOP);
        await().atMost(Duration.ofSeconds(10)).until(() -> side.received.stream().anyMatch(j ->
                j.path("response_id").asLong() == 1 && j.path("content_complete").asBoolean()));
        assertThat(side.received.stream().filter(j -> j.path("response_id").asLong() == 1)
                .map(j -> j.path("content").asText()).reduce("", String::concat)).contains("dialled question");

        // When the call ends, the socket is closed with 1000 and not dialled again
        assertThat(webhook("call_ended", "call-dial")).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> side.closeCode == 1000);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> connections.size() == 1);
    }

    private int webhook(String event, String callId) throws Exception {
        String body = RetellWebhooks.body(event, callId);
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(gateway.httpUri() + "webhook"))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign("k", raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }
}
