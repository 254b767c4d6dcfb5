package io.callguard.cli.baseline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.schemas.Json;
import io.callguard.testkit.RecordingSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The drill's baseline: the script backend answers on the socket itself. */
class DirectBaselineTest {

    private final DirectBaseline baseline = new DirectBaseline("Hello there.", new ResponderConfig(Map.of()));
    private final RecordingSocket socket = new RecordingSocket("call-1", "c1");

    @AfterEach
    void close() {
        baseline.close();
    }

    private JsonNode frame(int i) throws Exception {
        return Json.mapper().readTree(socket.frames().get(i));
    }

    @Test
    void shouldGreetEchoPingsAndAnswerTurnsWithTheBackend() throws Exception {
        // When a socket opens, pings and asks
        baseline.opened(socket);
        baseline.text(socket, "{\"interaction_type\":\"ping_pong\",\"timestamp\":42}");
        baseline.text(socket, "{\"interaction_type\":\"response_required\",\"response_id\":3,"
                + "\"transcript\":[{\"role\":\"user\",\"content\":\"ping\"}]}");

        // Then the greeting, the pong and one complete answer from the script backend
        await().atMost(Duration.ofSeconds(5)).until(() -> socket.frames().size() == 3);
        assertThat(frame(0).get("response_id").asLong()).isZero();
        assertThat(frame(0).get("content").asText()).isEqualTo("Hello there.");
        assertThat(frame(1).get("timestamp").asLong()).isEqualTo(42);
        assertThat(frame(2).get("response_id").asLong()).isEqualTo(3);
        assertThat(frame(2).get("content").asText()).isEqualTo("You said: ping");
        assertThat(frame(2).get("content_complete").asBoolean()).isTrue();
    }

    @Test
    void shouldIgnoreWhatIsNotATurnOrPing() {
        baseline.text(socket, "not json");
        baseline.text(socket, "{\"interaction_type\":\"update_only\"}");
        baseline.text(socket, "{\"interaction_type\":\"response_required\"}");

        assertThat(socket.frames()).isEmpty();
    }
}
