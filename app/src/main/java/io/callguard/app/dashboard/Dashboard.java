package io.callguard.app.dashboard;

import io.callguard.common.KafkaClients;
import io.callguard.egress.EgressMetrics;
import io.callguard.processor.responder.ResponderMetrics;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.JsonSerde;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The numbers behind {@code GET /dashboard} and the page at {@code GET /}: this instance's meters, and
 * the whole application's answers as they pass on {@code callguard.responses} (every instance writes
 * there, so the fallback rate and the last fallbacks cover all of them).
 */
public final class Dashboard implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Dashboard.class);
    private static final int SERIES_POINTS = 60;
    private static final long SAMPLE_EVERY_MS = 5_000;
    private static final int LAST_FALLBACKS = 20;
    /** Samples making up the last minute the windowed numbers cover. */
    private static final int WINDOW_SAMPLES = (int) (60_000 / SAMPLE_EVERY_MS);
    /** Response ids with a filler and no complete yet that the application-wide shares remember. */
    private static final int OPEN_TURNS = 10_000;
    private static final String PRIMARY_BREAKER = "agent-backend";

    private final MeterRegistry meters;
    private final Clock clock;
    private final Deque<Map<String, Object>> series = new ArrayDeque<>();
    private final Deque<Map<String, Object>> lastFallbacks = new ArrayDeque<>();
    private final Map<String, Long> responsesByKind = new TreeMap<>();
    private final Map<String, Long> fallbacksByReason = new TreeMap<>();
    private final Recorder appLatency = new Recorder(3);
    private final Deque<Histogram> appIntervals = new ArrayDeque<>();
    private final Deque<LatencyBuckets> turnBaselines = new ArrayDeque<>();
    private final Deque<LatencyBuckets> firstWordsBaselines = new ArrayDeque<>();
    private final TurnShares appShares = new TurnShares(OPEN_TURNS);
    private final Supplier<Map<String, Object>> appCapacity;
    private Map<String, Object> lastAppCapacity = Map.of();
    private final ScheduledExecutorService sampler;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread reader;
    private final Topics topics;
    /** Reads every answer record of the application: the trusting reader (see JsonSerde#fromTrustedBytes). */
    private final Deserializer<AgentResponse> responses;
    private volatile boolean running = true;

    /**
     * @param appCapacity the whole application's capacity totals ({@code active}, {@code queued},
     *                    {@code capacity}, {@code utilization}), asked every sample; empty when no processor runs here
     */
    public Dashboard(MeterRegistry meters, Clock clock, KafkaClients clients, Topics topics,
            Supplier<Map<String, Object>> appCapacity) {
        this.meters = meters;
        this.appCapacity = appCapacity;
        this.clock = clock;
        this.topics = topics;
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "callguard-dashboard-sampler"));
        Map<String, Object> props = clients.consumer("callguard-dashboard");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // Not on the turn path: let the broker gather answers for up to half a second per fetch rather
        // than answer a fetch for every record (hundreds of fetches a second under load).
        props.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 64 * 1024);
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500);
        this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        this.responses = JsonSerde.of(AgentResponse.class).trustingDeserializer();
        this.reader = new Thread(this::readResponses, "callguard-dashboard-reader");
    }

    /** Starts sampling the local meters and following the responses topic from now on. */
    public Dashboard start() {
        List<TopicPartition> partitions = consumer.partitionsFor(topics.responses().name(), Duration.ofSeconds(10))
                .stream().map(p -> new TopicPartition(p.topic(), p.partition())).collect(Collectors.toList());
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        reader.setDaemon(true);
        reader.start();
        sampler.scheduleAtFixedRate(this::sample, 0, SAMPLE_EVERY_MS, TimeUnit.MILLISECONDS);
        return this;
    }

    /**
     * The JSON the seed's {@code getDashboard()} answered, plus capacity, hold and busy lines said
     * ({@code holds_said}, {@code busy_said}, by where, and {@code application.holds}/{@code busy} from the
     * responses topic), fallbacks, breakers, hedges, turn shares
     * and history. {@code p50_latency}/{@code p99_latency} are the time to first words (ms; the turn's first
     * non-empty frame, filler included) and {@code p50_answer_ms}/{@code p99_answer_ms} the time to the complete
     * answer, over the last minute on this instance, all kinds together, read from the histogram buckets; 0 when
     * there were none. Both are the edge's timers when the egress runs here, else the responder's.
     */
    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> out = new LinkedHashMap<>();
        LatencyBuckets words = firstWords().since(firstWordsBaselines.isEmpty() ? LatencyBuckets.EMPTY
                : firstWordsBaselines.peekFirst());
        out.put("p50_latency", round(words.quantileMs(0.5)));
        out.put("p99_latency", round(words.quantileMs(0.99)));
        out.put("first_words_source", edgeHere() ? "edge" : "responder");
        LatencyBuckets now = answers();
        LatencyBuckets window = now.since(turnBaselines.isEmpty() ? LatencyBuckets.EMPTY : turnBaselines.peekFirst());
        out.put("p50_answer_ms", round(window.quantileMs(0.5)));
        out.put("p99_answer_ms", round(window.quantileMs(0.99)));
        out.put("turns_last_minute", (long) window.count());
        out.put("active_calls", gauge("callguard.calls.active"));
        out.put("queued_calls", gauge("callguard.calls.queued"));
        out.put("capacity", gauge("callguard.capacity"));
        double capacity = gauge("callguard.capacity");
        out.put("capacity_utilization", capacity > 0 ? gauge("callguard.calls.active") / capacity : 0.0);
        double webhooks = meters.find("callguard.webhook.latency").timers().stream().mapToLong(Timer::count).sum();
        double slow = meters.find("callguard.webhook.slow").counters().stream().mapToDouble(Counter::count).sum();
        out.put("slow_webhooks_pct", webhooks > 0 ? 100.0 * slow / webhooks : 0.0);
        double turns = now.count();
        double fallbacks = meters.find("callguard.fallbacks").counters().stream().mapToDouble(Counter::count).sum();
        out.put("fallback_rate", turns > 0 ? fallbacks / turns : 0.0);
        Map<String, String> breakers = breakers();
        out.put("breaker_state", breakers.getOrDefault(PRIMARY_BREAKER,
                breakers.isEmpty() ? "unknown" : breakers.values().iterator().next()));
        out.put("breakers", breakers);
        out.put("hedges_started", countsBy(ResponderMetrics.HEDGES_STARTED, ResponderMetrics.TAG_BACKEND));
        out.put("hedges_won", countsBy(ResponderMetrics.HEDGES_WON, ResponderMetrics.TAG_BACKEND));
        out.put("turn_shares", instanceShares());
        // Capacity on the turn path, said by this instance's responder: by where (begin, turn, repeat/interrupt), and
        // by its edge (edge_begin, edge_reconnect).
        Map<String, Long> holds = countsBy(ResponderMetrics.HOLDS, ResponderMetrics.TAG_AT);
        Map<String, Long> busy = countsBy(ResponderMetrics.BUSY, ResponderMetrics.TAG_AT);
        // And the edge's own busy begin of a call already known refused (not on the responses topic).
        countsBy(EgressMetrics.EDGE_BUSY, EgressMetrics.TAG_AT).forEach((at, n) -> busy.merge("edge_" + at, n,
                Long::sum));
        out.put("holds_said", holds.values().stream().mapToLong(Long::longValue).sum());
        out.put("holds_by_at", holds);
        out.put("busy_said", busy.values().stream().mapToLong(Long::longValue).sum());
        out.put("busy_by_at", busy);
        out.put("admission_waits", countsBy(ResponderMetrics.ADMISSION_WAITS, ResponderMetrics.TAG_RESULT));
        Map<String, Object> app = new LinkedHashMap<>();
        Histogram appWindow = new Histogram(3);
        appIntervals.forEach(appWindow::add);
        app.put("responses_by_kind", new TreeMap<>(responsesByKind));
        app.put("fallbacks_by_reason", new TreeMap<>(fallbacksByReason));
        app.put("turn_shares", appShares.snapshot());
        // Every instance's hold and busy lines, as complete records (turns, begins and interrupts alike).
        app.put("holds", responsesByKind.getOrDefault(ResponseKind.HOLD.wireName(), 0L));
        app.put("busy", responsesByKind.getOrDefault(ResponseKind.BUSY.wireName(), 0L));
        long total = responsesByKind.values().stream().mapToLong(Long::longValue).sum();
        app.put("fallback_rate", total > 0 ? (double) responsesByKind.getOrDefault("fallback", 0L) / total : 0.0);
        // Request received at the edge to the answer written by the responder, last minute, every instance.
        app.put("response_p50_ms", appWindow.getTotalCount() > 0 ? round(appWindow.getValueAtPercentile(50) / 1000.0) : 0.0);
        app.put("response_p99_ms", appWindow.getTotalCount() > 0 ? round(appWindow.getValueAtPercentile(99) / 1000.0) : 0.0);
        app.putAll(lastAppCapacity);
        app.put("last_fallbacks", new ArrayList<>(lastFallbacks));
        out.put("application", app);
        out.put("series", new ArrayList<>(series));
        out.put("at_ms", clock.millis());
        return out;
    }

    /** Each breaker's current state by its name (agent-backend, agent-fallback), sorted by name. */
    private Map<String, String> breakers() {
        // resilience4j's binder publishes one gauge per state and breaker, 1 for the current one.
        Map<String, String> out = new TreeMap<>();
        for (Gauge g : meters.find("resilience4j.circuitbreaker.state").gauges()) {
            String name = g.getId().getTag("name");
            if (name != null) {
                out.putIfAbsent(name, "unknown");
                if (g.value() >= 1) {
                    out.put(name, g.getId().getTag("state"));
                }
            }
        }
        return out;
    }

    private Map<String, Long> countsBy(String counter, String tag) {
        Map<String, Long> out = new TreeMap<>();
        for (Counter c : meters.find(counter).counters()) {
            String value = c.getId().getTag(tag);
            if (value != null) {
                out.merge(value, (long) c.count(), Long::sum);
            }
        }
        return out;
    }

    /** This instance's turn shares from the edge's outcome counters (all zero when no egress runs here). */
    private Map<String, Object> instanceShares() {
        long whole = 0;
        long bridged = 0;
        Map<String, Long> closed = new TreeMap<>();
        for (Counter c : meters.find(EgressMetrics.TURN_OUTCOMES).counters()) {
            long n = (long) c.count();
            String outcome = String.valueOf(c.getId().getTag(EgressMetrics.TAG_OUTCOME));
            switch (outcome) {
                case EgressMetrics.OUTCOME_WHOLE -> whole += n;
                case EgressMetrics.OUTCOME_BRIDGED -> bridged += n;
                case EgressMetrics.OUTCOME_CLOSED -> closed.merge(
                        String.valueOf(c.getId().getTag(EgressMetrics.TAG_REASON)), n, Long::sum);
                default -> {
                }
            }
        }
        return TurnShares.shares(whole, bridged, closed);
    }

    private boolean edgeHere() {
        return !meters.find(EgressMetrics.TURN_FIRST_WORDS_LATENCY).timers().isEmpty();
    }

    private LatencyBuckets firstWords() {
        return LatencyBuckets.of(meters.find(edgeHere() ? EgressMetrics.TURN_FIRST_WORDS_LATENCY
                : ResponderMetrics.FIRST_WORDS_LATENCY).timers());
    }

    private LatencyBuckets answers() {
        return LatencyBuckets.of(meters.find(edgeHere() ? EgressMetrics.TURN_LATENCY
                : ResponderMetrics.TURN_LATENCY).timers());
    }

    private double gauge(String name) {
        return meters.find(name).gauges().stream().mapToDouble(Gauge::value).filter(v -> !Double.isNaN(v)).sum();
    }

    private void sample() {
        // Outside the lock: it may ask other instances over HTTP, and /dashboard must not wait for that.
        Map<String, Object> capacity = applicationCapacity();
        synchronized (this) {
            lastAppCapacity = capacity;
            sampleLocked();
        }
    }

    private void sampleLocked() {
        try {
            appIntervals.addLast(appLatency.getIntervalHistogram());
            turnBaselines.addLast(answers());
            firstWordsBaselines.addLast(firstWords());
            while (appIntervals.size() > WINDOW_SAMPLES) {
                appIntervals.removeFirst();
            }
            while (turnBaselines.size() > WINDOW_SAMPLES) {
                turnBaselines.removeFirst();
            }
            while (firstWordsBaselines.size() > WINDOW_SAMPLES) {
                firstWordsBaselines.removeFirst();
            }
            Map<String, Object> snap = snapshot();
            Map<String, Object> point = new LinkedHashMap<>();
            point.put("at_ms", clock.millis());
            point.put("p50_latency", snap.get("p50_latency"));
            point.put("p99_latency", snap.get("p99_latency"));
            point.put("p50_answer_ms", snap.get("p50_answer_ms"));
            point.put("p99_answer_ms", snap.get("p99_answer_ms"));
            point.put("active_calls", snap.get("active_calls"));
            point.put("capacity", snap.get("capacity"));
            series.addLast(point);
            while (series.size() > SERIES_POINTS) {
                series.removeFirst();
            }
        } catch (RuntimeException e) {
            LOG.warn("dashboard sample failed: {}", e.toString());
        }
    }

    private Map<String, Object> applicationCapacity() {
        try {
            Map<String, Object> total = appCapacity.get();
            if (total.isEmpty()) {
                return Map.of();
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("active_calls", total.get("active"));
            out.put("queued_calls", total.get("queued"));
            out.put("capacity", total.get("capacity"));
            out.put("capacity_utilization", total.get("utilization"));
            return out;
        } catch (RuntimeException e) {
            LOG.debug("dashboard cannot read the application's capacity: {}", e.toString());
            return Map.of();
        }
    }

    private void readResponses() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    try {
                        record(responses.deserialize(r.topic(), r.value()));
                    } catch (RuntimeException e) {
                        LOG.debug("dashboard skips {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
                    }
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } finally {
            consumer.close(Duration.ofSeconds(2));
        }
    }

    private synchronized void record(AgentResponse response) {
        appShares.record(response);
        if (response == null || !response.contentComplete()) {
            return;
        }
        responsesByKind.merge(response.kind().wireName(), 1L, Long::sum);
        appLatency.recordValue(Math.max(1, (response.createdAtMs() - response.requestReceivedAtMs()) * 1000));
        if (response.kind() == ResponseKind.FALLBACK || response.kind() == ResponseKind.BUSY) {
            String reason = EgressMetrics.closingReasonTag(response.reason());
            fallbacksByReason.merge(reason, 1L, Long::sum);
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("call_id", response.callId());
            f.put("response_id", response.responseId());
            f.put("kind", response.kind().wireName());
            f.put("reason", reason);
            f.put("at_ms", response.createdAtMs());
            lastFallbacks.addFirst(f);
            while (lastFallbacks.size() > LAST_FALLBACKS) {
                lastFallbacks.removeLast();
            }
        }
    }

    private static double round(double ms) {
        return Math.round(ms * 100) / 100.0;
    }

    @Override
    public void close() {
        running = false;
        sampler.shutdownNow();
        consumer.wakeup();
        try {
            reader.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
