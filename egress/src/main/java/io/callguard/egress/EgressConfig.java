package io.callguard.egress;

import io.callguard.common.SecretText;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/** Settings of the egress role: socket supersession, the watchdog, and the dial-out client. */
public final class EgressConfig extends AbstractConfig {

    /** The placeholder {@link #DIALOUT_URL_TEMPLATE_CONFIG} must contain. */
    public static final String CALL_ID_PLACEHOLDER = "{call_id}";

    public static final String SUPERSEDED_CLOSE_CODE_CONFIG = "egress.superseded-close-code";
    private static final String SUPERSEDED_CLOSE_CODE_DOC = "WebSocket close code for an old socket replaced by "
            + "a reconnect of the same call. Never 1000: Retell reads 1000 as the agent hanging up.";

    public static final String WATCHDOG_THREADS_CONFIG = "egress.watchdog-threads";
    private static final String WATCHDOG_THREADS_DOC = "Threads that run the per-turn edge watchdog and the "
            + "dial-out backoff timers.";

    public static final String DETACHED_RETENTION_MS_CONFIG = "egress.detached-retention-ms";
    private static final String DETACHED_RETENTION_MS_DOC = "How long a call's turn state is kept after its "
            + "socket closed, so that a reconnect still gets the answer it is owed.";

    public static final String DIALOUT_ENABLED_CONFIG = "dialout.enabled";
    private static final String DIALOUT_ENABLED_DOC = "Dial out to the LLM WebSocket instead of (or besides) "
            + "being dialled by Retell.";

    public static final String DIALOUT_URL_TEMPLATE_CONFIG = "dialout.url-template";
    private static final String DIALOUT_URL_TEMPLATE_DOC = "ws:// or wss:// URL to dial per call; "
            + CALL_ID_PLACEHOLDER + " is replaced by the URL-encoded call id. Required when dial-out is enabled, "
            + "e.g. ws://host:port/llm-websocket/{call_id}?token=...";

    public static final String DIALOUT_MAX_ATTEMPTS_CONFIG = "dialout.max-attempts";
    private static final String DIALOUT_MAX_ATTEMPTS_DOC = "Connection attempts in a row (the first included) "
            + "before a dial-out gives up; a connection that opens resets the count.";

    public static final String DIALOUT_INITIAL_BACKOFF_MS_CONFIG = "dialout.initial-backoff-ms";
    private static final String DIALOUT_INITIAL_BACKOFF_MS_DOC = "Wait before the first redial.";

    public static final String DIALOUT_BACKOFF_MULTIPLIER_CONFIG = "dialout.backoff-multiplier";
    private static final String DIALOUT_BACKOFF_MULTIPLIER_DOC = "Factor applied to the wait after each failed "
            + "attempt.";

    public static final String DIALOUT_RANDOMIZATION_FACTOR_CONFIG = "dialout.randomization-factor";
    private static final String DIALOUT_RANDOMIZATION_FACTOR_DOC = "Jitter: each wait is drawn uniformly from "
            + "wait * (1 +/- factor), so many calls do not redial in step.";

    public static final String DIALOUT_MAX_BACKOFF_MS_CONFIG = "dialout.max-backoff-ms";
    private static final String DIALOUT_MAX_BACKOFF_MS_DOC = "Cap of the wait before jitter is applied.";

    public static final String DIALOUT_CONNECT_TIMEOUT_MS_CONFIG = "dialout.connect-timeout-ms";
    private static final String DIALOUT_CONNECT_TIMEOUT_MS_DOC = "Time allowed for one connection attempt "
            + "(TCP connect and WebSocket upgrade).";

    /**
     * The begin message's greeting, declared and documented by the ingress's config (a key is declared once in the
     * gateway); read here from the same values, with the same default, so the edge bridges an agent's late begin
     * message with the greeting the ingress would have said.
     */
    public static final String SOCKET_GREETING_CONFIG = "socket.greeting";
    /** {@link #SOCKET_GREETING_CONFIG}'s default, the ingress's. */
    public static final String DEFAULT_GREETING = "Hello! How can I help you today?";

    /** Codes a peer may not send in a close frame (RFC 6455 7.4.1), and 1000, which Retell reads as hang-up. */
    private static final Set<Integer> UNUSABLE_CLOSE_CODES = Set.of(1000, 1004, 1005, 1006, 1015);

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(SUPERSEDED_CLOSE_CODE_CONFIG, Type.INT, 4000, new ConfigDef.Validator() {
                @Override
                public void ensureValid(String name, Object value) {
                    int code = (Integer) value;
                    if (code < 1000 || code > 4999 || UNUSABLE_CLOSE_CODES.contains(code)) {
                        throw new ConfigException(name, value, "must be a sendable close code in [1001, 4999] "
                                + "other than 1004, 1005, 1006 and 1015 (1000 means hang-up to Retell)");
                    }
                }

                @Override
                public String toString() {
                    return "[1001,...,4999] except 1004, 1005, 1006, 1015";
                }
            }, Importance.MEDIUM, SUPERSEDED_CLOSE_CODE_DOC)
            .define(WATCHDOG_THREADS_CONFIG, Type.INT, 1, Range.between(1, 64), Importance.LOW, WATCHDOG_THREADS_DOC)
            .define(DETACHED_RETENTION_MS_CONFIG, Type.LONG, 30_000L, Range.between(0, 3_600_000), Importance.LOW,
                    DETACHED_RETENTION_MS_DOC)
            .define(DIALOUT_ENABLED_CONFIG, Type.BOOLEAN, false, Importance.MEDIUM, DIALOUT_ENABLED_DOC)
            .define(DIALOUT_URL_TEMPLATE_CONFIG, Type.STRING, "", Importance.MEDIUM, DIALOUT_URL_TEMPLATE_DOC)
            .define(DIALOUT_MAX_ATTEMPTS_CONFIG, Type.INT, 5, Range.between(1, 1_000), Importance.MEDIUM,
                    DIALOUT_MAX_ATTEMPTS_DOC)
            .define(DIALOUT_INITIAL_BACKOFF_MS_CONFIG, Type.LONG, 200L, Range.between(1, 600_000), Importance.LOW,
                    DIALOUT_INITIAL_BACKOFF_MS_DOC)
            .define(DIALOUT_BACKOFF_MULTIPLIER_CONFIG, Type.DOUBLE, 2.0, Range.between(1.0, 100.0), Importance.LOW,
                    DIALOUT_BACKOFF_MULTIPLIER_DOC)
            .define(DIALOUT_RANDOMIZATION_FACTOR_CONFIG, Type.DOUBLE, 0.5, new ConfigDef.Validator() {
                @Override
                public void ensureValid(String name, Object value) {
                    double factor = (Double) value;
                    if (!(factor >= 0.0 && factor < 1.0)) {
                        throw new ConfigException(name, value, "must be in [0, 1)");
                    }
                }

                @Override
                public String toString() {
                    return "[0,...,1)";
                }
            }, Importance.LOW, DIALOUT_RANDOMIZATION_FACTOR_DOC)
            .define(DIALOUT_MAX_BACKOFF_MS_CONFIG, Type.LONG, 5_000L, Range.between(1, 3_600_000), Importance.LOW,
                    DIALOUT_MAX_BACKOFF_MS_DOC)
            .define(DIALOUT_CONNECT_TIMEOUT_MS_CONFIG, Type.LONG, 3_000L, Range.between(1, 600_000),
                    Importance.LOW, DIALOUT_CONNECT_TIMEOUT_MS_DOC);

    /**
     * Reads and validates the settings.
     *
     * @throws ConfigException naming the key, when a value is out of range, or dial-out is enabled without a
     *                         usable URL template, or the maximum backoff is below the initial one
     */
    public EgressConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
        if (dialOutEnabled()) {
            checkUrlTemplate(dialOutUrlTemplate());
        }
        if (dialOutMaxBackoffMs() < dialOutInitialBackoffMs()) {
            throw new ConfigException(DIALOUT_MAX_BACKOFF_MS_CONFIG, dialOutMaxBackoffMs(),
                    "must be >= " + DIALOUT_INITIAL_BACKOFF_MS_CONFIG + " (" + dialOutInitialBackoffMs() + ")");
        }
    }

    /** Every key this config declares, with type, default and doc. */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    /** {@value #SOCKET_GREETING_CONFIG} (undeclared here, see there); empty lets the caller speak first. */
    public String socketGreeting() {
        Object value = originals().get(SOCKET_GREETING_CONFIG);
        return value == null ? DEFAULT_GREETING : value.toString();
    }

    public int supersededCloseCode() {
        return getInt(SUPERSEDED_CLOSE_CODE_CONFIG);
    }

    public int watchdogThreads() {
        return getInt(WATCHDOG_THREADS_CONFIG);
    }

    public long detachedRetentionMs() {
        return getLong(DETACHED_RETENTION_MS_CONFIG);
    }

    public boolean dialOutEnabled() {
        return getBoolean(DIALOUT_ENABLED_CONFIG);
    }

    public String dialOutUrlTemplate() {
        return getString(DIALOUT_URL_TEMPLATE_CONFIG);
    }

    public int dialOutMaxAttempts() {
        return getInt(DIALOUT_MAX_ATTEMPTS_CONFIG);
    }

    public long dialOutInitialBackoffMs() {
        return getLong(DIALOUT_INITIAL_BACKOFF_MS_CONFIG);
    }

    public double dialOutBackoffMultiplier() {
        return getDouble(DIALOUT_BACKOFF_MULTIPLIER_CONFIG);
    }

    public double dialOutRandomizationFactor() {
        return getDouble(DIALOUT_RANDOMIZATION_FACTOR_CONFIG);
    }

    public long dialOutMaxBackoffMs() {
        return getLong(DIALOUT_MAX_BACKOFF_MS_CONFIG);
    }

    public long dialOutConnectTimeoutMs() {
        return getLong(DIALOUT_CONNECT_TIMEOUT_MS_CONFIG);
    }

    /** Checks the template; the value is redacted in the error, since it carries the agent side's secret. */
    private static void checkUrlTemplate(String template) {
        if (!template.contains(CALL_ID_PLACEHOLDER)) {
            throw new ConfigException(DIALOUT_URL_TEMPLATE_CONFIG, SecretText.redact(template),
                    "must contain " + CALL_ID_PLACEHOLDER + " when " + DIALOUT_ENABLED_CONFIG + " is true");
        }
        try {
            URI uri = new URI(template.replace(CALL_ID_PLACEHOLDER, "call"));
            if (!"ws".equals(uri.getScheme()) && !"wss".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new ConfigException(DIALOUT_URL_TEMPLATE_CONFIG, SecretText.redact(template),
                        "must be a ws:// or wss:// URL");
            }
        } catch (URISyntaxException e) {
            throw new ConfigException(DIALOUT_URL_TEMPLATE_CONFIG, SecretText.redact(template),
                    "not a URL: " + SecretText.redact(e.getMessage()));
        }
    }
}
