package io.callguard.ingress;

import java.util.Map;
import java.util.Objects;

/**
 * What an {@link HttpRoute} is told about a request.
 *
 * @param method the HTTP method, upper case as sent
 * @param path   the decoded path, e.g. {@code /calls/abc}
 * @param query  the query parameters, first value of each name
 */
public record HttpQuery(String method, String path, Map<String, String> query) {

    public HttpQuery {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        query = Map.copyOf(query);
    }
}
