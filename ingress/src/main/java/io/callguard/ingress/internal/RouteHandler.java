package io.callguard.ingress.internal;

import io.callguard.ingress.HttpQuery;
import io.callguard.ingress.HttpReply;
import io.callguard.ingress.HttpRoute;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Adapts an app's {@link HttpRoute} to Jetty. Runs the route on the server thread (it may block briefly). */
public final class RouteHandler extends Handler.Abstract {

    private static final Logger LOG = LoggerFactory.getLogger(RouteHandler.class);

    private final HttpRoute route;

    public RouteHandler(HttpRoute route) {
        this.route = Objects.requireNonNull(route, "route");
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        HttpQuery query = new HttpQuery(request.getMethod(), Request.getPathInContext(request), queryOf(request));
        HttpReply reply;
        try {
            reply = route.handle(query);
            if (reply == null) {
                throw new IllegalStateException("the route answered null");
            }
        } catch (Exception e) {
            // The route's own failure: answered 500 without its message, which may hold internals.
            LOG.warn("route {} {} failed", query.method(), query.path(), e);
            reply = Replies.error(500, "internal_error", "internal error");
        }
        Replies.write(response, callback, reply, Map.of());
        return true;
    }

    private static Map<String, String> queryOf(Request request) {
        Map<String, String> query = new LinkedHashMap<>();
        Fields fields = Request.extractQueryParameters(request);
        for (Fields.Field field : fields) {
            query.putIfAbsent(field.getName(), field.getValue());
        }
        return query;
    }
}
