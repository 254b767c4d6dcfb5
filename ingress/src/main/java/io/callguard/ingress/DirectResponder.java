package io.callguard.ingress;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.CompletionStage;

/**
 * Benchmark baseline only: answers a turn right at the edge, with no Kafka, responder or watchdog in
 * between, so the cost of callguard's pipeline can be measured against the same backend called directly.
 */
@FunctionalInterface
public interface DirectResponder {

    /**
     * The whole answer to one turn.
     *
     * @param callId     the call
     * @param responseId the request's {@code response_id}
     * @param frame      the request frame as Retell sent it (with the transcript)
     * @return the text to speak; completing exceptionally leaves the turn unanswered
     */
    CompletionStage<String> answer(String callId, long responseId, JsonNode frame);
}
