package io.callguard.processor;

import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.processor.internal.DeadLetterProcessingExceptionHandler;
import io.callguard.processor.internal.HandlerSettings;
import io.callguard.processor.internal.SkipUnwritableOutputHandler;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TaskMetadata;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.LogAndFailExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the call topology in Kafka Streams: {@link #start()} / {@link #close()} ({@link Role}), state of the streams
 * client, and read-only queries of the local stores. Source topics must exist before {@link #start()}.
 * Ready ({@link #health()}) only when the streams client is exactly RUNNING: in Kafka 4 a client restoring its
 * stores from their changelogs reports REBALANCING until every active task is restored, so a restoring instance
 * is not ready. FAILED when every stream thread died (ERROR or PENDING_ERROR): only a restart helps then.
 */
public final class ProcessorRole implements Role {

    /** How long {@link #stop()} waits for the streams client to close. */
    public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    /** How long the streams producer waits to fill a batch: short, since its output is on the call path. */
    static final int LINGER_MS = 5;
    static final int FETCH_MIN_BYTES = 16 * 1024;
    static final int RETRY_BACKOFF_MS = 20;
    static final int FETCH_MAX_WAIT_MS = 20;

    private static final Logger LOG = LoggerFactory.getLogger(ProcessorRole.class);

    private final RoleLifecycle lifecycle = new RoleLifecycle("processor");
    private final ProcessorConfig config;
    private final Topics topics;
    private final MeterRegistry meters;
    private final Properties properties;
    private KafkaStreams streams;
    private KafkaStreamsMetrics streamsMetrics;
    private final Supplier<String> applicationServer;

    /**
     * Prepares the role; nothing connects before {@link #start()}.
     *
     * @param config           processor settings
     * @param clients          the Kafka client factory of the cluster
     * @param topics           the topics to read and write
     * @param stateDir         where the state stores live; null: {@code processor.state-dir}, and when that is
     *                         empty too, Kafka Streams' default
     * @param meters           where processor and Kafka Streams metrics go
     */
    public ProcessorRole(ProcessorConfig config, KafkaClients clients, Topics topics, Path stateDir,
                         MeterRegistry meters) {
        this(config, clients, topics, stateDir, meters, (Supplier<String>) null);
    }

    /**
     * Prepares the role, advertising where this instance answers interactive queries.
     *
     * @param applicationServer {@code host:port} of this instance's HTTP endpoint, so other instances can
     *                          forward a query for a call this one owns; null when queries stay local
     */
    public ProcessorRole(ProcessorConfig config, KafkaClients clients, Topics topics, Path stateDir,
                         MeterRegistry meters, String applicationServer) {
        this(config, clients, topics, stateDir, meters, applicationServer == null ? null : () -> applicationServer);
    }

    /**
     * Prepares the role, advertising an address known only at {@link #start()} (the HTTP port, once bound).
     *
     * @param applicationServer asked at start for {@code host:port} of this instance's HTTP endpoint; null, or a
     *                          null answer, when queries stay local
     */
    public ProcessorRole(ProcessorConfig config, KafkaClients clients, Topics topics, Path stateDir,
                         MeterRegistry meters, Supplier<String> applicationServer) {
        this.config = Objects.requireNonNull(config, "config");
        this.topics = Objects.requireNonNull(topics, "topics");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.properties = streamsProperties(config, Objects.requireNonNull(clients, "clients"), topics, stateDir,
                meters);
        this.applicationServer = applicationServer;
    }

    /**
     * Where a call's state lives: the {@code host:port} of the instance whose task owns the call's
     * partition, as advertised by its {@code application.server}. Empty when not known right now
     * (starting, rebalancing) or when instances advertise no address.
     */
    public Optional<String> ownerOf(String callId) {
        KafkaStreams current = streams().orElse(null);
        if (current == null || callId == null) {
            return Optional.empty();
        }
        try {
            KeyQueryMetadata where = current.queryMetadataForKey(CallTopologyNames.CALL_STATE_STORE, callId,
                    Serdes.String().serializer());
            if (where == null || KeyQueryMetadata.NOT_AVAILABLE.equals(where)) {
                return Optional.empty();
            }
            return Optional.of(where.activeHost().host() + ":" + where.activeHost().port());
        } catch (IllegalStateException e) {
            return Optional.empty();
        }
    }

    /** This instance's advertised {@code host:port}, or null when it advertises none. */
    public synchronized String advertisedServer() {
        Object server = properties.get(StreamsConfig.APPLICATION_SERVER_CONFIG);
        return server == null ? null : server.toString();
    }

    /** The {@code host:port} of every instance of the application that advertises one, this one included. */
    public List<String> instances() {
        KafkaStreams current = streams().orElse(null);
        if (current == null) {
            return List.of();
        }
        try {
            return current.metadataForAllStreamsClients().stream()
                    .map(m -> m.hostInfo().host() + ":" + m.hostInfo().port())
                    .filter(h -> !h.startsWith("unavailable")).distinct().sorted().toList();
        } catch (IllegalStateException e) {
            return List.of();
        }
    }

    /** The Kafka Streams properties the role runs with (tests drive the topology with the same ones). */
    public static Properties streamsProperties(ProcessorConfig config, KafkaClients clients, Topics topics,
                                               Path stateDir, MeterRegistry meters) {
        Properties p = clients.streams();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        if (stateDir != null) {
            p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
        } else if (!config.stateDir().isEmpty()) {
            p.put(StreamsConfig.STATE_DIR_CONFIG, config.stateDir());
        }
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, config.processingGuarantee());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, config.commitIntervalMs());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, config.numStreamThreads());
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, config.numStandbyReplicas());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), config.sessionTimeoutMs());
        // Kafka's advice: heartbeat at most a third of the session timeout, so one lost heartbeat is not fatal.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG),
                Math.min(3_000, config.sessionTimeoutMs() / 3));
        // The turn path does not wait for Kafka Streams (the responder reads call-events itself), so its main
        // consumer may gather records for a moment instead of fetching once per record: at hundreds of turns a
        // second that was a fetch (and a trip round the Streams loop) per turn. Adds at most
        // FETCH_MAX_WAIT_MS to call-state updates when traffic is light.
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.FETCH_MIN_BYTES_CONFIG), FETCH_MIN_BYTES);
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), FETCH_MAX_WAIT_MS);
        // A call's state and archive must survive a broker failover and never be written twice by a retry.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), true);
        // Kafka Streams lingers 100 ms by default, which at_least_once adds to every state change
        // (measured: p50 107 ms instead of ~10 ms, README "Processing guarantee"); under
        // exactly_once_v2 the commit flushes anyway.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), LINGER_MS);
        // A dead letter of the largest call event carries it in base64; the changelogs Streams creates take records
        // as large as callguard's own topics do (the broker's 1 MB default would refuse a state with big metadata).
        clients.producerRecordSize().forEach((key, value) -> p.put(StreamsConfig.producerPrefix(key), value));
        p.put(StreamsConfig.topicPrefix(TopicConfig.MAX_MESSAGE_BYTES_CONFIG), String.valueOf(clients.maxRecordBytes()));
        // A transaction's first batch to a partition is refused with CONCURRENT_TRANSACTIONS while the broker still
        // writes the previous commit's markers, which a cold or loaded broker does slowly (a fresh gateway under
        // load: 439 such retries in its first 20 s). Each waited the producer's 100 ms default backoff, with the
        // call's admission in that batch and its first turn waiting for the admission. Retry sooner; the backoff
        // still grows (to retry.backoff.max.ms, 1 s) when the broker is really away.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.RETRY_BACKOFF_MS_CONFIG), RETRY_BACKOFF_MS);
        // Output Kafka refuses: retry what is retriable, skip what can never be written, fail on the rest
        // (see the class for why).
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, SkipUnwritableOutputHandler.class);
        // A processor that throws: dead-letter the record and continue, so one record cannot stall a partition.
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProcessingExceptionHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        // The source reads raw bytes and parses inside the processor, so deserialization cannot fail here;
        // if it ever does, something is wrong with the topology itself: fail loudly.
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndFailExceptionHandler.class);
        p.put(HandlerSettings.METER_REGISTRY, meters);
        p.put(HandlerSettings.DEAD_LETTER_TOPIC, topics.deadLetters().name());
        return p;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /**
     * Starts the streams client and returns; it reaches RUNNING after joining the group and restoring state.
     *
     * @throws IllegalStateException when already started or closed
     */
    @Override
    public synchronized void start() {
        lifecycle.starting();
        String server = applicationServer == null ? null : applicationServer.get();
        if (server != null) {
            properties.put(StreamsConfig.APPLICATION_SERVER_CONFIG, server);
        }
        KafkaStreams created = new KafkaStreams(CallTopology.build(topics, config, meters), properties);
        created.setUncaughtExceptionHandler(exception -> {
            if (exception instanceof Error) {
                // OutOfMemoryError and friends leave the JVM in an unknown state: stop this client, do not loop.
                LOG.error("stream thread died with an Error; shutting the processor down", exception);
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            }
            // Anything else (a broker outage that outlasted the producer's retries, a commit failure) is most
            // likely transient: a fresh thread resumes from the last commit with its local stores, and the
            // rest of the process (ingress, egress) keeps serving meanwhile.
            LOG.error("stream thread failed; replacing it", exception);
            meters.counter(ProcessorMetrics.STREAM_THREADS_REPLACED).increment();
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        streamsMetrics = new KafkaStreamsMetrics(created);
        streamsMetrics.bindTo(meters);
        streams = created;
        try {
            created.start();
        } catch (RuntimeException e) {
            lifecycle.failed();
            throw e;
        }
        lifecycle.transitionTo(RoleState.RUNNING);
    }

    @Override
    public RoleHealth health() {
        KafkaStreams.State streamsState = streamsState();
        if (streamsState == KafkaStreams.State.ERROR || streamsState == KafkaStreams.State.PENDING_ERROR) {
            lifecycle.failed();
        }
        RoleState state = lifecycle.state();
        boolean ready = state == RoleState.RUNNING && streamsState == KafkaStreams.State.RUNNING;
        String why = ready ? ""
                : state == RoleState.FAILED ? " (every stream thread died)"
                : streamsState == KafkaStreams.State.REBALANCING ? " (rebalancing or restoring state stores)"
                : " (not RUNNING)";
        return new RoleHealth(name(), state, ready, "state " + streamsState + why);
    }

    /**
     * Closes the streams client, leaving the consumer group so the next start does not wait out the
     * session timeout; waits at most {@link #CLOSE_TIMEOUT}. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (!lifecycle.stopping()) {
            return;
        }
        if (streams == null) {
            lifecycle.transitionTo(RoleState.STOPPED);
            return;
        }
        boolean closed = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(CLOSE_TIMEOUT));
        if (!closed) {
            LOG.warn("Kafka Streams did not close within {}", CLOSE_TIMEOUT);
        }
        streamsMetrics.close();
        streams = null;
        lifecycle.transitionTo(RoleState.STOPPED);
    }

    /** Same as {@link #close()}. */
    public void stop() {
        close();
    }

    /** State of the streams client; {@code NOT_RUNNING} before start and after stop. */
    public synchronized KafkaStreams.State streamsState() {
        return streams == null ? KafkaStreams.State.NOT_RUNNING : streams.state();
    }

    /** True when every stream thread died (ERROR or PENDING_ERROR): only a restart helps then. */
    public boolean hasFailed() {
        KafkaStreams.State state = streamsState();
        return state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR;
    }

    /** True when the streams client is RUNNING (or REBALANCING, which still processes). */
    public boolean isRunning() {
        return streamsState().isRunningOrRebalancing();
    }

    /** The running streams client, for interactive queries; empty before start and after stop. */
    public synchronized Optional<KafkaStreams> streams() {
        return Optional.ofNullable(streams);
    }

    /**
     * A call's state from this instance's stores. Empty when the call is unknown, owned by another
     * instance, or the store is not queryable right now (starting, rebalancing).
     */
    public Optional<CallState> callState(String callId) {
        KafkaStreams current = streams().orElse(null);
        if (current == null || callId == null) {
            return Optional.empty();
        }
        try {
            StoreQueryParameters<ReadOnlyKeyValueStore<String, CallState>> query = StoreQueryParameters.fromNameAndType(
                    CallTopologyNames.CALL_STATE_STORE, QueryableStoreTypes.<String, CallState>keyValueStore());
            KeyQueryMetadata where = current.queryMetadataForKey(CallTopologyNames.CALL_STATE_STORE, callId,
                    Serdes.String().serializer());
            if (where != null && !KeyQueryMetadata.NOT_AVAILABLE.equals(where) && where.partition() >= 0) {
                query = query.withPartition(where.partition());
            }
            return Optional.ofNullable(current.store(query).get(callId));
        } catch (InvalidStateStoreException | IllegalStateException e) {
            // Starting, rebalancing, stopping or failed: a query answers "not here" rather than throwing.
            return Optional.empty();
        }
    }

    /**
     * Capacity of the partitions this instance owns, from their local stores. Partitions whose store is not
     * queryable right now (restoring, migrating) are left out.
     */
    public CapacityView localCapacity() {
        KafkaStreams current = streams().orElse(null);
        if (current == null) {
            return new CapacityView(List.of());
        }
        int slots = config.maxActiveCallsPerPartition();
        List<PartitionCapacity> partitions = new ArrayList<>();
        try {
            for (ThreadMetadata thread : current.metadataForLocalThreads()) {
                for (TaskMetadata task : thread.activeTasks()) {
                    int partition = task.taskId().partition();
                    localCounters(current, partition).ifPresent(counters -> partitions.add(new PartitionCapacity(
                            partition, count(counters, CallTopologyNames.ACTIVE_COUNTER),
                            count(counters, CallTopologyNames.QUEUED_COUNTER), slots, config.queueSize())));
                }
            }
        } catch (IllegalStateException e) {
            return new CapacityView(List.of());
        }
        partitions.sort(Comparator.comparingInt(PartitionCapacity::partition));
        return new CapacityView(partitions);
    }

    private static Optional<ReadOnlyKeyValueStore<String, Long>> localCounters(KafkaStreams streams, int partition) {
        try {
            return Optional.of(streams.store(StoreQueryParameters.fromNameAndType(CallTopologyNames.CAPACITY_COUNTERS_STORE,
                    QueryableStoreTypes.<String, Long>keyValueStore()).withPartition(partition)));
        } catch (InvalidStateStoreException e) {
            return Optional.empty();
        }
    }

    private static long count(ReadOnlyKeyValueStore<String, Long> counters, String key) {
        try {
            Long value = counters.get(key);
            return value == null ? 0 : value;
        } catch (InvalidStateStoreException e) {
            return 0;
        }
    }
}
