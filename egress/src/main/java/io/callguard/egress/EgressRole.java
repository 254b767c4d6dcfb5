package io.callguard.egress;

import io.callguard.egress.internal.EdgeDeadlines;
import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.egress.internal.EdgeDelivery;
import io.callguard.egress.internal.KnownReconnects;
import io.callguard.egress.internal.EgressMeters;
import io.callguard.egress.internal.ResponseConsumerLoop;
import io.callguard.egress.internal.TurnLedger;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The egress role of an edge node: delivers answers from {@code callguard.responses} onto the call sockets
 * this node holds, keeps each call's socket across reconnects and runs the per-turn edge watchdog. Dial-out is
 * {@link DialOutRole}'s, on top of this role's {@link #edgeListener()}.
 *
 * <p>Routing: every edge node reads every partition of the responses topic (assigned, no consumer group,
 * starting at the end) and delivers what it holds; the rest is dropped and counted as not held. Limits: the
 * response bandwidth each node reads is the whole topic's, so the total is O(edge nodes); a node that dies
 * loses its sockets, and Retell reconnects, possibly to another node, which then delivers the owed answer if
 * it arrives after the reconnect (or that node's watchdog, if the new socket asks again). An answer produced
 * before the reconnect reached the new node is re-sent by the responder for the new socket (see its
 * {@code AnswerSoFar}). Answers are read uncommitted: a
 * transactional producer's answer is seen at once instead of at its commit, and the exactly-one-complete rule
 * absorbs a re-sent aborted one.
 *
 * <p>Lifecycle ({@link Role}): the consumer is built in {@link #start()}; close stops the poll thread (joined)
 * and the watchdog threads, leaving no thread behind.
 */
public final class EgressRole implements Role {

    private static final Logger LOG = LoggerFactory.getLogger(EgressRole.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    private static final long JOIN_TIMEOUT_MS = 10_000;
    /**
     * How long a draining node keeps a socket after its turn's complete frame: the other edge nodes read that answer
     * from the responses topic too, and one that reads it after the caller's reconnect attached there would take it
     * as owed from before the reconnect and say it again. A rolling restart measured such repeats 36 to 91 ms after
     * the complete; Retell's caller is hearing the answer then, and speaks seconds later.
     */
    static final long HANDOVER_SETTLE_MS = 250;
    private static final long HANDOVER_SWEEP_MS = 25;

    private final RoleLifecycle lifecycle = new RoleLifecycle("egress");
    private final ScheduledThreadPoolExecutor timers;
    private final EdgeDelivery edge;
    private final EgressMeters egressMeters;
    private final String responsesTopic;
    private final Deserializer<AgentResponse> answers;
    private final Topic<String, AgentResponse> responses;
    private final Supplier<Consumer<String, byte[]>> consumers;
    /** A consumer handed in (tests): this role owns it, and closes it even when never started. */
    private final Consumer<String, byte[]> given;
    private final Clock clock;
    private ResponseConsumerLoop loop;
    private Thread pollThread;

    /**
     * @param clients the Kafka client factory of the cluster actually in use
     */
    public EgressRole(EgressConfig config, CommonConfig common, KafkaClients clients, Topics topics,
                      MeterRegistry meters, Clock clock) {
        this(config, common, topics, meters, clock,
                () -> new KafkaConsumer<>(consumerProperties(clients), new StringDeserializer(),
                        new ByteArrayDeserializer()), null);
    }

    /** An egress around a given consumer, which it owns; for tests. */
    EgressRole(EgressConfig config, CommonConfig common, Topics topics, MeterRegistry meters, Clock clock,
               Consumer<String, byte[]> consumer) {
        this(config, common, topics, meters, clock, null, Objects.requireNonNull(consumer, "consumer"));
    }

    private EgressRole(EgressConfig config, CommonConfig common, Topics topics, MeterRegistry meters, Clock clock,
                       Supplier<Consumer<String, byte[]>> consumers, Consumer<String, byte[]> given) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.egressMeters = new EgressMeters(meters);
        // Threads are made on the first timer task, not here.
        this.timers = new ScheduledThreadPoolExecutor(config.watchdogThreads(), daemonThreads("callguard-egress-timer"));
        timers.setRemoveOnCancelPolicy(true);
        this.edge = new EdgeDelivery(config, EdgeDeadlines.of(common, config), timers, clock,
                egressMeters);
        // The trusting reader (see JsonSerde#fromTrustedBytes): every answer record is read on the turn path.
        this.answers = JsonSerde.of(AgentResponse.class).trustingDeserializer();
        this.responses = topics.responses();
        this.responsesTopic = responses.name();
        this.consumers = consumers;
        this.given = given;
    }

    /** How long the broker parks an empty responses fetch; an answer that arrives completes it at once. */
    static final int FETCH_MAX_WAIT_MS = 100;

    /** Settings of the responses consumer: no group, no commits, fetches answered as soon as data arrives. */
    static Map<String, Object> consumerProperties(KafkaClients clients) {
        Map<String, Object> props = clients.consumer(null);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clients.uniqueClientId("callguard-egress"));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        // min bytes 1: a parked fetch returns as soon as an answer is appended, so max wait only bounds an
        // EMPTY fetch. 5 ms made ~200 empty fetch round trips a second per edge node, CPU taken from the turn path.
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, FETCH_MAX_WAIT_MS);
        props.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        return props;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /** Builds the consumer and starts the poll thread; returns without waiting for Kafka. */
    @Override
    public synchronized void start() {
        lifecycle.starting();
        try {
            ResponseConsumerLoop started = new ResponseConsumerLoop(given != null ? given : consumers.get(),
                    responsesTopic, answers, edge.delivery(), egressMeters, POLL_TIMEOUT);
            Thread thread = new Thread(() -> {
                warmUp(responses, answers);
                started.run();
            }, "callguard-egress-responses");
            thread.setDaemon(true);
            loop = started;
            pollThread = thread;
            thread.start();
            lifecycle.transitionTo(RoleState.RUNNING);
        } catch (RuntimeException | Error e) {
            lifecycle.failed();
            throw e;
        }
        LOG.info("egress started");
    }

    /**
     * Waits until the consumer is assigned every responses partition and positioned at its end: answers
     * produced after that are delivered. The watchdog works before that, and without Kafka at all.
     */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        ResponseConsumerLoop current;
        synchronized (this) {
            current = loop;
        }
        return current != null && current.awaitReady(timeout);
    }

    /**
     * Ready when the consumer follows every responses partition; FAILED when its poll thread died while running.
     */
    @Override
    public RoleHealth health() {
        Thread thread;
        synchronized (this) {
            thread = pollThread;
        }
        if (lifecycle.state() == RoleState.RUNNING && thread != null && !thread.isAlive()) {
            lifecycle.failed();
        }
        RoleState state = lifecycle.state();
        boolean following;
        try {
            following = state == RoleState.RUNNING && awaitReady(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            following = false;
        }
        return new RoleHealth(name(), state, following, following ? "following every responses partition"
                : state == RoleState.FAILED ? "responses poll thread stopped"
                : "not yet positioned on every responses partition (answers could be missed)");
    }

    /**
     * Hands the calls whose sockets this node holds over to other nodes, each between two turns: a socket is dropped
     * without a close handshake ({@link CallSocket#abort()}: Retell sees 1006 and reconnects, through the load
     * balancer, to another node) {@value #HANDOVER_SETTLE_MS} ms after its latest turn completed, at once when none
     * was asked or the last one completed longer ago. Answers and the watchdog keep working meanwhile, so every open
     * turn is still answered or bridged here. A socket still mid-turn at {@code timeout} is dropped then. Dial-out
     * sockets are left to {@link DialOutRole}. Call before {@link #close()}; the ingress should refuse new sockets
     * first.
     *
     * @return the sockets dropped mid-turn because the timeout passed
     */
    public int drainSockets(Duration timeout) throws InterruptedException {
        TurnLedger ledger = edge.ledger();
        int held = ledger.attachedCount();
        LOG.info("egress draining: handing {} call socket(s) over between turns, for at most {} ms", held,
                timeout.toMillis());
        CompletableFuture<Void> drained = ledger.drain(CallSocket::abort, HANDOVER_SETTLE_MS, clock.millis());
        ScheduledFuture<?> sweep = timers.scheduleAtFixedRate(() -> ledger.handOverSettled(clock.millis()),
                HANDOVER_SWEEP_MS, HANDOVER_SWEEP_MS, TimeUnit.MILLISECONDS);
        try {
            drained.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return 0;
        } catch (TimeoutException e) {
            int cut = ledger.drainNow();
            LOG.warn("egress drain timed out after {} ms: {} socket(s) dropped mid-turn", timeout.toMillis(), cut);
            return cut;
        } catch (ExecutionException e) {
            throw new IllegalStateException("egress drain failed", e.getCause());
        } finally {
            sweep.cancel(false);
        }
    }

    /**
     * Where the edge learns whether a call is admitted (active on call-state, as this node sees it): an owed begin is
     * bridged with the greeting only then, else with a neutral filler line (see {@link TurnLedger#admissionFrom}).
     * Without it every call counts as admitted. Call before {@link #start()}.
     */
    public void admissionFrom(java.util.function.Predicate<String> admitted) {
        edge.ledger().admissionFrom(admitted);
    }

    /**
     * How the watchdog tells, from the shared call state, that the socket of an owed begin it would bridge with the
     * greeting is a reconnect: such a begin is completed empty instead. By default none is (a begin is bridged with
     * the greeting). Returns this.
     */
    public EgressRole withKnownReconnects(KnownReconnects knownReconnects) {
        edge.knownReconnects(knownReconnects);
        return this;
    }

    /** What the ingress endpoint (and the dial-out client) must tell about sockets and turns. */
    public EdgeListener edgeListener() {
        return edge.registry();
    }

    @Override
    public void close() {
        if (!lifecycle.stopping()) {
            return;
        }
        ResponseConsumerLoop current;
        Thread thread;
        synchronized (this) {
            current = loop;
            thread = pollThread;
        }
        if (current != null) {
            current.stop();
        } else if (given != null) {
            given.close();
        }
        if (thread != null && thread.isAlive()) {
            try {
                thread.join(JOIN_TIMEOUT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                LOG.warn("responses poll thread did not stop within {} ms", JOIN_TIMEOUT_MS);
            }
        }
        timers.shutdownNow();
        try {
            timers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lifecycle.transitionTo(RoleState.STOPPED);
        LOG.info("egress stopped");
    }

    /**
     * Reads one sample answer with the loop's own reader before the first real one: the first read loads Jackson's
     * bindings, which measured over a second here (with the schema check, then), longer than a turn's budget.
     */
    private static void warmUp(Topic<String, AgentResponse> responses, Deserializer<AgentResponse> answers) {
        try {
            AgentResponse sample = new AgentResponse(AgentResponse.SCHEMA_VERSION, "warm-up", 1,
                    ResponseKind.GENERATED, null, "", true, null, 0, 1, 1, null);
            answers.deserialize(responses.name(),
                    responses.valueSerde().serializer().serialize(responses.name(), sample));
        } catch (RuntimeException e) {
            LOG.warn("warming up the responses deserializer failed", e);
        }
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
