package io.callguard.cli.drill;

import io.callguard.ingress.IngressConfig;
import java.net.URI;
import java.util.Map;
import java.util.Objects;

/**
 * Where a gateway's admin listener is, and the token it asks for: where the load tools read its {@code /metrics}.
 *
 * @param url   the admin listener's base URL, e.g. {@code http://127.0.0.1:8081/}
 * @param token the gateway's {@code admin.token}, sent as a bearer token; empty when it has none
 */
public record GatewayAdmin(URI url, String token) {

    public GatewayAdmin {
        Objects.requireNonNull(url, "url");
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme()) || url.getHost() == null) {
            throw new IllegalArgumentException("--admin-url must be an http:// or https:// URL, was '" + url + "'");
        }
        url = url.toString().endsWith("/") ? url : URI.create(url + "/");
        token = token == null ? "" : token;
    }

    /**
     * The admin listener a gateway has beside its public one with the defaults: the target's host, on the default
     * {@code admin.port}. Only right when the tool runs where the admin listener is reachable (it binds 127.0.0.1
     * by default), else give the URL.
     */
    public static GatewayAdmin beside(URI target, String token) {
        int port = new IngressConfig(Map.of()).adminPort();
        return new GatewayAdmin(URI.create(target.getScheme() + "://" + target.getRawAuthority()
                .replaceFirst(":\\d+$", "") + ":" + port + "/"), token);
    }

    /** The gateway's Prometheus scrape. */
    public URI metrics() {
        return url.resolve("metrics");
    }

    /** Never shows the token. */
    @Override
    public String toString() {
        return "GatewayAdmin[" + url + (token.isEmpty() ? "" : ", token hidden") + "]";
    }
}
