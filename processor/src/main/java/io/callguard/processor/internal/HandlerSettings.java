package io.callguard.processor.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;

/**
 * Keys that hand objects to the exception handlers Kafka Streams builds by reflection: they arrive in
 * {@code configure(Map)}, which receives the original streams properties.
 */
public final class HandlerSettings {

    /** A {@link MeterRegistry} the handlers count into. */
    public static final String METER_REGISTRY = "callguard.processor.meter-registry";
    /** Name of the dead-letter topic. */
    public static final String DEAD_LETTER_TOPIC = "callguard.processor.dead-letter-topic";

    private HandlerSettings() {
    }

    static MeterRegistry meters(Map<String, ?> configs) {
        Object value = configs.get(METER_REGISTRY);
        return value instanceof MeterRegistry registry ? registry : new SimpleMeterRegistry();
    }

    static String deadLetterTopic(Map<String, ?> configs) {
        Object value = configs.get(DEAD_LETTER_TOPIC);
        if (value == null) {
            throw new IllegalStateException(DEAD_LETTER_TOPIC + " is not set");
        }
        return value.toString();
    }
}
