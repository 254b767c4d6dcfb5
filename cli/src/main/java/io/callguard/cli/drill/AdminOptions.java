package io.callguard.cli.drill;

import java.net.URI;
import picocli.CommandLine.Option;

/** The load tools' options for the gateway's admin listener, where they read its {@code /metrics}. */
public final class AdminOptions {

    /** Where {@code --admin-token} is read from when it is not given, as the gateway reads {@code admin.token}. */
    static final String TOKEN_ENV = "CALLGUARD_ADMIN_TOKEN";

    @Option(names = "--admin-url", paramLabel = "URL", description = {"The gateway's admin listener, where its "
            + "/metrics are read (default: the --target host on port 8081, admin.port's default; the admin listener "
            + "binds 127.0.0.1 unless admin.host says otherwise)."})
    URI url;

    @Option(names = "--admin-token", paramLabel = "TOKEN", description = {"The gateway's admin.token, sent as "
            + "'Authorization: Bearer' (default: " + TOKEN_ENV + "; none when that is unset)."})
    String token;

    /**
     * The admin listener to read, for this target.
     *
     * @param target the gateway's public URL; may be null
     * @return null when neither {@code --admin-url} nor a target is given
     * @throws IllegalArgumentException when {@code --admin-url} is not an http URL
     */
    GatewayAdmin resolve(URI target) {
        String t = token != null ? token : System.getenv(TOKEN_ENV);
        if (url != null) {
            return new GatewayAdmin(url, t);
        }
        return target == null ? null : GatewayAdmin.beside(target, t);
    }
}
