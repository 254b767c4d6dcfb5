package io.callguard.app.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/** Settings of the launcher itself: where data lives, which roles run, the embedded broker. */
public final class AppConfig extends AbstractConfig {

    public static final String ROLE_INGRESS = "ingress";
    public static final String ROLE_PROCESSOR = "processor";
    public static final String ROLE_EGRESS = "egress";
    public static final List<String> ALL_ROLES = List.of(ROLE_INGRESS, ROLE_PROCESSOR, ROLE_EGRESS);

    public static final String DATA_DIR_CONFIG = "data.dir";
    private static final String DATA_DIR_DOC = "Directory for the embedded broker's log and the processor's "
            + "state stores. Created if missing; a second run on the same directory finds its data again.";

    public static final String ROLES_CONFIG = "roles";
    private static final String ROLES_DOC = "Roles this instance runs: any of ingress, processor, egress "
            + "(e.g. ingress,egress on edge nodes and processor elsewhere).";

    public static final String BROKER_PORT_CONFIG = "broker.port";
    private static final String BROKER_PORT_DOC = "Client port of the embedded broker on 127.0.0.1, used only "
            + "when bootstrap.servers is empty; 0 picks a free port.";

    public static final String SHUTDOWN_TIMEOUT_MS_CONFIG = "shutdown.timeout-ms";
    private static final String SHUTDOWN_TIMEOUT_MS_DOC = "Upper bound on a clean stop (SIGTERM): the drain "
            + "(shutdown.drain-timeout-ms), then every role and the embedded broker; past it the process exits anyway. "
            + "Keep it under the orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds, 30 s by "
            + "default).";

    public static final String SHUTDOWN_DRAIN_TIMEOUT_MS_CONFIG = "shutdown.drain-timeout-ms";
    private static final String SHUTDOWN_DRAIN_TIMEOUT_MS_DOC = "On SIGTERM, before anything stops: at once "
            + "not ready (/readyz 503, check draining) and every new LLM WebSocket refused with 503; each open socket "
            + "is dropped without a close frame as soon as its turn is answered (Retell sees 1006 and reconnects, "
            + "through the load balancer, to another instance); then the responder hands its partitions over and "
            + "finishes the turns it is generating. This bounds the whole drain; a socket still mid-turn then is "
            + "dropped anyway. Webhooks are still taken meanwhile. 0: no waiting. Must be less than "
            + "shutdown.timeout-ms.";

    public static final String LOG_FORMAT_CONFIG = "log.format";
    private static final String LOG_FORMAT_DOC = "Log line format on stderr: text or json (one JSON object per line).";

    public static final String ADVERTISED_HOST_CONFIG = "http.advertised-host";
    private static final String ADVERTISED_HOST_DOC = "Host name other instances use to reach this one's admin "
            + "listener (queries of call state and capacity are forwarded to the instance that owns the partition, "
            + "at this host and admin.port). Empty: admin.host, or this machine's host name when admin.host is a "
            + "wildcard address. With several instances on several machines, admin.host must then be an address "
            + "the others reach, not 127.0.0.1.";

    public static final String WARMUP_ENABLED_CONFIG = "warmup.enabled";
    private static final String WARMUP_ENABLED_DOC = "Warm the JVM up before reporting ready: the whole pipeline "
            + "(webhooks, sockets, Kafka Streams, the responder's backend code, egress) runs synthetic calls on private "
            + "topics (__callguard-warmup.<node.id>.*, deleted afterwards) against a loopback LLM, never the real "
            + "backend or the public topics, until the JIT has compiled the hot paths. A failed warm-up is logged and "
            + "the gateway starts cold.";

    public static final String WARMUP_TURNS_CONFIG = "warmup.turns";
    private static final String WARMUP_TURNS_DOC = "Turns the warm-up plays before it stops (or warmup.timeout-ms).";

    public static final String WARMUP_CALLS_CONFIG = "warmup.calls";
    private static final String WARMUP_CALLS_DOC = "Calls the warm-up plays at once, each turn asked as soon as the "
            + "previous one completed.";

    public static final String WARMUP_TIMEOUT_MS_CONFIG = "warmup.timeout-ms";
    private static final String WARMUP_TIMEOUT_MS_DOC = "Upper bound on the warm-up, counted from its start: its "
            + "pipeline must be ready and its turns played by then (a step under way, such as a Kafka client's own "
            + "bounded wait, finishes first); then it stops where it is, cleans up and the gateway becomes ready.";

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(DATA_DIR_CONFIG, Type.STRING, "./data", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    DATA_DIR_DOC)
            .define(ROLES_CONFIG, Type.LIST, String.join(",", ALL_ROLES),
                    ConfigDef.ValidList.in(false, ALL_ROLES.toArray(String[]::new)), Importance.HIGH, ROLES_DOC)
            .define(BROKER_PORT_CONFIG, Type.INT, 9092, Range.between(0, 65_535), Importance.MEDIUM,
                    BROKER_PORT_DOC)
            .define(SHUTDOWN_TIMEOUT_MS_CONFIG, Type.LONG, 15_000L, Range.between(100, 120_000), Importance.LOW,
                    SHUTDOWN_TIMEOUT_MS_DOC)
            .define(SHUTDOWN_DRAIN_TIMEOUT_MS_CONFIG, Type.LONG, 5_000L, Range.between(0, 110_000), Importance.MEDIUM,
                    SHUTDOWN_DRAIN_TIMEOUT_MS_DOC)
            .define(ADVERTISED_HOST_CONFIG, Type.STRING, "", Importance.LOW, ADVERTISED_HOST_DOC)
            .define(LOG_FORMAT_CONFIG, Type.STRING, "text", ConfigDef.ValidString.in("text", "json"),
                    Importance.LOW, LOG_FORMAT_DOC)
            .define(WARMUP_ENABLED_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, WARMUP_ENABLED_DOC)
            .define(WARMUP_TURNS_CONFIG, Type.INT, 6000, Range.between(1, 1_000_000), Importance.LOW,
                    WARMUP_TURNS_DOC)
            .define(WARMUP_CALLS_CONFIG, Type.INT, 32, Range.between(1, 1000), Importance.LOW, WARMUP_CALLS_DOC)
            .define(WARMUP_TIMEOUT_MS_CONFIG, Type.LONG, 90_000L, Range.between(1, 600_000), Importance.LOW,
                    WARMUP_TIMEOUT_MS_DOC);

    /** @throws ConfigException for a bad value, or a drain timeout not under the shutdown timeout */
    public AppConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
        if (shutdownDrainTimeoutMs() >= shutdownTimeoutMs()) {
            throw new ConfigException(SHUTDOWN_DRAIN_TIMEOUT_MS_CONFIG, shutdownDrainTimeoutMs(),
                    "must be less than " + SHUTDOWN_TIMEOUT_MS_CONFIG + " (" + shutdownTimeoutMs() + ")");
        }
    }

    /** Every key this config declares, with type, default and doc. */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public Path dataDir() {
        return Path.of(getString(DATA_DIR_CONFIG)).toAbsolutePath().normalize();
    }

    public Set<String> roles() {
        return Set.copyOf(getList(ROLES_CONFIG));
    }

    public boolean runs(String role) {
        return roles().contains(role);
    }

    public int brokerPort() {
        return getInt(BROKER_PORT_CONFIG);
    }

    public long shutdownTimeoutMs() {
        return getLong(SHUTDOWN_TIMEOUT_MS_CONFIG);
    }

    /** How long a stop may spend handing calls over before the roles close ({@code shutdown.drain-timeout-ms}). */
    public long shutdownDrainTimeoutMs() {
        return getLong(SHUTDOWN_DRAIN_TIMEOUT_MS_CONFIG);
    }

    public String advertisedHost() {
        return getString(ADVERTISED_HOST_CONFIG);
    }

    public String logFormat() {
        return getString(LOG_FORMAT_CONFIG);
    }

    public boolean warmupEnabled() {
        return getBoolean(WARMUP_ENABLED_CONFIG);
    }

    public int warmupTurns() {
        return getInt(WARMUP_TURNS_CONFIG);
    }

    public int warmupCalls() {
        return getInt(WARMUP_CALLS_CONFIG);
    }

    public long warmupTimeoutMs() {
        return getLong(WARMUP_TIMEOUT_MS_CONFIG);
    }
}
