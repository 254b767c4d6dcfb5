package io.callguard.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import java.util.List;
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

    private JsonSerde(Class<T> type, boolean validate) {
        this.type = type;
        this.validate = validate;
        this.reader = Json.mapper().readerFor(type);
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
            return Json.mapper().treeToValue(tree, type);
        } catch (IOException | IllegalArgumentException | NullPointerException e) {
            throw new SerializationException("invalid " + type.getSimpleName() + ": " + firstLine(e.getMessage()), e);
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
