package io.callguard.ingress;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.callguard.schemas.Json;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * What an {@link HttpRoute} answers.
 *
 * @param status      HTTP status, 100 to 599
 * @param contentType the Content-Type header, or null for none
 * @param body        the body bytes, possibly empty
 */
public record HttpReply(int status, String contentType, byte[] body) {

    public static final String APPLICATION_JSON = "application/json";
    public static final String TEXT_PLAIN = "text/plain; charset=utf-8";

    public HttpReply {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status must be between 100 and 599, was " + status);
        }
        body = body == null ? new byte[0] : body;
    }

    /**
     * A JSON reply, serialized with the shared {@link Json#mapper()} (snake_case names, nulls left out).
     *
     * @throws IllegalArgumentException when the value cannot be serialized
     */
    public static HttpReply json(int status, Object value) {
        try {
            return new HttpReply(status, APPLICATION_JSON, Json.mapper().writeValueAsBytes(value));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot serialize " + value.getClass().getName() + " as JSON", e);
        }
    }

    /** A UTF-8 plain text reply. */
    public static HttpReply text(int status, String text) {
        return new HttpReply(status, TEXT_PLAIN, Objects.requireNonNull(text, "text").getBytes(StandardCharsets.UTF_8));
    }

    /** A reply with this content type and UTF-8 text, e.g. Prometheus' exposition format. */
    public static HttpReply text(int status, String contentType, String text) {
        return new HttpReply(status, contentType, Objects.requireNonNull(text, "text").getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HttpReply r && r.status == status && Objects.equals(r.contentType, contentType)
                && Arrays.equals(r.body, body);
    }

    @Override
    public int hashCode() {
        return Objects.hash(status, contentType, Arrays.hashCode(body));
    }

    @Override
    public String toString() {
        return "HttpReply[status=" + status + ", contentType=" + contentType + ", body=" + body.length + " bytes]";
    }
}
