package io.callguard.egress;

import io.callguard.egress.internal.EdgeDelivery;
import io.callguard.egress.internal.EgressMeters;
import io.callguard.egress.internal.ResponseConsumerLoop;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.retell.socket.SocketFrames;
import io.callguard.schemas.AgentResponse;
import io.callguard.common.CommonConfig;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
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
 * this node holds, keeps each call's socket across reconnects, runs the per-turn edge watchdog, and dials out
 * when {@code dialout.enabled}.
 *
 * <p>Routing: every edge node reads every partition of the responses topic (assigned, no consumer group,
 * starting at the end) and delivers what it holds; the rest is dropped and counted as not held. Limits: the
 * response bandwidth each node reads is the whole topic's, so the total is O(edge nodes); a node that dies
 * loses its sockets, and Retell reconnects, possibly to another node, which then delivers the owed answer if
 * it arrives after the reconnect (or that node's watchdog, if the new socket asks again). An answer produced
 * before the reconnect reached the new node is lost with the old node. Answers are read uncommitted: a
 * transactional producer's answer is seen at once instead of at its commit, and the exactly-one-complete rule
 * absorbs a re-sent aborted one.
 *
 * <p>Lifecycle: {@link #start()} then {@link #close()}; close stops the poll thread (joined), the dial-out
 * client and the watchdog threads, leaving no thread behind.
 */
public final class EgressRole implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EgressRole.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    private static final long JOIN_TIMEOUT_MS = 10_000;

    private final ScheduledThreadPoolExecutor timers;
    private final EdgeDelivery edge;
    private final ResponseConsumerLoop loop;
    private final Thread pollThread;
    private final DialOutClient dialOut;

    /** An egress without dial-out ({@code dialout.enabled} must be false). */
    public EgressRole(EgressConfig config, CommonConfig common, String bootstrapServers, Topics topics,
                      MeterRegistry meters, Clock clock) {
        this(config, common, bootstrapServers, topics, meters, clock, null);
    }

    /**
     * @param bootstrapServers the Kafka cluster actually in use (the embedded broker's when there is one)
     * @param dialOutFrames    where dial-out sockets' frames go (the ingress path); required when
     *                         {@code dialout.enabled}, ignored otherwise
     * @throws IllegalArgumentException when dial-out is enabled without a frame sink
     */
    public EgressRole(EgressConfig config, CommonConfig common, String bootstrapServers, Topics topics,
                      MeterRegistry meters, Clock clock, SocketFrames dialOutFrames) {
        this(config, common, topics, meters, clock, dialOutFrames,
                props -> new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer()),
                consumerProperties(bootstrapServers, common.nodeId()));
    }

    EgressRole(EgressConfig config, CommonConfig common, Topics topics, MeterRegistry meters, Clock clock,
               SocketFrames dialOutFrames, Function<Map<String, Object>, Consumer<String, byte[]>> consumers,
               Map<String, Object> consumerProperties) {
        Objects.requireNonNull(clock, "clock");
        if (config.dialOutEnabled() && dialOutFrames == null) {
            throw new IllegalArgumentException(EgressConfig.DIALOUT_ENABLED_CONFIG
                    + " is true but no SocketFrames sink was given: dialled sockets' frames would go nowhere");
        }
        EgressMeters egressMeters = new EgressMeters(meters);
        this.timers = new ScheduledThreadPoolExecutor(config.watchdogThreads(), daemonThreads("callguard-egress-timer"));
        timers.setRemoveOnCancelPolicy(true);
        this.edge = new EdgeDelivery(config, common.turnBudgetMs(), common.turnFallbackMessage(), timers, clock,
                egressMeters);
        // The trusting reader (see JsonSerde#fromTrustedBytes): every answer record is read on the turn path.
        Deserializer<AgentResponse> answers = JsonSerde.of(AgentResponse.class).trustingDeserializer();
        this.loop = new ResponseConsumerLoop(consumers.apply(consumerProperties), topics.responses().name(),
                answers, edge.delivery(), egressMeters, POLL_TIMEOUT);
        Topic<String, AgentResponse> responses = topics.responses();
        this.pollThread = new Thread(() -> {
            warmUp(responses, answers);
            loop.run();
        }, "callguard-egress-responses");
        pollThread.setDaemon(true);
        this.dialOut = config.dialOutEnabled()
                ? new DialOutClient(config, edge.registry(), dialOutFrames, timers, meters)
                : null;
    }

    /** How long the broker parks an empty responses fetch; an answer that arrives completes it at once. */
    static final int FETCH_MAX_WAIT_MS = 100;

    /** Settings of the responses consumer: no group, no commits, fetches answered as soon as data arrives. */
    static Map<String, Object> consumerProperties(String bootstrapServers, String nodeId) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "callguard-egress-"
                + (nodeId == null || nodeId.isBlank() ? UUID.randomUUID().toString().substring(0, 8) : nodeId));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        // min bytes 1: a parked fetch returns as soon as an answer is appended, so max wait only bounds an
        // EMPTY fetch. 5 ms made ~200 empty fetch round trips a second per edge node, CPU taken from the turn path.
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, FETCH_MAX_WAIT_MS);
        props.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        return props;
    }

    /** Starts the poll thread and the dial-out client; returns without waiting for Kafka. */
    public void start() {
        if (dialOut != null) {
            dialOut.start();
        }
        pollThread.start();
        LOG.info("egress started");
    }

    /**
     * Waits until the consumer is assigned every responses partition and positioned at its end: answers
     * produced after that are delivered. The watchdog works before that, and without Kafka at all.
     */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        return loop.awaitReady(timeout);
    }

    /** What the ingress endpoint must tell about sockets and turns: the socket registry and its watchdog. */
    public EdgeListener edgeListener() {
        return edge.registry();
    }

    /** The dial-out client, when {@code dialout.enabled}. */
    public Optional<DialOutClient> dialOut() {
        return Optional.ofNullable(dialOut);
    }

    @Override
    public void close() {
        loop.stop();
        if (pollThread.getState() == Thread.State.NEW) {
            // Never started: the stopped loop only runs its cleanup, which closes the consumer.
            pollThread.start();
        }
        if (pollThread.isAlive()) {
            try {
                pollThread.join(JOIN_TIMEOUT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (pollThread.isAlive()) {
                LOG.warn("responses poll thread did not stop within {} ms", JOIN_TIMEOUT_MS);
            }
        }
        if (dialOut != null) {
            dialOut.close();
        }
        timers.shutdownNow();
        try {
            timers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
