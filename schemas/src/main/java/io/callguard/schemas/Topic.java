package io.callguard.schemas;

import java.util.Objects;
import org.apache.kafka.common.serialization.Serde;

/**
 * A topic described once: its full name and the serdes of its keys and values.
 *
 * @param name       the full topic name, prefix included
 * @param keySerde   serde of the keys
 * @param valueSerde serde of the values
 * @param compacted  true when the topic keeps only the latest value per key
 * @param <K>        key type
 * @param <V>        value type
 */
public record Topic<K, V>(String name, Serde<K> keySerde, Serde<V> valueSerde, boolean compacted) {

    public Topic {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keySerde, "keySerde");
        Objects.requireNonNull(valueSerde, "valueSerde");
    }
}
