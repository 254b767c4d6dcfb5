package io.callguard.retell;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Builds the frames the server sends to Retell on the custom-LLM WebSocket (edge and egress alike). */
public final class RetellFrames {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private RetellFrames() {
    }

    /**
     * A {@code response} frame. Types are exact because Retell silently drops a frame with a wrong one:
     * {@code response_id} an integer, {@code content} a string, {@code content_complete} a boolean;
     * {@code end_call} is written only when true.
     */
    public static String response(long responseId, String content, boolean contentComplete, boolean endCall) {
        ObjectNode frame = MAPPER.createObjectNode()
                .put("response_type", "response")
                .put("response_id", responseId)
                .put("content", content)
                .put("content_complete", contentComplete);
        if (endCall) {
            frame.put("end_call", true);
        }
        try {
            return MAPPER.writeValueAsString(frame);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a response frame", e);
        }
    }
}
