package io.callguard.ingress.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Hands each request to the handler of the listener (connector) it came in on, so one server, with one thread
 * pool and one lifecycle, keeps two sets of routes apart: a route of one listener is not found on the other (404).
 * Immutable once built.
 *
 * <p>Jetty's virtual hosts ({@code @connectorName}) decide the same, but only inside a {@code ContextHandler} per
 * listener, which brings a servlet-style context (attributes, class loader, its own availability during stop) that
 * nothing here needs.
 */
public final class ByConnector extends Handler.AbstractContainer {

    private final Map<Connector, Handler> byConnector;

    /** @param byConnector each listener's handler; a request on any other connector is answered 404 */
    public ByConnector(Map<Connector, Handler> byConnector) {
        this.byConnector = new LinkedHashMap<>(byConnector);
        byConnector.values().forEach(this::addBean);
    }

    @Override
    public List<Handler> getHandlers() {
        return new ArrayList<>(byConnector.values());
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Handler handler = byConnector.get(request.getConnectionMetaData().getConnector());
        if (handler == null) {
            Replies.write(response, callback, Replies.error(404, "not_found", "no route for "
                    + Request.getPathInContext(request)), Map.of());
            return true;
        }
        return handler.handle(request, response, callback);
    }
}
