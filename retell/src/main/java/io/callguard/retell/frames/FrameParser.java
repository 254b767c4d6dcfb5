package io.callguard.retell.frames;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads text frames of the custom-LLM WebSocket, in both directions, leniently: unknown fields and unknown types
 * are kept and reported ({@link ParseResult.Parsed#unknownFields()}, {@link ParseResult.Parsed#unknownType()}),
 * never refused. Thread-safe; never throws for bad input.
 *
 * <p>Refused ({@link ParseResult.Failed}), with these reasons:
 * <ul>
 *   <li>{@value #INVALID_JSON}: not JSON, or empty;</li>
 *   <li>{@value #NOT_AN_OBJECT}: JSON but not an object;</li>
 *   <li>{@value #MISSING_INTERACTION_TYPE} / {@value #MISSING_RESPONSE_TYPE}: no string type field;</li>
 *   <li>{@value #INVALID_INTERACTION_TYPE} / {@value #INVALID_RESPONSE_TYPE}: a type not of 1 to
 *       {@value #MAX_TYPE_LENGTH} characters;</li>
 *   <li>{@value #INVALID_RESPONSE_ID}: a turn or a response whose {@code response_id} is not a non-negative
 *       integer; {@value #INVALID_INTERRUPT_ID} likewise for {@code interrupt_id};</li>
 *   <li>{@value #INVALID_FIELD}: a server frame with a missing or mistyped field that Retell would drop the frame
 *       for (e.g. {@code "content_complete":"true"}), or an {@code agent_config} value out of range.</li>
 * </ul>
 * Retell's own frames are read leniently beyond that: a mistyped optional field is read as absent.
 */
public final class FrameParser {

    public static final String INVALID_JSON = "invalid_json";
    public static final String NOT_AN_OBJECT = "not_an_object";
    public static final String MISSING_INTERACTION_TYPE = "missing_interaction_type";
    public static final String INVALID_INTERACTION_TYPE = "invalid_interaction_type";
    public static final String MISSING_RESPONSE_TYPE = "missing_response_type";
    public static final String INVALID_RESPONSE_TYPE = "invalid_response_type";
    public static final String INVALID_RESPONSE_ID = "invalid_response_id";
    public static final String INVALID_INTERRUPT_ID = "invalid_interrupt_id";
    public static final String INVALID_FIELD = "invalid_field";

    /** The longest type accepted: the call-event schema bounds its type to this. */
    public static final int MAX_TYPE_LENGTH = 128;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final Map<String, Set<String>> RETELL_FIELDS = Map.of(
            InteractionType.PING_PONG, Set.of("timestamp"),
            InteractionType.CALL_DETAILS, Set.of("call"),
            InteractionType.UPDATE_ONLY, Set.of("transcript", "transcript_with_tool_calls", "turntaking"),
            InteractionType.RESPONSE_REQUIRED, Set.of("response_id", "transcript", "transcript_with_tool_calls"),
            InteractionType.REMINDER_REQUIRED, Set.of("response_id", "transcript", "transcript_with_tool_calls"));
    private static final Map<String, Set<String>> SERVER_FIELDS = Map.of(
            ResponseType.CONFIG, Set.of("config"),
            ResponseType.PING_PONG, Set.of("timestamp"),
            ResponseType.RESPONSE, Set.of("response_id", "content", "content_complete", "end_call",
                    "transfer_number", "show_transferee_as_caller", "digit_to_press", "no_interruption_allowed"),
            ResponseType.AGENT_INTERRUPT, Set.of("interrupt_id", "content", "content_complete", "end_call",
                    "transfer_number", "digit_to_press", "no_interruption_allowed"),
            ResponseType.TOOL_CALL_INVOCATION, Set.of("tool_call_id", "name", "arguments"),
            ResponseType.TOOL_CALL_RESULT, Set.of("tool_call_id", "content", "successful"),
            ResponseType.UPDATE_AGENT, Set.of("agent_config"),
            ResponseType.METADATA, Set.of("metadata"));

    private FrameParser() {
    }

    /** A frame Retell sent ({@code interaction_type}). */
    public static ParseResult<RetellFrame> fromRetell(String text) {
        Typed typed = typed(text, InteractionType.FIELD, MISSING_INTERACTION_TYPE, INVALID_INTERACTION_TYPE);
        if (typed.failure != null) {
            return new ParseResult.Failed<>(typed.failure[0], typed.failure[1]);
        }
        ObjectNode tree = typed.tree;
        String type = typed.type;
        RetellFrame frame;
        switch (type) {
            case InteractionType.PING_PONG -> frame = new RetellFrame.PingPong(longOrNull(tree.get("timestamp")));
            case InteractionType.CALL_DETAILS -> frame = new RetellFrame.CallDetails(present(tree.get("call")));
            case InteractionType.UPDATE_ONLY -> frame = new RetellFrame.UpdateOnly(transcript(tree),
                    present(tree.get("transcript_with_tool_calls")), textOrNull(tree.get("turntaking")));
            case InteractionType.RESPONSE_REQUIRED, InteractionType.REMINDER_REQUIRED -> {
                Long id = nonNegative(tree.get("response_id"));
                if (id == null) {
                    return new ParseResult.Failed<>(INVALID_RESPONSE_ID,
                            "'response_id' of " + type + " must be a non-negative integer");
                }
                frame = InteractionType.RESPONSE_REQUIRED.equals(type)
                        ? new RetellFrame.ResponseRequired(id, transcript(tree))
                        : new RetellFrame.ReminderRequired(id, transcript(tree));
            }
            default -> {
                return new ParseResult.Parsed<>(new RetellFrame.Unknown(type, tree), tree, List.of());
            }
        }
        return new ParseResult.Parsed<>(frame, tree, unknownFields(tree, InteractionType.FIELD, RETELL_FIELDS.get(type)));
    }

    /** A frame a server sent ({@code response_type}): what the drill, or a backend speaking to an upstream server, reads. */
    public static ParseResult<ServerFrame> fromServer(String text) {
        Typed typed = typed(text, ResponseType.FIELD, MISSING_RESPONSE_TYPE, INVALID_RESPONSE_TYPE);
        if (typed.failure != null) {
            return new ParseResult.Failed<>(typed.failure[0], typed.failure[1]);
        }
        ObjectNode tree = typed.tree;
        String type = typed.type;
        if (!SERVER_FIELDS.containsKey(type)) {
            return new ParseResult.Parsed<>(new ServerFrame.Unknown(type, tree), tree, List.of());
        }
        ServerFrame frame;
        try {
            frame = serverFrame(type, tree);
        } catch (BadField e) {
            return new ParseResult.Failed<>(e.reason, e.getMessage());
        } catch (IllegalArgumentException e) {
            return new ParseResult.Failed<>(INVALID_FIELD, type + ": " + e.getMessage());
        }
        return new ParseResult.Parsed<>(frame, tree, unknownFields(tree, ResponseType.FIELD, SERVER_FIELDS.get(type)));
    }

    private static ServerFrame serverFrame(String type, ObjectNode tree) {
        Fields f = new Fields(type, tree);
        return switch (type) {
            case ResponseType.CONFIG -> {
                JsonNode config = tree.path("config");
                Fields c = new Fields(type + ".config", config);
                yield new ServerFrame.Config(Boolean.TRUE.equals(c.bool("auto_reconnect")),
                        Boolean.TRUE.equals(c.bool("call_details")), c.bool("transcript_with_tool_calls"));
            }
            case ResponseType.PING_PONG -> new ServerFrame.PingPong(f.integer("timestamp"));
            case ResponseType.RESPONSE -> new ServerFrame.Response(f.id("response_id", INVALID_RESPONSE_ID),
                    f.requiredText("content"), f.requiredBool("content_complete"), f.bool("end_call"),
                    f.text("transfer_number"), f.bool("show_transferee_as_caller"), f.text("digit_to_press"),
                    f.bool("no_interruption_allowed"));
            case ResponseType.AGENT_INTERRUPT -> new ServerFrame.AgentInterrupt(
                    f.id("interrupt_id", INVALID_INTERRUPT_ID), f.requiredText("content"),
                    f.requiredBool("content_complete"), f.bool("end_call"), f.text("transfer_number"),
                    f.text("digit_to_press"), f.bool("no_interruption_allowed"));
            case ResponseType.TOOL_CALL_INVOCATION -> new ServerFrame.ToolCallInvocation(
                    f.requiredText("tool_call_id"), f.requiredText("name"), f.requiredText("arguments"));
            case ResponseType.TOOL_CALL_RESULT -> new ServerFrame.ToolCallResult(f.requiredText("tool_call_id"),
                    f.requiredText("content"), f.bool("successful"));
            case ResponseType.UPDATE_AGENT -> {
                JsonNode config = tree.get("agent_config");
                if (config == null || !config.isObject()) {
                    throw new BadField(INVALID_FIELD, type + ": 'agent_config' must be an object");
                }
                Fields c = new Fields(type + ".agent_config", config);
                Long count = c.integer("reminder_max_count");
                if (count != null && (count > Integer.MAX_VALUE || count < Integer.MIN_VALUE)) {
                    throw new BadField(INVALID_FIELD, type + ": 'reminder_max_count' is out of range");
                }
                yield new ServerFrame.UpdateAgent(new ServerFrame.AgentConfig(c.number("responsiveness"),
                        c.number("interruption_sensitivity"), c.integer("reminder_trigger_ms"),
                        count == null ? null : count.intValue()));
            }
            case ResponseType.METADATA -> {
                JsonNode metadata = tree.get("metadata");
                yield new ServerFrame.Metadata(metadata == null ? tree.nullNode() : metadata);
            }
            default -> throw new IllegalStateException("no reader for " + type);
        };
    }

    private static Typed typed(String text, String typeField, String missing, String invalid) {
        JsonNode tree;
        try {
            tree = text == null ? null : MAPPER.readTree(text);
        } catch (IOException e) {
            return Typed.failed(INVALID_JSON, "frame is not JSON: " + firstLine(e.getMessage()));
        }
        if (tree == null || tree.isMissingNode()) {
            return Typed.failed(INVALID_JSON, "frame is empty");
        }
        if (!tree.isObject()) {
            return Typed.failed(NOT_AN_OBJECT, "frame is JSON but not an object");
        }
        JsonNode typeNode = tree.get(typeField);
        if (typeNode == null || !typeNode.isTextual()) {
            return Typed.failed(missing, "no string field '" + typeField + "'");
        }
        String type = typeNode.textValue();
        if (type.isEmpty() || type.length() > MAX_TYPE_LENGTH) {
            return Typed.failed(invalid, "'" + typeField + "' must have 1 to " + MAX_TYPE_LENGTH + " characters");
        }
        return new Typed((ObjectNode) tree, type, null);
    }

    private static List<String> unknownFields(ObjectNode tree, String typeField, Set<String> known) {
        List<String> unknown = new ArrayList<>();
        tree.fieldNames().forEachRemaining(name -> {
            if (!name.equals(typeField) && !known.contains(name)) {
                unknown.add(name);
            }
        });
        return unknown;
    }

    private static List<Utterance> transcript(ObjectNode tree) {
        List<Utterance> utterances = new ArrayList<>();
        for (JsonNode entry : tree.path("transcript")) {
            if (entry.isObject()) {
                utterances.add(new Utterance(entry.path("role").asText(""), entry.path("content").asText(""),
                        present(entry.get("words"))));
            }
        }
        return utterances;
    }

    private static Long nonNegative(JsonNode id) {
        if (id == null || !id.isIntegralNumber() || !id.canConvertToLong() || id.longValue() < 0) {
            return null;
        }
        return id.longValue();
    }

    private static Long longOrNull(JsonNode node) {
        return node != null && node.isIntegralNumber() && node.canConvertToLong() ? node.longValue() : null;
    }

    private static String textOrNull(JsonNode node) {
        return node != null && node.isTextual() ? node.textValue() : null;
    }

    private static JsonNode present(JsonNode node) {
        return node == null || node.isNull() ? null : node;
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    private record Typed(ObjectNode tree, String type, String[] failure) {
        static Typed failed(String reason, String detail) {
            return new Typed(null, null, new String[] {reason, detail});
        }
    }

    /** Strict reads of a server frame's fields: a present field of the wrong type is an error, as it is to Retell. */
    private record Fields(String where, JsonNode node) {

        Long id(String name, String reason) {
            Long id = nonNegative(node.get(name));
            if (id == null) {
                throw new BadField(reason, "'" + name + "' of " + where + " must be a non-negative integer");
            }
            return id;
        }

        String requiredText(String name) {
            String value = text(name);
            if (value == null) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be a string");
            }
            return value;
        }

        boolean requiredBool(String name) {
            Boolean value = bool(name);
            if (value == null) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be a boolean");
            }
            return value;
        }

        String text(String name) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                return null;
            }
            if (!value.isTextual()) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be a string");
            }
            return value.textValue();
        }

        Boolean bool(String name) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                return null;
            }
            if (!value.isBoolean()) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be a boolean");
            }
            return value.booleanValue();
        }

        Long integer(String name) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                return null;
            }
            if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be an integer");
            }
            return value.longValue();
        }

        Double number(String name) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                return null;
            }
            if (!value.isNumber()) {
                throw new BadField(INVALID_FIELD, where + ": '" + name + "' must be a number");
            }
            return value.doubleValue();
        }
    }

    private static final class BadField extends RuntimeException {
        private final String reason;

        BadField(String reason, String detail) {
            super(detail, null, false, false);
            this.reason = reason;
        }
    }
}
