package io.callguard.processor.responder;

import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.processor.responder.internal.ResponseCacheTopic;
import io.callguard.processor.responder.internal.TurnResponder;
import io.callguard.processor.responder.upstream.RetellSocketBackend;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.GroupProtocol;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The responder as a process role: reads turn requests from the call-events topic with its own consumer
 * (outside Kafka Streams threads), answers them through {@link TurnResponder}, and writes every answer
 * record to the responses topic keyed by call id.
 *
 * <p>Delivery is at least once, and offsets are committed once a poll's records were handed to the
 * responder, not once their answers were written: a turn lives under a second, far less than a restart,
 * so a turn lost in a crash is answered by the edge's watchdog (DESIGN.md decision 4), and a record
 * redelivered after a restart is past its deadline and gets an immediate timeout fallback, which the
 * egress drops as a duplicate or stale answer (one {@code content_complete} per turn). A new consumer
 * group starts at the end of the topic: old turns are not worth answering.
 *
 * <p>Admission: the same consumer (same group) reads the call-state topic too. Both topics have the same
 * partition count and the same keys (call ids), and the group uses the range assignor with the classic
 * protocol, so one member is given the same partitions of both: the state of every call whose events it reads.
 * On each assignment the assigned call-state partitions are read from the beginning (the topic is compacted),
 * the call-events partitions paused meanwhile: each call's context (status, agent id and version, dynamic
 * variables, latest response id) is rebuilt before any of its turns is read, so a restart or a rebalance never
 * sends a prompt with a literal {@code {{name}}}, nor loses which agent a call belongs to. Only each call's latest
 * state of the rebuild is applied, at its end, so no old decision is acted on again; calls ended or expired are
 * dropped; a rebuilt call whose call-state names its socket open is on the line (its hold repeats go on, its
 * admission or rejection is said). Live call-state records go to {@link TurnResponder#handleState}, before the
 * call-events records of the same poll. The calls of partitions revoked and not assigned back are forgotten
 * ({@link TurnResponder#forgetMoved}: their hold repeats stop, the new owner speaks to them), as are all calls when the
 * member leaves the group.
 *
 * <p>Threads: one poll thread, one timer thread (time limits, backoffs, the script backend's delays) and,
 * for the OpenAI backend, the HTTP client's callbacks. {@link #close()} stops them all.
 */
public final class ResponderRole implements Role {

    private static final Logger LOG = LoggerFactory.getLogger(ResponderRole.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CACHE_LOAD_TIMEOUT = Duration.ofSeconds(15);
    /** Heartbeats of the responder's group member: how soon it takes partitions another member left or gave up. */
    static final int HEARTBEAT_INTERVAL_MS = 500;
    /** How often a draining responder looks whether its last turns are answered. */
    private static final long DRAIN_CHECK_MS = 10;
    /** How long the broker parks an empty fetch; a record that arrives completes it at once (min bytes 1). */
    static final int FETCH_MAX_WAIT_MS = 100;
    static final int CACHE_WRITE_LINGER_MS = 100;
    /**
     * How often the poll loop commits what it handed off. Committing after every poll was an offset-commit
     * request (and a write to the offsets topic) per turn under load; a crash now redelivers up to this much
     * more, and a redelivered turn is past its deadline anyway (see the class comment).
     */
    static final long COMMIT_INTERVAL_MS = 500;
    /**
     * The longest the call-events partitions stay paused while the call-state partitions are read back; past it
     * the turns are read anyway (a call whose state is not back yet waits for it like one whose admission is in
     * flight).
     */
    static final Duration CONTEXT_LOAD_TIMEOUT = Duration.ofSeconds(15);

    private final RoleLifecycle lifecycle = new RoleLifecycle("responder");
    private final ResponderConfig config;
    private final CommonConfig common;
    private final Topics topics;
    private final MeterRegistry meters;
    private final Clock clock;
    private final Deserializer<CallEvent> eventDeserializer;
    private final Deserializer<CallState> stateDeserializer;
    /** Builds what this role runs on at start; the given clients and backend of tests, or those of the config. */
    private final Supplier<Parts> parts;
    /** The cluster of the response cache's changelog topic; null in unit tests. */
    private final KafkaClients cacheClients;
    private final List<KafkaClientMetrics> clientMetrics = new ArrayList<>();
    // Set by start(), read by the poll thread (started after) and close() (synchronized).
    private Consumer<String, byte[]> consumer;
    private Producer<String, AgentResponse> producer;
    private List<AutoCloseable> owned = List.of();
    private TurnResponder turns;
    private Thread pollThread;
    /** The response cache's changelog topic, when the role talks to a real cluster; null in unit tests. */
    private volatile CacheBacking cacheBacking;

    /** The clients behind the response cache's topic: loaded at start, written through on every store. */
    private record CacheBacking(ResponseCacheTopic topic, KafkaClients clients,
                                KafkaProducer<String, byte[]> producer) {
    }

    /** What the role runs on: its clients, backend and timer; {@code owned} is closed last, in order. */
    private record Parts(Consumer<String, byte[]> consumer, Producer<String, AgentResponse> producer,
                         AgentBackend backend, AgentBackend fallback, ScheduledExecutorService scheduler,
                         List<AutoCloseable> owned) {
    }

    private volatile boolean joinedGroup;
    /** The partitions assigned now, a copy the poll thread replaces at each rebalance. */
    private volatile Set<TopicPartition> assigned = Set.of();
    /** Poll-thread only. */
    private long lastCommitMs;
    private boolean handedOffSinceCommit;
    /** Poll-thread only: the call-state end offsets the rebuild reads up to; empty when not rebuilding. */
    private final Map<TopicPartition, Long> rebuildUntil = new HashMap<>();
    /** Poll-thread only: the latest state per call read by the rebuild so far, applied at its end. */
    private final Map<String, CallState> rebuilt = new LinkedHashMap<>();
    private final Set<TopicPartition> pausedForRebuild = new HashSet<>();
    /**
     * Poll-thread only: the partition number of each call read here (both topics are co-partitioned), the least
     * recently read dropped first, so the calls of a partition that moved away are forgotten.
     */
    private final LinkedHashMap<String, Integer> callPartitions = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
            return size() > TurnResponder.MAX_TRACKED_CALLS;
        }
    };
    /** Poll-thread only: partition numbers revoked and not (yet) assigned back; forgotten at the next assignment. */
    private final Set<Integer> revokedNumbers = new TreeSet<>();
    private long rebuildDeadlineMs;
    private volatile boolean running;

    /**
     * A responder with the backend chosen by {@code agent.backend}, its own timer thread and Kafka clients, all
     * built in {@link #start()}.
     *
     * @param clients the Kafka client factory of the cluster
     * @param clock   the time of budgets, the breaker and the cache
     */
    public ResponderRole(ResponderConfig config, CommonConfig common, KafkaClients clients, Topics topics,
            MeterRegistry meters, Clock clock) {
        this(config, common, topics, meters, clock, clients, () -> {
            Owned owned = new Owned(config, meters, clock);
            return new Parts(consumer(config, clients), producer(clients, topics), owned.backend, owned.fallback,
                    owned.scheduler, owned.closeables());
        });
    }

    /**
     * A responder with a given backend and timer, for tests and drills. Neither is closed by {@link #close()}; the
     * Kafka clients are built in {@link #start()}.
     *
     * @param scheduler runs time limits and retry backoffs; a single thread is enough
     */
    public ResponderRole(ResponderConfig config, CommonConfig common, KafkaClients clients, Topics topics,
            MeterRegistry meters, Clock clock, AgentBackend backend, ScheduledExecutorService scheduler) {
        this(config, common, topics, meters, clock, clients, () -> new Parts(consumer(config, clients),
                producer(clients, topics), backend, null, scheduler, List.of()));
    }

    /** The Kafka shell around given clients, which it owns (closed even when never started); for tests. */
    ResponderRole(ResponderConfig config, CommonConfig common, Topics topics, MeterRegistry meters, Clock clock,
            AgentBackend backend, ScheduledExecutorService scheduler, Consumer<String, byte[]> consumer,
            Producer<String, AgentResponse> producer, List<AutoCloseable> owned) {
        this(config, common, topics, meters, clock, null,
                () -> new Parts(consumer, producer, backend, null, scheduler, owned));
        this.consumer = consumer;
        this.producer = producer;
    }

    private ResponderRole(ResponderConfig config, CommonConfig common, Topics topics, MeterRegistry meters,
            Clock clock, KafkaClients cacheClients, Supplier<Parts> parts) {
        this.config = Objects.requireNonNull(config, "config");
        this.common = Objects.requireNonNull(common, "common");
        this.topics = Objects.requireNonNull(topics, "topics");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.cacheClients = cacheClients;
        this.parts = parts;
        // Not schema-checked here: the processor dead-letters call-events that break the schema (see JsonSerde).
        this.eventDeserializer = JsonSerde.of(CallEvent.class).trustingDeserializer();
        // Written by the processor, from this code's own records.
        this.stateDeserializer = JsonSerde.of(CallState.class).trustingDeserializer();
    }

    private static Consumer<String, byte[]> consumer(ResponderConfig config, KafkaClients clients) {
        return new KafkaConsumer<>(consumerConfig(config, clients), new StringDeserializer(),
                new ByteArrayDeserializer());
    }

    private static Producer<String, AgentResponse> producer(KafkaClients clients, Topics topics) {
        return new KafkaProducer<>(producerConfig(clients), topics.responses().keySerde().serializer(),
                topics.responses().valueSerde().serializer());
    }

    private void backCacheWithTopic() {
        if (cacheClients == null) {
            return;
        }
        turns.cache().ifPresent(cache -> {
            Map<String, Object> p = producerConfig(cacheClients);
            p.put(ProducerConfig.CLIENT_ID_CONFIG, cacheClients.clientId("callguard-response-cache"));
            // Off the turn path (the answer already went out): batch the write-through, one produce request
            // per 100 ms instead of one per answer.
            p.put(ProducerConfig.LINGER_MS_CONFIG, CACHE_WRITE_LINGER_MS);
            KafkaProducer<String, byte[]> writer = new KafkaProducer<>(p,
                    new org.apache.kafka.common.serialization.StringSerializer(),
                    new org.apache.kafka.common.serialization.ByteArraySerializer());
            ResponseCacheTopic topic = new ResponseCacheTopic(topics.responseCache());
            cacheBacking = new CacheBacking(topic, cacheClients, writer);
            cache.writeThrough((key, answer, expiresAtMs) -> topic.write(writer, key, answer, expiresAtMs));
        });
    }

    /** Reads the cache's topic (created with the others) back whole; failures only leave the cache cold. */
    private void loadCache() {
        CacheBacking backing = cacheBacking;
        if (backing == null || turns.cache().isEmpty()) {
            return;
        }
        long started = System.nanoTime();
        // A missing topic is not auto-created here (it would lack compaction and retention): the cache starts cold.
        Map<String, Object> readerConfig = backing.clients().consumer("callguard-response-cache-reader");
        readerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        readerConfig.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(readerConfig,
                new StringDeserializer(), new ByteArrayDeserializer())) {
            int read = backing.topic().load(reader, turns.cache().get(), CACHE_LOAD_TIMEOUT);
            LOG.info("response cache loaded {} entries from {} in {} ms", read, backing.topic().name(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        } catch (Exception e) {
            LOG.warn("response cache starts cold: cannot read {}: {}", backing.topic().name(), e.toString());
        }
    }

    static Map<String, Object> consumerConfig(ResponderConfig config, KafkaClients clients) {
        Map<String, Object> c = clients.consumer("callguard-responder");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // A turn is worth answering for a second: a new group does not start with the topic's history. (Tried:
        // by_duration of a first-words deadline, so a new group also answers the turns still waiting; with it the
        // responder answered no turn at all in GatewayTurnIT and the drill, every one closed by the edge watchdog.
        // Not understood yet; left at latest.)
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        // A member that died (kill -9, a partitioned host) holds its partitions, and their turns, this long.
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, config.sessionTimeoutMs());
        // fetch.min.bytes stays 1: the broker answers a parked fetch as soon as a turn request is appended, so
        // fetch.max.wait only bounds how long an EMPTY fetch is parked. At 5 ms an idle consumer made ~200
        // fetch round trips a second (consumer, broker network, handler and purgatory threads), CPU the turn
        // path lacked on a small box; 100 ms removes that churn without delaying a record that arrives.
        c.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1);
        c.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, FETCH_MAX_WAIT_MS);
        // Co-partitioning of call-events and call-state: the range assignor gives a member partition n of both
        // topics (same partition counts, both subscribed by every member). The classic protocol, because the
        // broker-side assignors of the consumer protocol do not promise it.
        c.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, GroupProtocol.CLASSIC.name().toLowerCase(java.util.Locale.ROOT));
        // The others notice a member leaving (a drain) or joining (a restart) at their next heartbeat, and the turns
        // of the partitions that move wait that long: 3 s by default, past the budget; a rolling restart measured
        // 2 s with no member reading half the partitions after each drain.
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, HEARTBEAT_INTERVAL_MS);
        c.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, List.of(RangeAssignor.class.getName()));
        return c;
    }

    static Map<String, Object> producerConfig(KafkaClients clients) {
        Map<String, Object> p = clients.producer("callguard-responder-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // turn.kafka-linger-ms: answers sent together (KafkaClients#turnLingerMs).
        p.put(ProducerConfig.LINGER_MS_CONFIG, clients.turnLingerMs());
        // Sends happen on timer and HTTP threads: never block them for long on missing metadata.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 1_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 3_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 5_000);
        return p;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /**
     * Builds the clients (and, from config, the backend and timer), subscribes and starts the poll thread.
     *
     * @throws IllegalStateException when already started or closed
     */
    @Override
    public synchronized void start() {
        lifecycle.starting();
        try {
            Parts built = parts.get();
            consumer = built.consumer();
            producer = built.producer();
            owned = List.copyOf(built.owned());
            turns = new TurnResponder(config, common, built.backend(), built.fallback(), built.scheduler(), clock,
                    meters, this::send, true);
            backCacheWithTopic();
            running = true;
            // Consumer lag of the responder's group (records-lag-max) and producer health, beside the Streams ones.
            clientMetrics.add(new KafkaClientMetrics(consumer));
            clientMetrics.add(new KafkaClientMetrics(producer));
            clientMetrics.forEach(m -> m.bindTo(meters));
            pollThread = new Thread(this::pollLoop, "callguard-responder-poll");
            pollThread.start();
            lifecycle.transitionTo(RoleState.RUNNING);
        } catch (RuntimeException | Error e) {
            running = false;
            lifecycle.failed();
            throw e;
        }
        LOG.info("responder started: {} and {} -> {}", topics.callEvents().name(), topics.callState().name(),
                topics.responses().name());
    }

    /**
     * True once the consumer has joined its group and received its partitions (possibly none). Before that a
     * turn request is not read: the group starts at the end of the topic, so it would be missed.
     */
    public boolean hasJoinedGroup() {
        return joinedGroup && isRunning();
    }

    /** True while the poll loop runs. */
    public boolean isRunning() {
        Thread thread;
        synchronized (this) {
            thread = pollThread;
        }
        return running && thread != null && thread.isAlive();
    }

    /** Ready once the group assigned its partitions; FAILED when the poll thread stopped while running. */
    @Override
    public RoleHealth health() {
        boolean polling = isRunning();
        if (lifecycle.state() == RoleState.RUNNING && !polling) {
            lifecycle.failed();
        }
        RoleState state = lifecycle.state();
        if (state == RoleState.DRAINING) {
            TurnResponder current = turns;
            return new RoleHealth(name(), state, false, "draining: partitions handed over, "
                    + (current == null ? 0 : current.openTurns()) + " turn(s) still being answered");
        }
        boolean joined = state == RoleState.RUNNING && hasJoinedGroup();
        return new RoleHealth(name(), state, joined, joined ? "polling, partitions assigned"
                : polling ? "polling, not yet assigned its partitions"
                : state == RoleState.FAILED ? "poll thread stopped" : "not running");
    }

    /** The partitions of call-events and call-state assigned to this member now; for diagnostics and tests. */
    public Set<TopicPartition> assignedPartitions() {
        return assigned;
    }

    /** The turn logic, for tests and diagnostics. */
    TurnResponder turns() {
        return turns;
    }

    private void pollLoop() {
        loadCache();
        try {
            consumer.subscribe(List.of(topics.callEvents().name(), topics.callState().name()),
                    new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    commitHandedOff();
                    Set<TopicPartition> left = new HashSet<>(assigned);
                    left.removeAll(partitions);
                    assigned = Set.copyOf(left);
                    // The eager protocol revokes everything before each assignment: what is given back is kept, the
                    // rest forgotten once the assignment is known (at once when leaving the group).
                    partitions.forEach(p -> revokedNumbers.add(p.partition()));
                    if (!running) {
                        forgetRevoked();
                    }
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    LOG.info("responder assigned {}", partitions);
                    if (!coPartitioned(partitions, topics)) {
                        LOG.warn("responder assigned different partitions of {} and {} ({}): the topics' partition "
                                + "counts differ, so some calls' turns are read without their state and wait for "
                                + "it until their first-words deadline", topics.callEvents().name(),
                                topics.callState().name(), partitions);
                    }
                    partitions.forEach(p -> revokedNumbers.remove(p.partition()));
                    forgetRevoked();
                    startRebuild(partitions);
                    Set<TopicPartition> now = new HashSet<>(assigned);
                    now.addAll(partitions);
                    assigned = Set.copyOf(now);
                    joinedGroup = true;
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    joinedGroup = false;
                    assigned = Set.of();
                    partitions.forEach(p -> revokedNumbers.add(p.partition()));
                    forgetRevoked();
                }
            });
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(POLL_TIMEOUT);
                // A call's state before its events of the same poll: an admission decided is acted on at once.
                for (ConsumerRecord<String, byte[]> record : records.records(topics.callState().name())) {
                    dispatchState(record);
                }
                for (ConsumerRecord<String, byte[]> record : records.records(topics.callEvents().name())) {
                    dispatch(record);
                }
                checkRebuild();
                handedOffSinceCommit |= !records.isEmpty();
                long nowMs = clock.millis();
                if (handedOffSinceCommit && nowMs - lastCommitMs >= COMMIT_INTERVAL_MS) {
                    handedOffSinceCommit = false;
                    lastCommitMs = nowMs;
                    consumer.commitAsync((offsets, error) -> {
                        if (error != null) {
                            LOG.debug("responder offset commit failed (a later commit covers it): {}", error.toString());
                        }
                    });
                }
            }
        } catch (WakeupException e) {
            if (running) {
                LOG.error("responder poll loop woken up unexpectedly; stopping", e);
            }
        } catch (RuntimeException e) {
            LOG.error("responder poll loop failed; no more turns are answered by this instance", e);
        } finally {
            running = false;
            commitHandedOff();
            try {
                // Leaving at once lets another member take the partitions now, not after the session timeout.
                consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                        .withTimeout(CLOSE_TIMEOUT));
            } catch (RuntimeException e) {
                LOG.warn("responder consumer did not close cleanly: {}", e.toString());
            }
            // Out of the group: every call is another member's now (a draining member finishes its open turns).
            forgetCalls(new ArrayList<>(callPartitions.keySet()));
            callPartitions.clear();
        }
    }

    /**
     * Forgets the calls of the partitions revoked and not assigned back ({@link TurnResponder#forgetMoved}): their
     * new owner speaks to them, not this member. A rebuild under way drops what it read of them.
     */
    private void forgetRevoked() {
        if (revokedNumbers.isEmpty()) {
            return;
        }
        List<String> moved = new ArrayList<>();
        callPartitions.forEach((callId, partition) -> {
            if (revokedNumbers.contains(partition)) {
                moved.add(callId);
            }
        });
        moved.forEach(callPartitions::remove);
        rebuildUntil.keySet().removeIf(p -> revokedNumbers.contains(p.partition()));
        rebuilt.keySet().removeAll(moved);
        LOG.info("responder partitions {} moved to another member: {} call(s) forgotten here", revokedNumbers,
                moved.size());
        revokedNumbers.clear();
        forgetCalls(moved);
    }

    private void forgetCalls(List<String> callIds) {
        if (turns == null || callIds.isEmpty()) {
            return;
        }
        try {
            turns.forgetMoved(callIds);
        } catch (RuntimeException e) {
            LOG.warn("responder could not forget the calls of moved partitions: {}", e.toString(), e);
        }
    }

    /** Whether the partitions hold the same partition numbers of call-events and call-state. */
    static boolean coPartitioned(Collection<TopicPartition> partitions, Topics topics) {
        return numbers(partitions, topics.callEvents().name()).equals(numbers(partitions, topics.callState().name()));
    }

    private static Set<Integer> numbers(Collection<TopicPartition> partitions, String topic) {
        Set<Integer> out = new TreeSet<>();
        partitions.stream().filter(p -> p.topic().equals(topic)).forEach(p -> out.add(p.partition()));
        return out;
    }

    /**
     * Reads the assigned call-state partitions from the beginning, with the call-events partitions paused until
     * they are read to the end offsets of now (or {@link #CONTEXT_LOAD_TIMEOUT} passed).
     */
    private void startRebuild(Collection<TopicPartition> assigned) {
        List<TopicPartition> states = assigned.stream()
                .filter(p -> p.topic().equals(topics.callState().name())).toList();
        rebuildUntil.clear();
        rebuilt.clear();
        if (states.isEmpty()) {
            resumeEvents();
            return;
        }
        consumer.seekToBeginning(states);
        try {
            consumer.endOffsets(states).forEach((p, end) -> {
                if (end != null && end > 0) {
                    rebuildUntil.put(p, end);
                }
            });
        } catch (RuntimeException e) {
            LOG.warn("responder cannot read the end offsets of {}: call states are applied as they come ({})",
                    states, e.toString());
        }
        if (rebuildUntil.isEmpty()) {
            resumeEvents();
            return;
        }
        List<TopicPartition> events = assigned.stream()
                .filter(p -> p.topic().equals(topics.callEvents().name())).toList();
        consumer.pause(events);
        pausedForRebuild.addAll(events);
        rebuildDeadlineMs = clock.millis() + CONTEXT_LOAD_TIMEOUT.toMillis();
        LOG.info("responder rebuilding call context from {} up to {}", states, rebuildUntil);
    }

    /** Ends the rebuild once every call-state partition was read to its end offset, or at the deadline. */
    private void checkRebuild() {
        if (rebuildUntil.isEmpty()) {
            return;
        }
        rebuildUntil.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
        boolean late = clock.millis() >= rebuildDeadlineMs;
        if (!rebuildUntil.isEmpty() && !late) {
            return;
        }
        if (late && !rebuildUntil.isEmpty()) {
            LOG.warn("responder call context not rebuilt within {} ms ({} left); reading turns anyway",
                    CONTEXT_LOAD_TIMEOUT.toMillis(), rebuildUntil);
            rebuildUntil.clear();
        }
        int calls = rebuilt.size();
        Map<String, CallState> latest = new LinkedHashMap<>(rebuilt);
        rebuilt.clear();
        latest.forEach((callId, state) -> applyState(callId, state, true));
        LOG.info("responder call context rebuilt: {} live calls", calls);
        resumeEvents();
    }

    private void resumeEvents() {
        if (!pausedForRebuild.isEmpty()) {
            // Only those still assigned: a rebalance may have taken some.
            Set<TopicPartition> still = new HashSet<>(pausedForRebuild);
            still.retainAll(consumer.assignment());
            consumer.resume(still);
            pausedForRebuild.clear();
        }
    }

    private void dispatchState(ConsumerRecord<String, byte[]> record) {
        if (record.key() == null) {
            return;
        }
        callPartitions.put(record.key(), record.partition());
        CallState state;
        try {
            state = record.value() == null ? null
                    : stateDeserializer.deserialize(record.topic(), record.headers(), record.value());
        } catch (RuntimeException e) {
            LOG.warn("responder dropped an undecodable call state at {}-{}@{}: {}", record.topic(), record.partition(),
                    record.offset(), e.getMessage());
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "deserialization")
                    .increment();
            return;
        }
        if (!rebuildUntil.isEmpty() && state != null && state.status() != io.callguard.schemas.CallStatus.ENDED
                && state.status() != io.callguard.schemas.CallStatus.EXPIRED) {
            // Rebuilding: only the call's latest state counts (an older one may still be in the uncompacted head).
            rebuilt.remove(record.key());
            rebuilt.put(record.key(), state);
            return;
        }
        rebuilt.remove(record.key());
        applyState(record.key(), state, false);
    }

    private void applyState(String callId, CallState state, boolean rebuilt) {
        try {
            turns.handleState(callId, state, rebuilt);
        } catch (RuntimeException e) {
            LOG.warn("responder could not apply the state of call {}: {}", callId, e.toString(), e);
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "handler_error")
                    .increment();
        }
    }

    private void commitHandedOff() {
        for (int tries = 0; tries < 2; tries++) {
            try {
                consumer.commitSync(CLOSE_TIMEOUT);
                return;
            } catch (WakeupException e) {
                // close() woke the consumer while it was not polling; the wake-up is spent now: try again.
            } catch (RuntimeException e) {
                LOG.warn("responder offset commit failed: {}", e.toString());
                return;
            }
        }
    }

    private void dispatch(ConsumerRecord<String, byte[]> record) {
        CallEvent event;
        try {
            event = eventDeserializer.deserialize(record.topic(), record.headers(), record.value());
        } catch (RuntimeException e) {
            LOG.warn("responder dropped an undecodable record at {}-{}@{}: {}", record.topic(), record.partition(),
                    record.offset(), e.getMessage());
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "deserialization")
                    .increment();
            return;
        }
        if (event == null) {
            return;
        }
        if (event.callId() != null) {
            callPartitions.put(event.callId(), record.partition());
        }
        try {
            turns.handle(event);
        } catch (RuntimeException e) {
            LOG.warn("responder could not handle the record at {}-{}@{} (call {}): {}", record.topic(),
                    record.partition(), record.offset(), event.callId(), e.toString(), e);
            meters.counter(ResponderMetrics.RECORDS_DROPPED, ResponderMetrics.TAG_REASON, "handler_error")
                    .increment();
        }
    }

    private void send(AgentResponse response) {
        try {
            producer.send(new ProducerRecord<>(topics.responses().name(), response.callId(), response),
                    (metadata, error) -> {
                        if (error != null) {
                            sendFailed(response, error);
                        }
                    });
        } catch (RuntimeException e) {
            sendFailed(response, e);
        }
    }

    private void sendFailed(AgentResponse response, Throwable error) {
        LOG.warn("responder could not write the answer to call {} response {} chunk {}: {}", response.callId(),
                response.responseId(), response.chunkIndex(), error.toString());
        meters.counter(ResponderMetrics.SEND_ERRORS).increment();
    }

    /**
     * Hands this instance's partitions over and finishes the turns it holds, so a stop cuts no answer: the poll loop
     * stops reading, commits what it handed off and leaves the group (another member takes the partitions at once
     * and reads on from the committed offsets: no turn is read twice or lost), while the turns already read go on
     * generating and their answers keep going out, for sockets on any edge node. Returns once none is left open, or
     * at {@code timeout}; {@link #close()} then cancels what is left (the edge's watchdog answers those). Does
     * nothing unless RUNNING. While draining, health is {@link RoleState#DRAINING}, not ready and not failed.
     *
     * @return the turns still open when it returned
     */
    public int drain(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Thread thread;
        synchronized (this) {
            if (!lifecycle.draining()) {
                return 0;
            }
            running = false;
            consumer.wakeup();
            thread = pollThread;
        }
        // Not under the lock: health() takes it, and /readyz must answer while this waits.
        thread.join(CLOSE_TIMEOUT.toMillis() * 2);
        int open = turns.openTurns();
        LOG.info("responder draining: partitions handed over, {} turn(s) still being answered", open);
        while (open > 0 && System.nanoTime() < deadline) {
            Thread.sleep(DRAIN_CHECK_MS);
            open = turns.openTurns();
        }
        if (open > 0) {
            LOG.warn("responder drain timed out after {} ms with {} turn(s) open; the edge's watchdog answers them",
                    timeout.toMillis(), open);
        }
        return open;
    }

    /**
     * Stops polling, cancels in-flight generations (the edge's watchdog answers those turns), flushes
     * the producer and stops every thread this role started. Safe to call twice.
     */
    @Override
    public synchronized void close() {
        if (!lifecycle.stopping()) {
            return;
        }
        running = false;
        if (pollThread != null && pollThread.isAlive()) {
            consumer.wakeup();
            try {
                pollThread.join(CLOSE_TIMEOUT.toMillis() * 2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (pollThread.isAlive()) {
                LOG.warn("responder poll thread did not stop in time");
            }
        } else if (pollThread == null && consumer != null) {
            consumer.close(CloseOptions.timeout(CLOSE_TIMEOUT));
        }
        if (turns != null) {
            turns.close();
        }
        clientMetrics.forEach(KafkaClientMetrics::close);
        for (AutoCloseable resource : owned) {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("error while stopping {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
        if (producer != null) {
            try {
                producer.flush();
            } catch (RuntimeException e) {
                LOG.warn("responder producer flush failed: {}", e.toString());
            }
            producer.close(CLOSE_TIMEOUT);
        }
        CacheBacking backing = cacheBacking;
        if (backing != null) {
            backing.producer().close(CLOSE_TIMEOUT);
        }
        lifecycle.transitionTo(RoleState.STOPPED);
        LOG.info("responder stopped");
    }

    /** The timer, backend and HTTP threads a responder built from config owns. */
    private static final class Owned {
        final ScheduledExecutorService scheduler;
        final ExecutorService httpExecutor;
        final AgentBackend backend;
        /** The fallback backend ({@code agent.fallback.*}); null without one. */
        final AgentBackend fallback;

        Owned(ResponderConfig config, MeterRegistry meters, Clock clock) {
            ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, threads("callguard-responder-timer"));
            timer.setRemoveOnCancelPolicy(true);
            scheduler = timer;
            boolean fallsBack = !ResponderConfig.BACKEND_NONE.equals(config.fallbackBackend());
            ResponderConfig fallbackConfig = fallsBack ? config.fallbackConfig() : null;
            boolean http = ResponderConfig.BACKEND_OPENAI.equals(config.agentBackend())
                    || (fallsBack && ResponderConfig.BACKEND_OPENAI.equals(fallbackConfig.agentBackend()));
            httpExecutor = http ? Executors.newCachedThreadPool(threads("callguard-responder-http")) : null;
            backend = build(config, scheduler, httpExecutor, meters, clock);
            fallback = fallsBack ? build(fallbackConfig, scheduler, httpExecutor, meters, clock) : null;
        }

        private static AgentBackend build(ResponderConfig config, ScheduledExecutorService scheduler,
                ExecutorService httpExecutor, MeterRegistry meters, Clock clock) {
            if (ResponderConfig.BACKEND_RETELL_SOCKET.equals(config.agentBackend())) {
                return new RetellSocketBackend(config, scheduler, clock, null).bindTo(meters);
            }
            return ResponderConfig.BACKEND_OPENAI.equals(config.agentBackend())
                    ? new OpenAiBackend(config, httpExecutor, scheduler, meters, clock)
                    : new ScriptBackend(config, scheduler, new SplittableRandom());
        }

        List<AutoCloseable> closeables() {
            AutoCloseable stopTimer = () -> stop(scheduler);
            AutoCloseable stopHttp = () -> {
                if (httpExecutor != null) {
                    stop(httpExecutor);
                }
            };
            return fallback == null ? List.of(stopTimer, backend, stopHttp)
                    : List.of(stopTimer, backend, fallback, stopHttp);
        }

        private static void stop(ExecutorService executor) throws InterruptedException {
            executor.shutdownNow();
            if (!executor.awaitTermination(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("responder executor did not stop in time");
            }
        }

        private static ThreadFactory threads(String prefix) {
            AtomicInteger n = new AtomicInteger();
            return r -> {
                Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
        }
    }
}
