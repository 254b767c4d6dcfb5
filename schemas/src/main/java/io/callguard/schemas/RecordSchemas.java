package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * The JSON Schema files under {@code io/callguard/schemas/} on the classpath, one per record type,
 * and validation of JSON values against them.
 */
public final class RecordSchemas {

    private static final Map<Class<?>, String> FILES = Map.of(
            CallEvent.class, "call-event.schema.json",
            AgentResponse.class, "agent-response.schema.json",
            CallState.class, "call-state.schema.json",
            CallArchive.class, "call-archive.schema.json",
            DeadLetter.class, "dead-letter.schema.json",
            CachedAnswer.class, "cached-answer.schema.json");

    /** The {@code $id} prefix of every schema file. */
    public static final String ID_PREFIX = "https://callguard.io/schemas/";

    private static final Map<Class<?>, JsonSchema> LOADED = new ConcurrentHashMap<>();

    private RecordSchemas() {
    }

    /** Classpath resource name of the schema file for a record type. */
    public static String resourceFor(Class<?> type) {
        String file = FILES.get(type);
        if (file == null) {
            throw new IllegalArgumentException("no schema file for " + type.getName());
        }
        return "/io/callguard/schemas/" + file;
    }

    /**
     * Loads every schema file and runs the validator once, so the first record on a latency-critical path
     * (a turn) does not pay for loading the validator (about a second on a cold JVM).
     */
    public static void warmUp() {
        for (Class<?> type : FILES.keySet()) {
            violations(type, Json.mapper().createObjectNode());
        }
    }

    /** Every record type that has a schema file. */
    public static Set<Class<?>> types() {
        return FILES.keySet();
    }

    /**
     * Validates a JSON value against the schema of a record type.
     *
     * @return the violations, empty when valid; each names the offending path
     */
    public static List<String> violations(Class<?> type, JsonNode value) {
        JsonSchema schema = LOADED.computeIfAbsent(type, RecordSchemas::load);
        Set<ValidationMessage> messages = schema.validate(value);
        return messages.stream().map(ValidationMessage::getMessage).sorted().collect(Collectors.toList());
    }

    private static JsonSchema load(Class<?> type) {
        resourceFor(type);
        // Schema ids resolve to the classpath, so a $ref between our files never touches the network.
        JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012,
                builder -> builder.schemaMappers(mappers -> mappers.mapPrefix(ID_PREFIX, "classpath:io/callguard/schemas/")));
        return factory.getSchema(SchemaLocation.of(ID_PREFIX + FILES.get(type)));
    }
}
