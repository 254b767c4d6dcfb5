package io.callguard.egress;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;

/** A real Jetty 12 WebSocket server on port 0 at {@code /llm-websocket/*}, recording every connection. */
public final class TestLlmServer implements AutoCloseable {

    /** One accepted connection, as the server saw it. */
    public static final class Connection implements Session.Listener.AutoDemanding {
        private final String path;
        private final String query;
        private final List<String> received = new CopyOnWriteArrayList<>();
        private volatile Session session;
        private volatile Integer closeCode;

        Connection(String path, String query) {
            this.path = path;
            this.query = query;
        }

        @Override
        public void onWebSocketOpen(Session session) {
            this.session = session;
        }

        @Override
        public void onWebSocketText(String message) {
            received.add(message);
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            closeCode = statusCode;
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            // A cut connection ends in an error by design here.
        }

        public String path() {
            return path;
        }

        public String query() {
            return query;
        }

        public List<String> received() {
            return List.copyOf(received);
        }

        public Integer closeCode() {
            return closeCode;
        }

        public boolean isOpen() {
            return session != null && session.isOpen();
        }

        public void send(String text) {
            session.sendText(text, Callback.NOOP);
        }

        /** Cuts the connection without a close frame: the client sees 1006. */
        public void cut() {
            session.disconnect();
        }

        public void close(int code, String reason) {
            session.close(code, reason, Callback.NOOP);
        }
    }

    private final Server server = new Server();
    private final ServerConnector connector = new ServerConnector(server);
    private final List<Connection> connections = new CopyOnWriteArrayList<>();

    public TestLlmServer() {
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(WebSocketUpgradeHandler.from(server, container -> container.addMapping("/llm-websocket/*",
                (request, response, callback) -> {
                    Connection connection = new Connection(request.getHttpURI().getPath(),
                            request.getHttpURI().getQuery());
                    connections.add(connection);
                    return connection;
                })));
    }

    public TestLlmServer start() throws Exception {
        server.start();
        return this;
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** Connections in the order they were accepted. */
    public List<Connection> connections() {
        return List.copyOf(connections);
    }

    public void stop() throws Exception {
        server.stop();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }
}
