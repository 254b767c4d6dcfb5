package io.callguard.cli.drill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;

/**
 * A custom-LLM server speaking Retell's protocol with no webhooks endpoint, as a team's own upstream is: a real
 * Jetty WebSocket server on port 0 at {@code /llm-websocket/*}, written frame by frame with Jackson (not with
 * callguard's frame writer). It answers like the script backend, {@code You said: <utterance>} in two chunks,
 * and on each call's 2nd turn first sends an {@code update_agent} and an unprompted {@code agent_interrupt}; a
 * {@code goodbye} turn gets a {@code metadata} frame first, a {@code transfer me} turn a tool invocation and its
 * result. Whether the answers act is its {@link Acts}; how it treats a call's socket after its 2nd answer, its
 * {@link Drops}. Any plain HTTP request (a webhook, a metrics scrape) is counted and refused with 404.
 */
final class ScriptSocketServer implements AutoCloseable {

    /** The number a {@code transfer me} turn is transferred to. */
    static final String TRANSFER_NUMBER = "+15550009999";

    /** What the answers do after their words. */
    enum Acts {
        /** end_call on goodbye, a transfer on transfer me, as the script backend does. */
        AS_ASKED,
        /** Never: the agent forgets to hang up or transfer. */
        NEVER,
        /** end_call on every answer, asked or not. */
        ALWAYS_END_CALL
    }

    /** What becomes of each call's first socket once its 2nd turn is answered. */
    enum Drops {
        /** Nothing: the socket stays. */
        NEVER,
        /** Dropped without a close frame (the caller sees 1006), as a draining gateway hands a call over. */
        ABORT,
        /** Dropped as {@link #ABORT}, and the reconnect's begin message greets the caller again. */
        ABORT_AND_GREET_AGAIN,
        /** Dropped as {@link #ABORT}, and every later socket of the call refused with 503. */
        ABORT_AND_REFUSE_RECONNECTS,
        /** Closed with 1000: Retell hangs the call up. */
        HANG_UP
    }

    /** The begin message of a reconnect with {@link Drops#ABORT_AND_GREET_AGAIN}. */
    static final String GREETING = "Hello! How can I help you today?";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Server server = new Server();
    private final ServerConnector connector = new ServerConnector(server);
    private final Acts acts;
    private final Drops drops;
    private final java.util.Set<String> seenCalls = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicInteger sockets = new AtomicInteger();
    private final AtomicInteger httpRequests = new AtomicInteger();
    private final AtomicInteger closedWith1000 = new AtomicInteger();

    ScriptSocketServer(Acts acts) {
        this(acts, Drops.NEVER);
    }

    ScriptSocketServer(Acts acts, Drops drops) {
        this.acts = acts;
        this.drops = drops;
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        WebSocketUpgradeHandler upgrade = WebSocketUpgradeHandler.from(server, container -> container.addMapping(
                "/llm-websocket/*", (request, response, callback) -> {
                    String path = request.getHttpURI().getPath();
                    boolean again = !seenCalls.add(path.substring(path.lastIndexOf('/') + 1));
                    if (again && drops == Drops.ABORT_AND_REFUSE_RECONNECTS) {
                        Response.writeError(request, response, callback, 503);
                        return null;
                    }
                    return new Call(again);
                }));
        upgrade.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                httpRequests.incrementAndGet();
                Response.writeError(request, response, callback, 404);
                return true;
            }
        });
        server.setHandler(upgrade);
    }

    ScriptSocketServer start() throws Exception {
        server.start();
        return this;
    }

    /** The socket URL template the drill dials. */
    String socketUrl() {
        return "ws://127.0.0.1:" + connector.getLocalPort() + "/llm-websocket/{call_id}";
    }

    /** Sockets opened so far. */
    int sockets() {
        return sockets.get();
    }

    /** Plain HTTP requests received (none is expected of a sockets-only drill). */
    int httpRequests() {
        return httpRequests.get();
    }

    /** Sockets the drill closed with 1000 (a hang-up). */
    int closedWith1000() {
        return closedWith1000.get();
    }

    @Override
    public void close() throws Exception {
        server.stop();
    }

    /** One call's socket. */
    public final class Call implements Session.Listener.AutoDemanding {
        /** Another socket of this call was opened before. */
        private final boolean reconnect;
        private volatile Session session;

        Call(boolean reconnect) {
            this.reconnect = reconnect;
        }

        @Override
        public void onWebSocketOpen(Session opened) {
            session = opened;
            sockets.incrementAndGet();
            send(frame("config").set("config", JSON.createObjectNode().put("auto_reconnect", true)
                    .put("call_details", false)));
            String begin = reconnect && drops == Drops.ABORT_AND_GREET_AGAIN ? GREETING : "";
            send(frame("response").put("response_id", 0).put("content", begin).put("content_complete", true));
        }

        @Override
        public void onWebSocketText(String text) {
            JsonNode in;
            try {
                in = JSON.readTree(text);
            } catch (Exception e) {
                session.close(1007, "not json", org.eclipse.jetty.websocket.api.Callback.NOOP);
                return;
            }
            switch (in.path("interaction_type").asText()) {
                case "ping_pong" -> send(frame("ping_pong").put("timestamp", in.path("timestamp").asLong()));
                case "response_required", "reminder_required" -> answer(in);
                default -> { }
            }
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            if (statusCode == 1000) {
                closedWith1000.incrementAndGet();
            }
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            // The drill hangs up; nothing to do.
        }

        private void answer(JsonNode in) {
            long id = in.path("response_id").asLong();
            JsonNode transcript = in.path("transcript");
            String said = transcript.isEmpty() ? "" : transcript.get(transcript.size() - 1).path("content").asText();
            boolean goodbye = said.contains("goodbye");
            boolean transfer = said.contains("transfer me");
            if (id == 2) {
                send(frame("update_agent").set("agent_config", JSON.createObjectNode().put("responsiveness", 0.8)));
                send(frame("agent_interrupt").put("interrupt_id", 1).put("content", "Just so you know. ")
                        .put("content_complete", true));
            }
            if (goodbye) {
                send(frame("metadata").set("metadata", JSON.createObjectNode().put("said", "goodbye")));
            }
            if (transfer) {
                send(frame("tool_call_invocation").put("tool_call_id", "t" + id).put("name", "transfer_call")
                        .put("arguments", "{}"));
                send(frame("tool_call_result").put("tool_call_id", "t" + id).put("content", "ok"));
            }
            send(frame("response").put("response_id", id).put("content", "You said: ").put("content_complete", false));
            ObjectNode last = frame("response").put("response_id", id).put("content", said).put("content_complete", true);
            if (acts == Acts.ALWAYS_END_CALL || acts == Acts.AS_ASKED && goodbye) {
                last.put("end_call", true);
            } else if (acts == Acts.AS_ASKED && transfer) {
                last.put("transfer_number", TRANSFER_NUMBER);
            }
            if (id != 2 || reconnect || drops == Drops.NEVER) {
                send(last);
            } else if (drops == Drops.HANG_UP) {
                send(last);
                session.close(1000, "agent hangup", org.eclipse.jetty.websocket.api.Callback.NOOP);
            } else {
                // Dropped once the answer is written, as a draining gateway does between turns.
                session.sendText(last.toString(), org.eclipse.jetty.websocket.api.Callback.from(session::disconnect,
                        failure -> session.disconnect()));
            }
        }

        private ObjectNode frame(String type) {
            return JSON.createObjectNode().put("response_type", type);
        }

        private void send(ObjectNode frame) {
            session.sendText(frame.toString(), org.eclipse.jetty.websocket.api.Callback.NOOP);
        }
    }
}
