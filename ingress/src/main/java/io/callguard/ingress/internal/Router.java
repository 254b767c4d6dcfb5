package io.callguard.ingress.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Dispatches requests by method and path to child handlers. Immutable once built.
 *
 * <p>Matching: a route path ending in {@code /} (other than {@code /} itself) is a prefix route and matches
 * every path that starts with it and has at least one more character ({@code /calls/} matches
 * {@code /calls/abc}, not {@code /calls/} nor {@code /calls}); any other route path matches only itself.
 * An exact route wins over a prefix route, and a longer prefix over a shorter one. A path no route matches
 * is answered 404; a matched path with no route for the method, 405 with {@code Allow}.
 */
public final class Router extends Handler.AbstractContainer {

    /** One route: a method, a path (exact, or a prefix when it ends in {@code /}) and its handler. */
    public record Route(String method, String path, Handler handler) {
        public Route {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(handler, "handler");
            if (path == null || !path.startsWith("/")) {
                throw new IllegalArgumentException("a route path must start with '/', was '" + path + "'");
            }
        }

        boolean isPrefix() {
            return path.length() > 1 && path.endsWith("/");
        }
    }

    private final Map<String, Map<String, Handler>> exact = new LinkedHashMap<>();
    private final Map<String, Map<String, Handler>> prefixes = new TreeMap<>(
            Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()));
    private final List<Handler> children = new ArrayList<>();

    /** @throws IllegalArgumentException when two routes share a method and path */
    public Router(List<Route> routes) {
        for (Route r : routes) {
            Map<String, Map<String, Handler>> table = r.isPrefix() ? prefixes : exact;
            Handler previous = table.computeIfAbsent(r.path(), p -> new LinkedHashMap<>()).putIfAbsent(r.method(), r.handler());
            if (previous != null) {
                throw new IllegalArgumentException("two routes for " + r.method() + " " + r.path());
            }
            if (!children.contains(r.handler())) {
                children.add(r.handler());
                addBean(r.handler());
            }
        }
    }

    @Override
    public List<Handler> getHandlers() {
        return List.copyOf(children);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String path = Request.getPathInContext(request);
        Map<String, Handler> byMethod = match(path);
        if (byMethod == null) {
            Replies.write(response, callback, Replies.error(404, "not_found", "no route for " + path), Map.of());
            return true;
        }
        Handler handler = byMethod.get(request.getMethod());
        if (handler == null) {
            Replies.write(response, callback,
                    Replies.error(405, "method_not_allowed", request.getMethod() + " is not allowed on " + path),
                    Map.of("Allow", String.join(", ", new LinkedHashSet<>(byMethod.keySet()))));
            return true;
        }
        return handler.handle(request, response, callback);
    }

    private Map<String, Handler> match(String path) {
        if (path == null) {
            return null;
        }
        Map<String, Handler> found = exact.get(path);
        if (found != null) {
            return found;
        }
        for (Map.Entry<String, Map<String, Handler>> e : prefixes.entrySet()) {
            if (path.length() > e.getKey().length() && path.startsWith(e.getKey())) {
                return e.getValue();
            }
        }
        return null;
    }
}
