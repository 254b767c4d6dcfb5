package io.callguard.ingress;

import io.callguard.common.KafkaClients;
import io.callguard.common.Role;
import io.callguard.common.RoleHealth;
import io.callguard.common.RoleLifecycle;
import io.callguard.common.RoleState;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's compact view of {@code callguard.call-state}, for its {@link GreetingPolicy}: on an edge-only node (roles
 * {@code ingress,egress}) all it knows of the calls, on a node that runs the processor too what it knows of the calls
 * whose partitions another node owns (or none owns right now, in a rebalance): what a socket's begin message depends on, per live call: its status, whether it
 * had a socket, whether it had turns. A call that reconnects here from another edge node is then known as a reconnect
 * (an empty begin, not the greeting), and a refused one hears the busy line, decided from the shared call state
 * rather than from what this node saw.
 *
 * <p>Reads every partition (assigned, no consumer group, nothing committed) from the beginning, as committed by the
 * processor's transactions ({@code read_committed}), about 100 ms behind the events; a reconnect that beats it
 * is taken for a first open here, and in {@code socket.begin-message=auto} the responder, which reads the call's
 * events in order, still answers it with an empty begin. Decisions, per record: a tombstone, or a call ended or
 * expired, is forgotten; a live call is kept (status, socket, turns); an unreadable record is counted as skipped
 * and logged at debug with its topic, partition and offset. At most {@link #MAX_CALLS} calls are kept: beyond, new calls are not (their begins are
 * decided as if unknown), and a warning says so once.
 *
 * <p>Lifecycle ({@link Role}): the consumer and its thread start in {@link #start()}; {@link #close()} wakes the
 * consumer and joins the thread. A broker outage leaves the view as it was.
 */
public final class CallStateView implements Role, Function<String, Optional<CallState>> {

    private static final Logger LOG = LoggerFactory.getLogger(CallStateView.class);
    /** The most calls kept; about 100 bytes each. */
    public static final int MAX_CALLS = 1_000_000;
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(200);
    private static final Duration METADATA_TIMEOUT = Duration.ofSeconds(5);
    private static final long JOIN_TIMEOUT_MS = 5_000;
    private static final long RETRY_PAUSE_MS = 1_000;

    /** What the begin message needs of a call's state (the rest of the record is not kept). */
    record Seen(CallStatus status, String connectionId, Long socketOpenedAtMs, Long latestResponseId,
            long reconnects) {
    }

    private final RoleLifecycle lifecycle = new RoleLifecycle("call-state-view");
    private final String topic;
    private final Supplier<Consumer<String, byte[]>> consumers;
    private final Map<String, Seen> calls = new ConcurrentHashMap<>();
    private final CountDownLatch stopping = new CountDownLatch(1);
    private final AtomicLong skipped = new AtomicLong();
    private volatile boolean full;
    private volatile boolean running;
    private Consumer<String, byte[]> consumer;
    private Thread thread;

    /** A view following the cluster's call-state topic. */
    public CallStateView(KafkaClients clients, Topics topics) {
        this(topics, () -> new KafkaConsumer<>(consumerProperties(clients), new StringDeserializer(),
                new ByteArrayDeserializer()));
    }

    CallStateView(Topics topics, Supplier<Consumer<String, byte[]>> consumers) {
        this.topic = topics.callState().name();
        this.consumers = consumers;
    }

    static Map<String, Object> consumerProperties(KafkaClients clients) {
        Map<String, Object> props = clients.consumer(null);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clients.uniqueClientId("callguard-call-state-view"));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return props;
    }

    @Override
    public String name() {
        return lifecycle.role();
    }

    /**
     * The call's state as this view knows it: status, current socket and its opening, latest response id and
     * reconnects only.
     */
    @Override
    public Optional<CallState> apply(String callId) {
        Seen seen = callId == null ? null : calls.get(callId);
        return seen == null ? Optional.empty() : Optional.of(state(callId, seen));
    }

    /**
     * Up to {@code limit} of the live calls known now, ordered by call id among those taken (which ones, when more are
     * known, is not defined): what the begin needs of each, no caller data.
     */
    public List<CallState> live(int limit) {
        List<CallState> out = new ArrayList<>();
        calls.entrySet().stream().limit(Math.max(0, limit)).forEach(e -> out.add(state(e.getKey(), e.getValue())));
        out.sort(java.util.Comparator.comparing(CallState::callId));
        return out;
    }

    private static CallState state(String callId, Seen seen) {
        return CallState.builder(callId).status(seen.status()).connectionId(seen.connectionId())
                .socketOpenedAtMs(seen.socketOpenedAtMs()).latestResponseId(seen.latestResponseId())
                .reconnects(seen.reconnects()).build();
    }

    /** Calls known now. */
    public int size() {
        return calls.size();
    }

    /** Records skipped because they could not be read. */
    public long skipped() {
        return skipped.get();
    }

    /**
     * Takes one call-state record (null value: a tombstone). Package-private for tests.
     *
     * @throws IOException when the value is not a call state
     */
    void accept(String callId, byte[] value) throws IOException {
        if (callId == null) {
            return;
        }
        if (value == null) {
            calls.remove(callId);
            return;
        }
        Seen seen = Json.mapper().readValue(value, Seen.class);
        if (seen.status() == null || seen.status() == CallStatus.ENDED || seen.status() == CallStatus.EXPIRED) {
            calls.remove(callId);
        } else if (calls.size() < MAX_CALLS || calls.containsKey(callId)) {
            calls.put(callId, seen);
        } else if (!full) {
            full = true;
            LOG.warn("call-state view holds {} calls, its limit: the begins of newer calls are decided as if unknown",
                    MAX_CALLS);
        }
    }

    @Override
    public synchronized void start() {
        lifecycle.starting();
        try {
            consumer = consumers.get();
            running = true;
            thread = new Thread(this::run, "callguard-call-state-view");
            thread.setDaemon(true);
            thread.start();
            lifecycle.transitionTo(RoleState.RUNNING);
        } catch (RuntimeException | Error e) {
            lifecycle.failed();
            throw e;
        }
    }

    private void run() {
        try {
            List<TopicPartition> partitions = List.of();
            while (running && partitions.isEmpty()) {
                partitions = partitions();
                if (partitions.isEmpty()) {
                    stopping.await(RETRY_PAUSE_MS, TimeUnit.MILLISECONDS);
                }
            }
            if (!running) {
                return;
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                try {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL_TIMEOUT)) {
                        take(r);
                    }
                } catch (WakeupException e) {
                    throw e;
                } catch (KafkaException e) {
                    LOG.warn("call-state view cannot read {}; retrying: {}", topic, e.toString());
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("call-state view stopped: reconnects here are decided as first opens", e);
        } finally {
            try {
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(2)));
            } catch (RuntimeException e) {
                LOG.debug("call-state view consumer did not close cleanly: {}", e.toString());
            }
        }
    }

    private void take(ConsumerRecord<String, byte[]> r) {
        try {
            accept(r.key(), r.value());
        } catch (IOException e) {
            skipped.incrementAndGet();
            LOG.debug("call-state view skipped an unreadable record at {}-{}@{}: {}", r.topic(), r.partition(),
                    r.offset(), e.getMessage());
        }
    }

    private List<TopicPartition> partitions() {
        List<TopicPartition> out = new ArrayList<>();
        try {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, METADATA_TIMEOUT);
            for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
                out.add(new TopicPartition(info.topic(), info.partition()));
            }
        } catch (WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            LOG.warn("call-state view cannot list the partitions of {}: {}", topic, e.toString());
        }
        return out;
    }

    @Override
    public RoleHealth health() {
        Thread current;
        synchronized (this) {
            current = thread;
        }
        RoleState state = lifecycle.checkWorker(current);
        return RoleHealth.of(name(), state, state == RoleState.RUNNING
                ? calls.size() + " calls known, " + skipped.get() + " unreadable records skipped"
                : state == RoleState.FAILED ? "call-state view thread stopped" : "not running");
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
            stopping.countDown();
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
        } else if (consumer != null) {
            consumer.close(CloseOptions.timeout(Duration.ZERO));
        }
        lifecycle.transitionTo(RoleState.STOPPED);
    }
}
