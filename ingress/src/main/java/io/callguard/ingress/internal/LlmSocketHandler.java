package io.callguard.ingress.internal;

import io.callguard.ingress.IngressConfig;
import io.callguard.ingress.IngressMetrics;
import io.callguard.ingress.SocketFrameHandler;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.kafka.common.config.types.Password;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /llm-websocket/{call_id}?token=...}: checks the request, then upgrades it to an {@link LlmSocketEndpoint}.
 *
 * <p>Decisions, before any upgrade:
 * <ul>
 *   <li>no {@code token} query parameter, a wrong one, or none configured: 401, counted
 *       ({@value IngressMetrics#SOCKET_AUTH_FAILURES}), never logged with the token;</li>
 *   <li>a call id that is empty, longer than 256 characters or outside {@code [A-Za-z0-9._:-]}: 400;</li>
 *   <li>a valid request that is not a WebSocket upgrade: 426;</li>
 *   <li>once {@link #refuseNewSockets()} was called (the instance drains before it stops): 503 with
 *       {@code Connection: close}, counted ({@value IngressMetrics#SOCKETS_REFUSED}, reason {@code draining}), so a
 *       load balancer that retries a 503 (or Retell's next attempt, on a new connection) reaches another
 *       instance. Sockets already open are not touched.</li>
 * </ul>
 * Every socket gets the idle timeout {@code socket.idle-timeout-ms} and the message and frame limit
 * {@code socket.max-frame-bytes} (a larger text message closes it with 1009).
 */
public final class LlmSocketHandler extends Handler.Abstract {

    /** The query parameter carrying the token (Retell sends no auth header). */
    public static final String TOKEN_PARAMETER = "token";
    /** The reason of a socket refused because the instance drains. */
    public static final String REASON_DRAINING = "draining";

    private static final Logger LOG = LoggerFactory.getLogger(LlmSocketHandler.class);
    private static final Pattern CALL_ID = Pattern.compile("[A-Za-z0-9._:-]{1,256}");
    private static final Map<String, String> CHALLENGE = Map.of(HttpHeader.WWW_AUTHENTICATE.asString(),
            "Token query=\"" + TOKEN_PARAMETER + "\"");
    private static final Map<String, String> UPGRADE = Map.of(HttpHeader.UPGRADE.asString(), "websocket",
            HttpHeader.CONNECTION.asString(), "Upgrade");
    /** A new connection for the next attempt, which a balancer may send to another instance. */
    private static final Map<String, String> DRAINING = Map.of(HttpHeader.CONNECTION.asString(), "close");

    private final String pathPrefix;
    private final byte[] token;
    private final SocketFrameHandler protocol;
    private final MeterRegistry meters;
    private final ServerWebSocketContainer container;
    private volatile boolean refusing;

    /**
     * @param server     the server this handler runs in (WebSocket components are shared through it)
     * @param pathPrefix the route's prefix, e.g. {@code /llm-websocket/}; the rest of the path is the call id
     */
    public LlmSocketHandler(Server server, String pathPrefix, IngressConfig config, SocketFrameHandler protocol,
                            MeterRegistry meters) {
        this.pathPrefix = Objects.requireNonNull(pathPrefix, "pathPrefix");
        Password configured = config.socketToken();
        this.token = configured == null ? null : configured.value().getBytes(StandardCharsets.UTF_8);
        this.protocol = Objects.requireNonNull(protocol, "protocol");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.container = ServerWebSocketContainer.ensure(server);
        container.setIdleTimeout(Duration.ofMillis(config.socketIdleTimeoutMs()));
        container.setMaxTextMessageSize(config.socketMaxFrameBytes());
        container.setMaxBinaryMessageSize(config.socketMaxFrameBytes());
        // A whole message in one frame must fit too: Retell does not fragment.
        container.setMaxFrameSize(config.socketMaxFrameBytes());
        addManaged(container);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String refused = authenticate(Request.extractQueryParameters(request).getValue(TOKEN_PARAMETER));
        if (refused != null) {
            meters.counter(IngressMetrics.SOCKET_AUTH_FAILURES, IngressMetrics.TAG_REASON, refused).increment();
            LOG.debug("LLM socket refused with 401: {}", refused);
            Replies.write(response, callback, Replies.error(401, refused, "a valid ?" + TOKEN_PARAMETER
                    + "= is required"), CHALLENGE);
            return true;
        }
        String path = Request.getPathInContext(request);
        String callId = path.substring(pathPrefix.length());
        if (!CALL_ID.matcher(callId).matches()) {
            Replies.write(response, callback, Replies.error(400, "invalid_call_id",
                    "the call id must have 1 to 256 of A-Z a-z 0-9 . _ : -"), Map.of());
            return true;
        }
        if (refusing) {
            meters.counter(IngressMetrics.SOCKETS_REFUSED, IngressMetrics.TAG_REASON, REASON_DRAINING).increment();
            LOG.debug("LLM socket of call {} refused with 503: this instance is draining", callId);
            Replies.write(response, callback, Replies.error(503, REASON_DRAINING, "this instance is shutting "
                    + "down; connect again (another instance takes the call)"), DRAINING);
            return true;
        }
        boolean upgraded = container.upgrade((upgradeRequest, upgradeResponse, upgradeCallback) ->
                new LlmSocketEndpoint(protocol, callId, meters), request, response, callback);
        if (!upgraded) {
            Replies.write(response, callback, Replies.error(426, "upgrade_required",
                    "this endpoint speaks WebSocket only"), UPGRADE);
        }
        return true;
    }

    /** From now on every new socket is refused with 503 (see the class comment); open ones are left alone. */
    public void refuseNewSockets() {
        refusing = true;
    }

    private String authenticate(String given) {
        if (token == null) {
            return "no_token_configured";
        }
        if (given == null || given.isEmpty()) {
            return "missing_token";
        }
        return MessageDigest.isEqual(token, given.getBytes(StandardCharsets.UTF_8)) ? null : "wrong_token";
    }
}
