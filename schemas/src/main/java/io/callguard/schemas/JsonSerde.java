package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * JSON serde for one record type. Null maps to null both ways (tombstones). Deserialization checks
 * the bytes against the type's schema file, so a record that parses but breaks the contract is
 * refused as clearly as one that does not parse.
 *
 * @param <T> the record type
 */
public final class JsonSerde<T> implements Serde<T> {

    private final Class<T> type;
    private final boolean validate;
    private final ObjectReader reader;
    /** A record's {@link JsonNode} components by JSON name, with their position; empty for other types. */
    private final Map<String, Integer> nodeComponents;
    private final RecordComponent[] components;
    private final MethodHandle[] accessors;
    private final MethodHandle canonical;

    private JsonSerde(Class<T> type, boolean validate) {
        this.type = type;
        this.validate = validate;
        this.reader = Json.mapper().readerFor(type);
        this.components = type.isRecord() ? type.getRecordComponents() : new RecordComponent[0];
        this.nodeComponents = nodeComponents(type, components);
        this.canonical = nodeComponents.isEmpty() ? null : canonical(type, components);
        this.accessors = nodeComponents.isEmpty() ? new MethodHandle[0] : accessors(components);
    }

    private static MethodHandle[] accessors(RecordComponent[] components) {
        MethodHandle[] out = new MethodHandle[components.length];
        try {
            for (int i = 0; i < components.length; i++) {
                out[i] = MethodHandles.publicLookup().unreflect(components[i].getAccessor());
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("record accessors must be public: " + e.getMessage(), e);
        }
        return out;
    }

    private static Map<String, Integer> nodeComponents(Class<?> type, RecordComponent[] components) {
        Map<String, Integer> out = new LinkedHashMap<>();
        List<String> names = Arrays.stream(components).map(RecordComponent::getName).toList();
        for (BeanPropertyDefinition property : Json.mapper().getDeserializationConfig()
                .introspect(Json.mapper().constructType(type)).findProperties()) {
            int index = names.indexOf(property.getInternalName());
            if (index >= 0 && components[index].getType() == JsonNode.class) {
                out.put(property.getName(), index);
            }
        }
        return Map.copyOf(out);
    }

    private static MethodHandle canonical(Class<?> type, RecordComponent[] components) {
        try {
            Constructor<?> constructor = type.getDeclaredConstructor(
                    Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new));
            return MethodHandles.publicLookup().unreflectConstructor(constructor);
        } catch (NoSuchMethodException | IllegalAccessException e) {
            throw new IllegalStateException("record " + type.getName() + " has no public canonical constructor", e);
        }
    }

    /** A serde that validates what it reads against the type's schema file. */
    public static <T> JsonSerde<T> of(Class<T> type) {
        return new JsonSerde<>(type, RecordSchemas.types().contains(type));
    }

    public Class<T> type() {
        return type;
    }

    /** Serializes a value; null gives null. */
    public byte[] toBytes(T value) {
        if (value == null) {
            return null;
        }
        try {
            return Json.mapper().writeValueAsBytes(value);
        } catch (IOException e) {
            throw new SerializationException("cannot serialize " + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses bytes; null gives null.
     *
     * @throws SerializationException naming the type and what is wrong, when the bytes are not valid JSON
     *                                or break the type's schema
     */
    public T fromBytes(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        JsonNode tree;
        try {
            tree = Json.mapper().readTree(bytes);
        } catch (IOException e) {
            throw new SerializationException("not a JSON " + type.getSimpleName() + ": " + firstLine(e.getMessage()), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new SerializationException("not a JSON " + type.getSimpleName() + ": expected an object");
        }
        if (validate) {
            List<String> violations = RecordSchemas.violations(type, tree);
            if (!violations.isEmpty()) {
                throw new SerializationException("invalid " + type.getSimpleName() + ": " + String.join("; ", violations));
            }
        }
        try {
            return bind((ObjectNode) tree);
        } catch (IOException | IllegalArgumentException | NullPointerException e) {
            throw new SerializationException("invalid " + type.getSimpleName() + ": " + firstLine(e.getMessage()), e);
        }
    }

    /**
     * Binds a parsed tree to the type. A record's {@link JsonNode} components (a call event's payload, with the
     * whole transcript of a turn) are taken from the tree as they are instead of being copied node by node, as
     * {@code treeToValue} would: the rest is bound with an empty placeholder in their place, then the record is
     * made again with the tree's own nodes.
     */
    @SuppressWarnings("unchecked")
    private T bind(ObjectNode tree) throws IOException {
        if (nodeComponents.isEmpty()) {
            return reader.readValue(tree);
        }
        ObjectNode envelope = Json.mapper().createObjectNode();
        Object[] taken = new Object[components.length];
        boolean any = false;
        for (Map.Entry<String, JsonNode> field : tree.properties()) {
            JsonNode value = field.getValue();
            Integer index = nodeComponents.get(field.getKey());
            if (index != null && value.isContainerNode()) {
                taken[index] = value;
                any = true;
                envelope.set(field.getKey(), value.isObject() ? Json.mapper().createObjectNode()
                        : Json.mapper().createArrayNode());
            } else {
                envelope.set(field.getKey(), value);
            }
        }
        T bound = reader.readValue(envelope);
        if (!any) {
            return bound;
        }
        Object[] args = new Object[components.length];
        try {
            for (int i = 0; i < components.length; i++) {
                args[i] = taken[i] != null ? taken[i] : accessors[i].invoke(bound);
            }
            return (T) canonical.invokeWithArguments(args);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot make a " + type.getSimpleName() + ": " + e, e);
        }
    }

    /**
     * Parses bytes straight into the type, without building a tree or checking it against the schema file;
     * null gives null. For the hot readers of topics only callguard writes (the responder on call-events, the
     * egress and the dashboard on responses), where every turn's record is read several times over: JSON that
     * does not parse, a field of the wrong type or a missing required one are still refused, a record that
     * otherwise breaks the schema is not. The processor reads call-events with {@link #fromBytes} and
     * dead-letters what fails, so the contract is still enforced once per record.
     *
     * @throws SerializationException naming the type and what is wrong
     */
    public T fromTrustedBytes(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            return reader.readValue(bytes);
        } catch (IOException | IllegalArgumentException | NullPointerException e) {
            throw new SerializationException("invalid " + type.getSimpleName() + ": " + firstLine(e.getMessage()), e);
        }
    }

    /** A deserializer with {@link #fromTrustedBytes}'s rules. */
    public Deserializer<T> trustingDeserializer() {
        return (topic, bytes) -> fromTrustedBytes(bytes);
    }

    @Override
    public Serializer<T> serializer() {
        return (topic, value) -> toBytes(value);
    }

    @Override
    public Deserializer<T> deserializer() {
        return (topic, bytes) -> fromBytes(bytes);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
