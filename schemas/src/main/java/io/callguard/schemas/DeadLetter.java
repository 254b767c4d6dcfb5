package io.callguard.schemas;

import java.util.Base64;
import java.util.Objects;

/**
 * What could not be parsed or validated, on {@code callguard.dead-letters} keyed by {@code source}.
 *
 * @param schemaVersion  always {@link #SCHEMA_VERSION} when written by this code
 * @param source         where it was refused: {@code webhook}, {@code socket}, {@code processor}, ...
 * @param reason         a short machine-readable reason, e.g. {@code invalid_json}, {@code missing_call_id}
 * @param detail         a human-readable explanation
 * @param callId         the call, when it could be told
 * @param topic          source topic, when the record came from Kafka
 * @param partition      source partition, when the record came from Kafka
 * @param offset         source offset, when the record came from Kafka
 * @param receivedAtMs   when it was refused
 * @param originalBase64 the original bytes, base64, exactly as received
 * @param originalSize   length of the original bytes
 */
public record DeadLetter(
        int schemaVersion,
        String source,
        String reason,
        String detail,
        String callId,
        String topic,
        Integer partition,
        Long offset,
        long receivedAtMs,
        String originalBase64,
        int originalSize) {

    public static final int SCHEMA_VERSION = 1;

    public DeadLetter {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(originalBase64, "originalBase64");
    }

    /** A dead letter for bytes refused at the edge, before they reached any topic. */
    public static DeadLetter atEdge(String source, String reason, String detail, String callId,
                                    long receivedAtMs, byte[] original) {
        byte[] bytes = original == null ? new byte[0] : original;
        return new DeadLetter(SCHEMA_VERSION, source, reason, detail, callId, null, null, null,
                receivedAtMs, Base64.getEncoder().encodeToString(bytes), bytes.length);
    }

    /** A dead letter for a Kafka record that could not be processed. */
    public static DeadLetter fromRecord(String source, String reason, String detail, String callId,
                                        String topic, int partition, long offset, long receivedAtMs,
                                        byte[] original) {
        byte[] bytes = original == null ? new byte[0] : original;
        return new DeadLetter(SCHEMA_VERSION, source, reason, detail, callId, topic, partition, offset,
                receivedAtMs, Base64.getEncoder().encodeToString(bytes), bytes.length);
    }

    /** The original bytes. */
    public byte[] original() {
        return Base64.getDecoder().decode(originalBase64);
    }
}
