package io.callguard.processor.responder;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One request for an answer, as an agent backend sees it.
 *
 * @param callId           Retell's call id
 * @param responseId       the {@code response_id} being answered
 * @param interactionType  {@code response_required} or {@code reminder_required}
 * @param transcript       the whole conversation so far, oldest first (Retell sends all of it every time)
 * @param agentId          the call's agent, when the responder has seen it; null otherwise
 * @param dynamicVariables the call's Retell dynamic variables, when known; empty otherwise
 * @param agentVersion     the call's agent version, when known; null otherwise (part of the response cache's key)
 * @param request          Retell's request frame as the edge received it (utterances with their {@code words[]},
 *                         fields this version does not know), for a backend that passes it on whole; null when the
 *                         turn was not made from one. Shared, not copied: never modified
 */
public record Turn(
        String callId,
        long responseId,
        String interactionType,
        List<Utterance> transcript,
        String agentId,
        Map<String, String> dynamicVariables,
        Integer agentVersion,
        JsonNode request) {

    public Turn {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(interactionType, "interactionType");
        transcript = List.copyOf(transcript);
        dynamicVariables = Map.copyOf(dynamicVariables);
    }

    /** A turn not made from a request frame. */
    public Turn(String callId, long responseId, String interactionType, List<Utterance> transcript, String agentId,
            Map<String, String> dynamicVariables, Integer agentVersion) {
        this(callId, responseId, interactionType, transcript, agentId, dynamicVariables, agentVersion, null);
    }

    /** A turn whose agent version is not known. */
    public Turn(String callId, long responseId, String interactionType, List<Utterance> transcript, String agentId,
            Map<String, String> dynamicVariables) {
        this(callId, responseId, interactionType, transcript, agentId, dynamicVariables, null, null);
    }

    /** The last thing the caller said, or empty when the caller has not spoken. */
    public String lastUserUtterance() {
        for (int i = transcript.size() - 1; i >= 0; i--) {
            if (Utterance.USER.equals(transcript.get(i).role())) {
                return transcript.get(i).content();
            }
        }
        return "";
    }

    /**
     * One entry of Retell's transcript.
     *
     * @param role    {@code agent} or {@code user}, as Retell sends it
     * @param content what was said
     */
    public record Utterance(String role, String content) {

        public static final String AGENT = "agent";
        public static final String USER = "user";

        public Utterance {
            Objects.requireNonNull(role, "role");
            content = content == null ? "" : content;
        }
    }
}
