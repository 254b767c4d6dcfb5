package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * A frame other than speech that an answer carries to Retell, in order with its content: a tool call shown to
 * Retell, its result, a change of the agent's settings, or metadata. Written on an {@link AgentResponse}'s
 * {@code frames}; the egress sends them, in order, before that record's content.
 *
 * @param type       {@code tool_call_invocation}, {@code tool_call_result}, {@code update_agent} or
 *                   {@code metadata} (Retell's {@code response_type} names)
 * @param toolCallId the tool call, for the two tool frames
 * @param name       the tool's name, for an invocation
 * @param arguments  the arguments as a JSON text, for an invocation
 * @param content    the result as text, for a result
 * @param successful for a result: whether the tool succeeded; null means not reported (absent), not failed
 * @param agentConfig for {@code update_agent}: the settings to change, as Retell's {@code agent_config} object
 * @param metadata   for {@code metadata}: any JSON
 */
public record AgentFrame(
        String type,
        String toolCallId,
        String name,
        String arguments,
        String content,
        Boolean successful,
        JsonNode agentConfig,
        JsonNode metadata) {

    public static final String TOOL_CALL_INVOCATION = "tool_call_invocation";
    public static final String TOOL_CALL_RESULT = "tool_call_result";
    public static final String UPDATE_AGENT = "update_agent";
    public static final String METADATA = "metadata";

    public AgentFrame {
        Objects.requireNonNull(type, "type");
        switch (type) {
            case TOOL_CALL_INVOCATION -> {
                Objects.requireNonNull(toolCallId, "toolCallId");
                Objects.requireNonNull(name, "name");
                Objects.requireNonNull(arguments, "arguments");
            }
            case TOOL_CALL_RESULT -> {
                Objects.requireNonNull(toolCallId, "toolCallId");
                Objects.requireNonNull(content, "content");
            }
            case UPDATE_AGENT -> Objects.requireNonNull(agentConfig, "agentConfig");
            case METADATA -> Objects.requireNonNull(metadata, "metadata");
            default -> throw new IllegalArgumentException("unknown frame type: " + type);
        }
    }

    public static AgentFrame toolCallInvocation(String toolCallId, String name, String arguments) {
        return new AgentFrame(TOOL_CALL_INVOCATION, toolCallId, name, arguments, null, null, null, null);
    }

    public static AgentFrame toolCallResult(String toolCallId, String content, Boolean successful) {
        return new AgentFrame(TOOL_CALL_RESULT, toolCallId, null, null, content, successful, null, null);
    }

    public static AgentFrame updateAgent(JsonNode agentConfig) {
        return new AgentFrame(UPDATE_AGENT, null, null, null, null, null, agentConfig, null);
    }

    public static AgentFrame metadata(JsonNode metadata) {
        return new AgentFrame(METADATA, null, null, null, null, null, null, metadata);
    }
}
