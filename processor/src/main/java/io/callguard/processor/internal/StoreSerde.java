package io.callguard.processor.internal;

import io.callguard.schemas.Json;
import java.io.IOException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * JSON serde for state-store values, without schema validation: a store holds only what this code wrote,
 * and a store read happens for every event, so re-validating each read would only cost time.
 * Topics keep the validating {@link io.callguard.schemas.JsonSerde}.
 *
 * @param <T> the value type
 */
public final class StoreSerde<T> implements Serde<T> {

    private final Class<T> type;

    private StoreSerde(Class<T> type) {
        this.type = type;
    }

    public static <T> StoreSerde<T> of(Class<T> type) {
        return new StoreSerde<>(type);
    }

    @Override
    public Serializer<T> serializer() {
        return (topic, value) -> {
            if (value == null) {
                return null;
            }
            try {
                return Json.mapper().writeValueAsBytes(value);
            } catch (IOException e) {
                throw new SerializationException("cannot serialize " + type.getSimpleName() + " for a store", e);
            }
        };
    }

    @Override
    public Deserializer<T> deserializer() {
        return (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            try {
                return Json.mapper().readValue(bytes, type);
            } catch (IOException e) {
                throw new SerializationException("cannot read " + type.getSimpleName() + " from a store", e);
            }
        };
    }
}
