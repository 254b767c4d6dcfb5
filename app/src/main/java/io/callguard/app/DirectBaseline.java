package io.callguard.app;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.ingress.DirectResponder;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.Turn;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * Benchmark baseline ({@code bench.direct-at-edge}): the configured agent backend called straight from the
 * edge socket, with none of callguard's pipeline, so a drill can measure what the pipeline costs.
 */
final class DirectBaseline implements DirectResponder {

    private final AgentBackend backend;

    DirectBaseline(AgentBackend backend) {
        this.backend = backend;
    }

    @Override
    public CompletionStage<String> answer(String callId, long responseId, JsonNode frame) {
        List<Turn.Utterance> transcript = new ArrayList<>();
        for (JsonNode u : frame.path("transcript")) {
            transcript.add(new Turn.Utterance(u.path("role").asText(Turn.Utterance.USER), u.path("content").asText("")));
        }
        Turn turn = new Turn(callId, responseId, frame.path("interaction_type").asText(), transcript, null, Map.of());
        StringBuilder text = new StringBuilder();
        return backend.generate(turn, chunk -> {
            synchronized (text) {
                text.append(chunk);
            }
        }).thenApply(done -> {
            synchronized (text) {
                return text.toString();
            }
        });
    }
}
