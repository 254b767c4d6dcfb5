package io.callguard.retell.frames;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Writes frames of the custom-LLM WebSocket, in both directions, as JSON text. Types are exact, because Retell
 * silently drops a frame with a wrongly-typed field: ids are integers, {@code content} a string,
 * {@code content_complete} a boolean. An optional field that is not set (null) is absent. Thread-safe.
 */
public final class FrameWriter {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private FrameWriter() {
    }

    /** A server frame, as sent to Retell. */
    public static String write(ServerFrame frame) {
        return text(tree(frame));
    }

    /** A Retell frame, as Retell sends it (what the drill and test clients play). */
    public static String write(RetellFrame frame) {
        return text(tree(frame));
    }

    /** A server frame as a JSON tree. */
    public static ObjectNode tree(ServerFrame frame) {
        if (frame instanceof ServerFrame.Unknown unknown) {
            return unknown.raw().deepCopy();
        }
        ObjectNode node = MAPPER.createObjectNode().put(ResponseType.FIELD, frame.type());
        if (frame instanceof ServerFrame.Config c) {
            ObjectNode config = node.putObject("config")
                    .put("auto_reconnect", c.autoReconnect())
                    .put("call_details", c.callDetails());
            putIfSet(config, "transcript_with_tool_calls", c.transcriptWithToolCalls());
        } else if (frame instanceof ServerFrame.PingPong p) {
            if (p.timestamp() != null) {
                node.put("timestamp", p.timestamp().longValue());
            }
        } else if (frame instanceof ServerFrame.Response r) {
            node.put("response_id", r.responseId()).put("content", r.content())
                    .put("content_complete", r.contentComplete());
            putIfSet(node, "end_call", r.endCall());
            putIfSet(node, "transfer_number", r.transferNumber());
            putIfSet(node, "show_transferee_as_caller", r.showTransfereeAsCaller());
            putIfSet(node, "digit_to_press", r.digitToPress());
            putIfSet(node, "no_interruption_allowed", r.noInterruptionAllowed());
        } else if (frame instanceof ServerFrame.AgentInterrupt a) {
            node.put("interrupt_id", a.interruptId()).put("content", a.content())
                    .put("content_complete", a.contentComplete());
            putIfSet(node, "end_call", a.endCall());
            putIfSet(node, "transfer_number", a.transferNumber());
            putIfSet(node, "digit_to_press", a.digitToPress());
            putIfSet(node, "no_interruption_allowed", a.noInterruptionAllowed());
        } else if (frame instanceof ServerFrame.ToolCallInvocation t) {
            node.put("tool_call_id", t.toolCallId()).put("name", t.name()).put("arguments", t.arguments());
        } else if (frame instanceof ServerFrame.ToolCallResult t) {
            node.put("tool_call_id", t.toolCallId()).put("content", t.content());
            putIfSet(node, "successful", t.successful());
        } else if (frame instanceof ServerFrame.UpdateAgent u) {
            ObjectNode config = node.putObject("agent_config");
            ServerFrame.AgentConfig c = u.agentConfig();
            if (c.responsiveness() != null) {
                config.put("responsiveness", c.responsiveness().doubleValue());
            }
            if (c.interruptionSensitivity() != null) {
                config.put("interruption_sensitivity", c.interruptionSensitivity().doubleValue());
            }
            if (c.reminderTriggerMs() != null) {
                config.put("reminder_trigger_ms", c.reminderTriggerMs().longValue());
            }
            if (c.reminderMaxCount() != null) {
                config.put("reminder_max_count", c.reminderMaxCount().intValue());
            }
        } else if (frame instanceof ServerFrame.Metadata m) {
            node.set("metadata", m.metadata());
        }
        return node;
    }

    /** A Retell frame as a JSON tree. */
    public static ObjectNode tree(RetellFrame frame) {
        if (frame instanceof RetellFrame.Unknown unknown) {
            return unknown.raw().deepCopy();
        }
        ObjectNode node = MAPPER.createObjectNode().put(InteractionType.FIELD, frame.type());
        if (frame instanceof RetellFrame.PingPong p) {
            if (p.timestamp() != null) {
                node.put("timestamp", p.timestamp().longValue());
            }
        } else if (frame instanceof RetellFrame.CallDetails d) {
            if (d.call() != null) {
                node.set("call", d.call());
            }
        } else if (frame instanceof RetellFrame.UpdateOnly u) {
            transcript(node, u.transcript());
            if (u.transcriptWithToolCalls() != null) {
                node.set("transcript_with_tool_calls", u.transcriptWithToolCalls());
            }
            putIfSet(node, "turntaking", u.turntaking());
        } else if (frame instanceof RetellFrame.Turn t) {
            node.put("response_id", t.responseId());
            transcript(node, t.transcript());
        }
        return node;
    }

    private static void transcript(ObjectNode node, List<Utterance> transcript) {
        ArrayNode array = node.putArray("transcript");
        for (Utterance u : transcript) {
            ObjectNode entry = array.addObject().put("role", u.role()).put("content", u.content());
            JsonNode words = u.words();
            if (words != null) {
                entry.set("words", words);
            }
        }
    }

    private static void putIfSet(ObjectNode node, String field, Boolean value) {
        if (value != null) {
            node.put(field, value.booleanValue());
        }
    }

    private static void putIfSet(ObjectNode node, String field, String value) {
        if (value != null) {
            node.put(field, value);
        }
    }

    private static String text(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a frame could not be written", e);
        }
    }
}
