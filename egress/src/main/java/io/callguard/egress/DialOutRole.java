package io.callguard.egress;

import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.retell.socket.SocketFrames;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dial-out mode ({@code dialout.enabled}): opens a call's socket when the processor admits the call and hangs up
 * when the call is over, following {@code call-state}. The edge nodes share the partitions as one consumer group,
 * so each call is dialled by exactly one of them. Each dialled socket is registered with the egress's edge
 * listener and its frames go to {@link SocketFrames} (the ingress socket protocol), like a dial-in socket's.
 *
 * <p>Decisions, per call-state record: ACTIVE and not dialled: dial; ENDED, EXPIRED, REJECTED or a tombstone
 * while dialled: hang up (close 1000); anything else: nothing. A record that cannot be read is logged with its
 * topic, partition and offset, and skipped.
 *
 * <p>Lifecycle ({@link io.callguard.common.Role}): the consumer and the Jetty client start in {@link #start()};
 * close stops the poll thread (joined), the dials (1001) and the backoff timer.
 */
public final class DialOutRole implements Role {

    private static final Logger LOG = LoggerFactory.getLogger(DialOutRole.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(200);
    private static final long JOIN_TIMEOUT_MS = 5_000;

    private final RoleLifecycle lifecycle = new RoleLifecycle("dial-out");
    private final Topics topics;
    private final ScheduledThreadPoolExecutor timer;
    private final DialOutClient client;
    private final Function<Map<String, Object>, Consumer<String, byte[]>> consumers;
    private final Map<String, Object> consumerProperties;
    private volatile boolean running;
    private Consumer<String, byte[]> consumer;
    private Thread thread;

    /**
     * @param groupId the consumer group the edge nodes share
     * @param edge    the egress's edge listener ({@link EgressRole#edgeListener()})
     * @param frames  where dialled sockets' frames go (the ingress socket protocol)
     * @throws IllegalArgumentException when {@code frames} is null or {@code dialout.url-template} lacks
     *                                  {@code {call_id}}
     */
    public DialOutRole(EgressConfig config, KafkaClients clients, Topics topics, String groupId, EdgeListener edge,
                       SocketFrames frames, MeterRegistry meters) {
        this(config, topics, edge, frames, meters,
                props -> new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer()),
                consumerProperties(clients, groupId));
    }

    DialOutRole(EgressConfig config, Topics topics, EdgeListener edge, SocketFrames frames, MeterRegistry meters,
                Function<Map<String, Object>, Consumer<String, byte[]>> consumers,
                Map<String, Object> consumerProperties) {
        if (frames == null) {
            throw new IllegalArgumentException(EgressConfig.DIALOUT_ENABLED_CONFIG
                    + " is true but no SocketFrames sink was given: dialled sockets' frames would go nowhere");
        }
        this.topics = Objects.requireNonNull(topics, "topics");
        // Threads are made on the first backoff, not here.
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "callguard-dialout-timer");
            t.setDaemon(true);
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);
        this.client = new DialOutClient(config, edge, frames, timer, meters);
        this.consumers = Objects.requireNonNull(consumers, "consumers");
        this.consumerProperties = Map.copyOf(consumerProperties);
    }

    /** Settings of the call-state consumer: a group shared by the edge nodes, from the end, auto-committed. */
    static Map<String, Object> consumerProperties(KafkaClients clients, String groupId) {
        Map<String, Object> props = clients.consumer("callguard-dialout");
        props.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, true);
        return props;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /** The dial-out client (dial, hang up, what is dialled). */
    public DialOutClient client() {
        return client;
    }

    @Override
    public synchronized void start() {
        lifecycle.starting();
        try {
            client.start();
            consumer = consumers.apply(consumerProperties);
            consumer.subscribe(List.of(topics.callState().name()));
            running = true;
            thread = new Thread(this::run, "callguard-dialout-trigger");
            thread.setDaemon(true);
            thread.start();
            lifecycle.transitionTo(RoleState.RUNNING);
        } catch (RuntimeException | Error e) {
            lifecycle.failed();
            throw e;
        }
    }

    @Override
    public RoleHealth health() {
        Thread current;
        synchronized (this) {
            current = thread;
        }
        RoleState state = lifecycle.checkWorker(current);
        return RoleHealth.of(name(), state, state == RoleState.RUNNING ? "following call-state"
                : state == RoleState.FAILED ? "call-state poll thread stopped" : "not running");
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL_TIMEOUT)) {
                    try {
                        apply(r.key(), topics.callState().valueSerde().deserializer().deserialize(r.topic(), r.value()));
                    } catch (RuntimeException e) {
                        LOG.warn("dial-out trigger skips {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                                e.getMessage());
                    }
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } catch (RuntimeException e) {
            LOG.error("dial-out trigger failed; no more calls are dialled by this instance", e);
        } finally {
            consumer.close(Duration.ofSeconds(2));
        }
    }

    /** What one call-state record asks of the dial-out client (see the class comment). */
    void apply(String callId, CallState state) {
        if (callId == null) {
            return;
        }
        if (state == null || state.status() == CallStatus.ENDED || state.status() == CallStatus.EXPIRED
                || state.status() == CallStatus.REJECTED) {
            if (client.isDialling(callId)) {
                client.hangUp(callId);
            }
        } else if (state.status() == CallStatus.ACTIVE && !client.isDialling(callId)) {
            LOG.info("dialling out for admitted call {}", callId);
            client.dial(callId);
        }
    }

    @Override
    public void close() {
        if (!lifecycle.stopping()) {
            return;
        }
        Thread current;
        synchronized (this) {
            current = thread;
            running = false;
            if (consumer != null) {
                consumer.wakeup();
            }
        }
        if (current != null) {
            try {
                current.join(JOIN_TIMEOUT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        client.close();
        timer.shutdownNow();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lifecycle.transitionTo(RoleState.STOPPED);
    }
}
