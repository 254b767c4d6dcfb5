package io.callguard.processor.responder.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaId;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.callguard.schemas.Json;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * An operator-defined tool the LLM may call: what the LLM is told (name, description, JSON Schema of the
 * arguments) and how callguard runs it (an HTTP POST to {@code url}, within {@code timeoutMs}).
 *
 * @param parameters the JSON Schema of the arguments, an object schema
 */
public record ToolSpec(String name, String description, JsonNode parameters, URI url, long timeoutMs) {

    /** Fields of one definition in {@code agent.tools.definitions}. */
    public static final Set<String> FIELDS = Set.of("name", "description", "parameters", "url", "timeout_ms");
    /** Longest time limit a tool may have. */
    public static final long MAX_TIMEOUT_MS = 120_000;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    /** JSON Schema's own meta-schema, loaded on first use only (it takes a while on a cold JVM). */
    private static final class MetaSchema {
        static final JsonSchema INSTANCE = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
                .getSchema(SchemaLocation.of(SchemaId.V202012));
    }

    public ToolSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(parameters, "parameters");
        Objects.requireNonNull(url, "url");
    }

    /** Its entry in the {@code tools} array of a chat completions request. */
    public com.fasterxml.jackson.databind.node.ObjectNode toolEntry() {
        return BuiltinTools.entry(name, description, parameters.deepCopy());
    }

    /**
     * Reads the tool definitions: a JSON array of objects with {@code name} (letters, digits, {@code _}, {@code -},
     * at most 64; unique; not a built-in tool's), {@code url} (http or https), and optionally {@code description},
     * {@code parameters} (a JSON Schema of an object; default: no arguments) and {@code timeout_ms}.
     *
     * @param json             the definitions; blank for none
     * @param defaultTimeoutMs the time limit of a tool without {@code timeout_ms}
     * @throws IllegalArgumentException naming the tool and the field, when a definition is invalid
     */
    public static List<ToolSpec> parseAll(String json, long defaultTimeoutMs) {
        if (json == null || json.isBlank()) {
            return List.of();
        }
        JsonNode root;
        try {
            root = Json.mapper().readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray()) {
            throw new IllegalArgumentException("must be a JSON array of tool objects");
        }
        List<ToolSpec> tools = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < root.size(); i++) {
            ToolSpec tool = parse(root.get(i), i, defaultTimeoutMs);
            if (!names.add(tool.name())) {
                throw new IllegalArgumentException("tool '" + tool.name() + "' is defined twice");
            }
            tools.add(tool);
        }
        return List.copyOf(tools);
    }

    private static ToolSpec parse(JsonNode node, int index, long defaultTimeoutMs) {
        if (!node.isObject()) {
            throw new IllegalArgumentException("tool #" + index + " is not a JSON object");
        }
        String name = node.path("name").asText("");
        String where = "tool #" + index + (name.isEmpty() ? "" : " '" + name + "'");
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!FIELDS.contains(field)) {
                throw new IllegalArgumentException(where + ": unknown field '" + field + "' (known: "
                        + String.join(", ", FIELDS.stream().sorted().toList()) + ")");
            }
        }
        if (!node.path("name").isTextual() || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(where + ": 'name' must be 1 to 64 letters, digits, '_' or '-'");
        }
        if (BuiltinTools.NAMES.contains(name)) {
            throw new IllegalArgumentException(where + ": '" + name + "' is a built-in tool");
        }
        JsonNode description = node.path("description");
        if (!description.isMissingNode() && !description.isTextual()) {
            throw new IllegalArgumentException(where + ": 'description' must be a string");
        }
        return new ToolSpec(name, description.asText(""), parameters(node.get("parameters"), where),
                url(node.get("url"), where), timeout(node.get("timeout_ms"), where, defaultTimeoutMs));
    }

    private static JsonNode parameters(JsonNode parameters, String where) {
        if (parameters == null) {
            return Json.mapper().createObjectNode().put("type", "object").set("properties",
                    Json.mapper().createObjectNode());
        }
        if (!parameters.isObject() || !"object".equals(parameters.path("type").asText())) {
            throw new IllegalArgumentException(where + ": 'parameters' must be a JSON Schema with \"type\": "
                    + "\"object\"");
        }
        Set<ValidationMessage> problems = MetaSchema.INSTANCE.validate(parameters);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(where + ": 'parameters' is not a valid JSON Schema: "
                    + problems.stream().map(ValidationMessage::getMessage).sorted().collect(Collectors.joining("; ")));
        }
        return parameters.deepCopy();
    }

    private static URI url(JsonNode url, String where) {
        if (url == null || !url.isTextual()) {
            throw new IllegalArgumentException(where + ": 'url' is required, an http or https URL");
        }
        try {
            URI parsed = new URI(url.asText());
            if (!"http".equals(parsed.getScheme()) && !"https".equals(parsed.getScheme())
                    || parsed.getHost() == null) {
                throw new IllegalArgumentException("not an http or https URL with a host");
            }
            return parsed;
        } catch (java.net.URISyntaxException | IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": 'url' " + url.asText() + ": " + e.getMessage());
        }
    }

    private static long timeout(JsonNode timeout, String where, long defaultTimeoutMs) {
        if (timeout == null) {
            return defaultTimeoutMs;
        }
        if (!timeout.canConvertToLong() || !timeout.isIntegralNumber() || timeout.asLong() < 1
                || timeout.asLong() > MAX_TIMEOUT_MS) {
            throw new IllegalArgumentException(where + ": 'timeout_ms' must be an integer from 1 to "
                    + MAX_TIMEOUT_MS);
        }
        return timeout.asLong();
    }
}
