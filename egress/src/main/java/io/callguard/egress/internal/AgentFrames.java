package io.callguard.egress.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.ResponseType;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.Json;

/**
 * The Retell frame an answer record's {@link AgentFrame} stands for. {@code agent_config} is read by the retell
 * module's own reader ({@link FrameParser#fromServer}), so Retell's ranges and types are checked in one place.
 */
final class AgentFrames {

    private AgentFrames() {
    }

    /**
     * The frame to send, or null when {@code frame} cannot be sent: an {@code agent_config} that is not an object,
     * has a mistyped setting or one out of Retell's range (the caller drops it and counts it).
     */
    static ServerFrame toServerFrame(AgentFrame frame) {
        return switch (frame.frameType()) {
            case TOOL_CALL_INVOCATION -> new ServerFrame.ToolCallInvocation(frame.toolCallId(),
                    frame.name(), frame.arguments());
            case TOOL_CALL_RESULT -> new ServerFrame.ToolCallResult(frame.toolCallId(), frame.content(),
                    frame.successful());
            case UPDATE_AGENT -> updateAgent(frame);
            case METADATA -> new ServerFrame.Metadata(frame.metadata());
        };
    }

    private static ServerFrame updateAgent(AgentFrame frame) {
        ObjectNode tree = Json.mapper().createObjectNode().put(ResponseType.FIELD, ResponseType.UPDATE_AGENT);
        tree.set("agent_config", frame.agentConfig());
        return FrameParser.fromServer(tree.toString()) instanceof ParseResult.Parsed<ServerFrame> parsed
                && parsed.frame() instanceof ServerFrame.UpdateAgent update ? update : null;
    }
}
