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

    /**
     * The frame types a record carries. Their wire names are Retell's {@code response_type} names, spelled from the
     * constant names (the record format stores them as data; retell's constants name the protocol).
     */
    public enum Type {
        TOOL_CALL_INVOCATION, TOOL_CALL_RESULT, UPDATE_AGENT, METADATA;

        /** The name in records and on Retell's wire. */
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** The type of a wire name. */
        public static Type of(String wireName) {
            for (Type t : values()) {
                if (t.wireName().equals(wireName)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown frame type: " + wireName);
        }
    }

    /** {@link #type()} as the enum (never fails: the constructor checked it). */
    public Type frameType() {
        return Type.of(type);
    }

    public static final String TOOL_CALL_INVOCATION = Type.TOOL_CALL_INVOCATION.wireName();
    public static final String TOOL_CALL_RESULT = Type.TOOL_CALL_RESULT.wireName();
    public static final String UPDATE_AGENT = Type.UPDATE_AGENT.wireName();
    public static final String METADATA = Type.METADATA.wireName();

    public AgentFrame {
        Objects.requireNonNull(type, "type");
        if (TOOL_CALL_INVOCATION.equals(type)) {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(arguments, "arguments");
        } else if (TOOL_CALL_RESULT.equals(type)) {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(content, "content");
        } else if (UPDATE_AGENT.equals(type)) {
            Objects.requireNonNull(agentConfig, "agentConfig");
        } else if (METADATA.equals(type)) {
            Objects.requireNonNull(metadata, "metadata");
        } else {
            throw new IllegalArgumentException("unknown frame type: " + type);
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
