package io.callguard.ingress.internal;

import io.callguard.ingress.IngressMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.config.types.Password;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener's gate: with {@code admin.token} set, a request reaches the admin routes only with
 * {@code Authorization: Bearer <token>}, or {@code Basic} credentials whose password is the token (any user name:
 * a browser asks for them once and then sends them with the dashboard page's own requests).
 *
 * <p>Decisions: no {@code Authorization} header, another scheme, or undecodable Basic credentials: 401
 * {@code missing_token}; a token that differs: 401 {@code wrong_token}. Both are answered with a JSON error and both
 * challenges, counted ({@value IngressMetrics#ADMIN_AUTH_FAILURES}) and never logged with what was sent. The
 * comparison takes the same time whatever the sent token has in common with the configured one.
 */
public final class AdminAuth extends Handler.Wrapper {

    private static final Logger LOG = LoggerFactory.getLogger(AdminAuth.class);
    private static final String BEARER = "bearer ";
    private static final String BASIC = "basic ";
    private static final String REALM = "realm=\"callguard admin\"";

    private final byte[] token;
    private final MeterRegistry meters;

    /**
     * @param token   the token every request must carry
     * @param handler the admin routes
     */
    public AdminAuth(Password token, MeterRegistry meters, Handler handler) {
        super(Objects.requireNonNull(handler, "handler"));
        this.token = Objects.requireNonNull(token, "token").value().getBytes(StandardCharsets.UTF_8);
        this.meters = Objects.requireNonNull(meters, "meters");
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String refused = refusal(request.getHeaders().get(HttpHeader.AUTHORIZATION));
        if (refused == null) {
            return super.handle(request, response, callback);
        }
        meters.counter(IngressMetrics.ADMIN_AUTH_FAILURES, IngressMetrics.TAG_REASON, refused).increment();
        LOG.debug("admin request {} {} refused with 401: {}", request.getMethod(), Request.getPathInContext(request),
                refused);
        response.getHeaders().add(HttpHeader.WWW_AUTHENTICATE, "Bearer " + REALM);
        response.getHeaders().add(HttpHeader.WWW_AUTHENTICATE, "Basic " + REALM + ", charset=\"UTF-8\"");
        Replies.write(response, callback, Replies.error(401, refused,
                "the admin listener needs Authorization: Bearer <admin.token>"), Map.of());
        return true;
    }

    /** Why the header is refused, or null when it carries the token. */
    private String refusal(String authorization) {
        byte[] given = presented(authorization);
        if (given == null) {
            return "missing_token";
        }
        return MessageDigest.isEqual(token, given) ? null : "wrong_token";
    }

    /** The token the header presents, or null when it presents none. */
    private static byte[] presented(String authorization) {
        if (authorization == null) {
            return null;
        }
        String lower = authorization.toLowerCase(Locale.ROOT);
        if (lower.startsWith(BEARER)) {
            return authorization.substring(BEARER.length()).strip().getBytes(StandardCharsets.UTF_8);
        }
        if (lower.startsWith(BASIC)) {
            try {
                String pair = new String(Base64.getDecoder().decode(authorization.substring(BASIC.length()).strip()),
                        StandardCharsets.UTF_8);
                int colon = pair.indexOf(':');
                return colon < 0 ? null : pair.substring(colon + 1).getBytes(StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }
}
