package io.callguard.processor;

import io.callguard.common.CommonConfig;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.NonEmptyString;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigDef.ValidString;

/**
 * Settings of the processor role: Kafka Streams runtime, dedupe, capacity and call lifecycle.
 * Each key is declared once here with its type, default, validator and doc; callers read typed values.
 * {@code topics.partitions} is declared by {@link CommonConfig} and read from the same properties.
 */
public final class ProcessorConfig extends AbstractConfig {

    public static final String AT_LEAST_ONCE = "at_least_once";
    public static final String EXACTLY_ONCE_V2 = "exactly_once_v2";

    public static final String APPLICATION_ID_CONFIG = "processor.application-id";
    private static final String APPLICATION_ID_DOC = "Kafka Streams application.id: the consumer group and the "
            + "prefix of internal topics (changelogs). Instances sharing it share the work.";

    public static final String STATE_DIR_CONFIG = "processor.state-dir";
    private static final String STATE_DIR_DOC = "Directory of the RocksDB state stores. Empty: the app decides "
            + "(a folder under its data dir).";

    public static final String PROCESSING_GUARANTEE_CONFIG = "processor.processing-guarantee";
    private static final String PROCESSING_GUARANTEE_DOC = "exactly_once_v2 (default): state changes, dedupe "
            + "keys, outputs and input offsets commit in one transaction, so after a crash every event is applied "
            + "once and every duplicate counted once; output becomes visible to read_committed consumers at commit "
            + "(processor.commit-interval-ms). at_least_once: no transactions, but a crash can re-apply or wrongly "
            + "drop the events processed since the last commit (README, Processing guarantee).";

    public static final String COMMIT_INTERVAL_MS_CONFIG = "processor.commit-interval-ms";
    private static final String COMMIT_INTERVAL_MS_DOC = "How often offsets and stores are committed, in ms.";

    public static final String NUM_STREAM_THREADS_CONFIG = "processor.num-stream-threads";
    private static final String NUM_STREAM_THREADS_DOC = "Stream threads of this instance.";

    public static final String NUM_STANDBY_REPLICAS_CONFIG = "processor.num-standby-replicas";
    private static final String NUM_STANDBY_REPLICAS_DOC = "Standby copies of each state store kept on other "
            + "instances, for quick failover.";

    public static final String SESSION_TIMEOUT_MS_CONFIG = "processor.session-timeout-ms";
    private static final String SESSION_TIMEOUT_MS_DOC = "How long the group waits for a processor instance that "
            + "stopped heartbeating (killed, partitioned away) before its partitions move to the others; the broker "
            + "bounds it by group.min.session.timeout.ms (6000 by default). Until then the calls on its partitions "
            + "are not admitted or updated. A clean stop leaves the group at once.";

    public static final String DEDUPE_TTL_MS_CONFIG = "dedupe.ttl-ms";
    private static final String DEDUPE_TTL_MS_DOC = "How long an idempotency key is remembered, in ms of processor "
            + "wall-clock time; a redelivery after that is applied again. Also how long a removed call stays closed.";

    public static final String DEDUPE_PURGE_INTERVAL_MS_CONFIG = "dedupe.purge-interval-ms";
    private static final String DEDUPE_PURGE_INTERVAL_MS_DOC = "How often expired idempotency keys are purged, "
            + "in ms of wall-clock time. An expired key is ignored at once even before it is purged.";

    public static final String CAPACITY_MAX_ACTIVE_CALLS_CONFIG = "capacity.max-active-calls";
    private static final String CAPACITY_MAX_ACTIVE_CALLS_DOC = "Active calls the agent backend can carry, in "
            + "total. Split across partitions: see capacity.max-active-calls-per-partition.";

    public static final String CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG = "capacity.max-active-calls-per-partition";
    private static final String CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_DOC = "Active calls one partition (stream "
            + "task) admits. 0 (default): derived as ceil(capacity.max-active-calls / topics.partitions), at least 1; "
            + "rounding up means the whole deployment may carry slightly more than capacity.max-active-calls.";

    public static final String CAPACITY_QUEUE_SIZE_CONFIG = "capacity.queue-size";
    private static final String CAPACITY_QUEUE_SIZE_DOC = "Calls one partition keeps waiting for a slot (FIFO); "
            + "a call arriving at a full queue is rejected with the busy message (queue_full).";

    public static final String CAPACITY_QUEUE_TIMEOUT_MS_CONFIG = "capacity.queue-timeout-ms";
    private static final String CAPACITY_QUEUE_TIMEOUT_MS_DOC = "How long a call may wait in the queue before it is "
            + "rejected with the busy message (queue_timeout), in ms. Checked every call.expiry-scan-interval-ms.";

    public static final String CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG = "capacity.socket-lost-grace-ms";
    private static final String CAPACITY_SOCKET_LOST_GRACE_MS_DOC = "How long a live call (active or queued) keeps "
            + "its slot or queue place after its current socket closed with no new socket opened, in ms of processor "
            + "wall-clock time. A socket opened in time (Retell's reconnect) keeps it; past it, with no call_ended, the "
            + "slot or place is released and the call archived as socket_lost (status expired). Checked every "
            + "call.expiry-scan-interval-ms. Keep it above Retell's reconnect window (two reopens, seconds apart).";

    public static final String CAPACITY_BUSY_MESSAGE_CONFIG = "capacity.busy-message";
    private static final String CAPACITY_BUSY_MESSAGE_DOC = "What a refused caller hears before the call ends.";
    public static final String DEFAULT_BUSY_MESSAGE = "Sorry, all of our agents are busy right now. "
            + "Please call again in a few minutes. Goodbye.";

    public static final String CALL_TTL_MS_CONFIG = "call.ttl-ms";
    private static final String CALL_TTL_MS_DOC = "A live call with no applied event for this long (processor "
            + "wall-clock ms) is expired: archived as expired and its slot released.";

    public static final String CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG = "call.expiry-scan-interval-ms";
    private static final String CALL_EXPIRY_SCAN_INTERVAL_MS_DOC = "How often the call timers (TTL, queue timeout, "
            + "socket-lost grace, archive grace, closed-call markers) are checked, in ms of wall-clock time.";

    public static final String CALL_STATE_COUNTERS_INTERVAL_MS_CONFIG = "call.state-counters-interval-ms";
    private static final String CALL_STATE_COUNTERS_INTERVAL_MS_DOC = "How often a live call's counter-only changes "
            + "(turn count, latest response id, transcript length, events applied, event times) are published to "
            + "call-state, in ms of wall-clock time. Every other change (status, admission, socket, call details, the "
            + "call's first turn) and the final state are published at once, carrying the counters with them; the "
            + "state store (GET /calls/{call_id}) and the archive are always exact. 0: every change at once, one "
            + "call-state record per event (what a turn cost before: a record written, then read by the responder "
            + "and every node's view).";

    public static final String CALL_ARCHIVE_GRACE_MS_CONFIG = "call.archive-grace-ms";
    private static final String CALL_ARCHIVE_GRACE_MS_DOC = "How long an archived call's state is kept so late "
            + "events (call_analyzed) still update it; then it is deleted and a tombstone is written to call-state.";

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(APPLICATION_ID_CONFIG, Type.STRING, "callguard", new NonEmptyString(), Importance.HIGH,
                    APPLICATION_ID_DOC)
            .define(STATE_DIR_CONFIG, Type.STRING, "", Importance.MEDIUM, STATE_DIR_DOC)
            .define(PROCESSING_GUARANTEE_CONFIG, Type.STRING, EXACTLY_ONCE_V2, ValidString.in(AT_LEAST_ONCE, EXACTLY_ONCE_V2),
                    Importance.MEDIUM, PROCESSING_GUARANTEE_DOC)
            .define(COMMIT_INTERVAL_MS_CONFIG, Type.LONG, 100L, Range.atLeast(0), Importance.LOW,
                    COMMIT_INTERVAL_MS_DOC)
            .define(NUM_STREAM_THREADS_CONFIG, Type.INT, 1, Range.between(1, 256), Importance.MEDIUM,
                    NUM_STREAM_THREADS_DOC)
            .define(NUM_STANDBY_REPLICAS_CONFIG, Type.INT, 0, Range.between(0, 16), Importance.MEDIUM,
                    NUM_STANDBY_REPLICAS_DOC)
            .define(SESSION_TIMEOUT_MS_CONFIG, Type.INT, 6_000, Range.between(1_000, 1_800_000), Importance.MEDIUM,
                    SESSION_TIMEOUT_MS_DOC)
            .define(DEDUPE_TTL_MS_CONFIG, Type.LONG, 86_400_000L, Range.atLeast(1), Importance.MEDIUM,
                    DEDUPE_TTL_MS_DOC)
            .define(DEDUPE_PURGE_INTERVAL_MS_CONFIG, Type.LONG, 60_000L, Range.atLeast(1), Importance.LOW,
                    DEDUPE_PURGE_INTERVAL_MS_DOC)
            .define(CAPACITY_MAX_ACTIVE_CALLS_CONFIG, Type.INT, 10, Range.atLeast(1), Importance.HIGH,
                    CAPACITY_MAX_ACTIVE_CALLS_DOC)
            .define(CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, Type.INT, 0, Range.atLeast(0), Importance.MEDIUM,
                    CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_DOC)
            .define(CAPACITY_QUEUE_SIZE_CONFIG, Type.INT, 20, Range.atLeast(0), Importance.MEDIUM,
                    CAPACITY_QUEUE_SIZE_DOC)
            .define(CAPACITY_QUEUE_TIMEOUT_MS_CONFIG, Type.LONG, 30_000L, Range.atLeast(1), Importance.MEDIUM,
                    CAPACITY_QUEUE_TIMEOUT_MS_DOC)
            .define(CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG, Type.LONG, 60_000L, Range.atLeast(1), Importance.MEDIUM,
                    CAPACITY_SOCKET_LOST_GRACE_MS_DOC)
            .define(CAPACITY_BUSY_MESSAGE_CONFIG, Type.STRING, DEFAULT_BUSY_MESSAGE, Importance.LOW,
                    CAPACITY_BUSY_MESSAGE_DOC)
            .define(CALL_TTL_MS_CONFIG, Type.LONG, 3_600_000L, Range.atLeast(1), Importance.MEDIUM, CALL_TTL_MS_DOC)
            .define(CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, Type.LONG, 10_000L, Range.atLeast(1), Importance.LOW,
                    CALL_EXPIRY_SCAN_INTERVAL_MS_DOC)
            .define(CALL_STATE_COUNTERS_INTERVAL_MS_CONFIG, Type.LONG, 5_000L, Range.atLeast(0), Importance.LOW,
                    CALL_STATE_COUNTERS_INTERVAL_MS_DOC)
            .define(CALL_ARCHIVE_GRACE_MS_CONFIG, Type.LONG, 600_000L, Range.atLeast(0), Importance.LOW,
                    CALL_ARCHIVE_GRACE_MS_DOC);

    /**
     * Parses and validates processor settings.
     *
     * @param values the role's properties; unknown keys are ignored
     * @throws org.apache.kafka.common.config.ConfigException naming the key, when a value is invalid
     */
    public ProcessorConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
    }

    /** Every key this config declares, with type, default and doc (a copy). */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public String applicationId() {
        return getString(APPLICATION_ID_CONFIG);
    }

    public String stateDir() {
        return getString(STATE_DIR_CONFIG);
    }

    public String processingGuarantee() {
        return getString(PROCESSING_GUARANTEE_CONFIG);
    }

    public long commitIntervalMs() {
        return getLong(COMMIT_INTERVAL_MS_CONFIG);
    }

    public int numStreamThreads() {
        return getInt(NUM_STREAM_THREADS_CONFIG);
    }

    public int numStandbyReplicas() {
        return getInt(NUM_STANDBY_REPLICAS_CONFIG);
    }

    public int sessionTimeoutMs() {
        return getInt(SESSION_TIMEOUT_MS_CONFIG);
    }

    public long dedupeTtlMs() {
        return getLong(DEDUPE_TTL_MS_CONFIG);
    }

    public long dedupePurgeIntervalMs() {
        return getLong(DEDUPE_PURGE_INTERVAL_MS_CONFIG);
    }

    public int maxActiveCalls() {
        return getInt(CAPACITY_MAX_ACTIVE_CALLS_CONFIG);
    }

    /**
     * Active calls one partition admits: the explicit per-partition value when set, else
     * ceil(capacity.max-active-calls / partitions), at least 1.
     *
     * @param partitions partitions of the call-events topic, at least 1
     * @throws IllegalArgumentException when partitions is less than 1
     */
    public int maxActiveCallsPerPartition(int partitions) {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be >= 1, was " + partitions);
        }
        int explicit = getInt(CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG);
        if (explicit > 0) {
            return explicit;
        }
        return Math.max(1, (maxActiveCalls() + partitions - 1) / partitions);
    }

    /** Active calls one partition admits, with the partition count read from {@code topics.partitions}. */
    public int maxActiveCallsPerPartition() {
        return maxActiveCallsPerPartition(new CommonConfig(originals()).partitions());
    }

    public int queueSize() {
        return getInt(CAPACITY_QUEUE_SIZE_CONFIG);
    }

    public long queueTimeoutMs() {
        return getLong(CAPACITY_QUEUE_TIMEOUT_MS_CONFIG);
    }

    public long socketLostGraceMs() {
        return getLong(CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG);
    }

    public String busyMessage() {
        return getString(CAPACITY_BUSY_MESSAGE_CONFIG);
    }

    public long callTtlMs() {
        return getLong(CALL_TTL_MS_CONFIG);
    }

    public long expiryScanIntervalMs() {
        return getLong(CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG);
    }

    public long archiveGraceMs() {
        return getLong(CALL_ARCHIVE_GRACE_MS_CONFIG);
    }

    public long stateCountersIntervalMs() {
        return getLong(CALL_STATE_COUNTERS_INTERVAL_MS_CONFIG);
    }
}
