package io.callguard.retell.frames;

import java.util.Set;

/** The {@code response_type} names of the frames a server sends to Retell on the custom-LLM WebSocket. */
public final class ResponseType {

    /** The field that names a frame's type. */
    public static final String FIELD = "response_type";

    public static final String CONFIG = "config";
    public static final String PING_PONG = "ping_pong";
    public static final String RESPONSE = "response";
    public static final String AGENT_INTERRUPT = "agent_interrupt";
    public static final String TOOL_CALL_INVOCATION = "tool_call_invocation";
    public static final String TOOL_CALL_RESULT = "tool_call_result";
    public static final String UPDATE_AGENT = "update_agent";
    public static final String METADATA = "metadata";

    /** Every response type above. */
    public static final Set<String> ALL = Set.of(CONFIG, PING_PONG, RESPONSE, AGENT_INTERRUPT, TOOL_CALL_INVOCATION,
            TOOL_CALL_RESULT, UPDATE_AGENT, METADATA);

    private ResponseType() {
    }
}
