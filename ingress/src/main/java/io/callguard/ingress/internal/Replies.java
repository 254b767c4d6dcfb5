package io.callguard.ingress.internal;

import io.callguard.ingress.HttpReply;
import java.nio.ByteBuffer;
import java.util.Map;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** Writes {@link HttpReply}s to Jetty responses; the one place a response is written. */
public final class Replies {

    /** The JSON body of every error: a human message and a machine-readable reason. */
    public record ErrorBody(String error, String reason) {
    }

    private Replies() {
    }

    /** A JSON error reply, {@code {"error": message, "reason": reason}}. */
    public static HttpReply error(int status, String reason, String message) {
        return HttpReply.json(status, new ErrorBody(message, reason));
    }

    /** Writes the whole reply, completing the callback when done. Call at most once per response. */
    public static void write(Response response, Callback callback, HttpReply reply, Map<String, String> headers) {
        response.setStatus(reply.status());
        HttpFields.Mutable fields = response.getHeaders();
        if (reply.contentType() != null) {
            fields.put(HttpHeader.CONTENT_TYPE, reply.contentType());
        }
        headers.forEach(fields::put);
        fields.put(HttpHeader.CONTENT_LENGTH, reply.body().length);
        response.write(true, ByteBuffer.wrap(reply.body()), callback);
    }
}
