package io.callguard.app.dashboard;

import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
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

    private final MeterRegistry meters;
    private final Clock clock;
    private final Deque<Map<String, Object>> series = new ArrayDeque<>();
    private final Deque<Map<String, Object>> lastFallbacks = new ArrayDeque<>();
    private final Map<String, Long> responsesByKind = new TreeMap<>();
    private final Map<String, Long> fallbacksByReason = new TreeMap<>();
    private final Recorder appLatency = new Recorder(3);
    private Histogram appWindow = new Histogram(3);
    private final ScheduledExecutorService sampler;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread reader;
    private final Topics topics;
    private volatile boolean running = true;

    public Dashboard(MeterRegistry meters, Clock clock, String bootstrapServers, Topics topics) {
        this.meters = meters;
        this.clock = clock;
        this.topics = topics;
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "callguard-dashboard-sampler"));
        this.consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.CLIENT_ID_CONFIG, "callguard-dashboard", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new ByteArrayDeserializer());
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
        sampler.scheduleAtFixedRate(this::sample, SAMPLE_EVERY_MS, SAMPLE_EVERY_MS, TimeUnit.MILLISECONDS);
        return this;
    }

    /** The JSON the seed's {@code getDashboard()} answered, plus capacity, fallbacks, breaker and history. */
    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> out = new LinkedHashMap<>();
        double[] turn = percentilesMs(meters.find("callguard.turn.latency").timers());
        out.put("p50_latency", turn[0]);
        out.put("p99_latency", turn[1]);
        out.put("active_calls", gauge("callguard.calls.active"));
        out.put("queued_calls", gauge("callguard.calls.queued"));
        out.put("capacity", gauge("callguard.capacity"));
        double capacity = gauge("callguard.capacity");
        out.put("capacity_utilization", capacity > 0 ? gauge("callguard.calls.active") / capacity : 0.0);
        double webhooks = meters.find("callguard.webhook.latency").timers().stream().mapToLong(Timer::count).sum();
        double slow = meters.find("callguard.webhook.slow").counters().stream().mapToDouble(Counter::count).sum();
        out.put("slow_webhooks_pct", webhooks > 0 ? 100.0 * slow / webhooks : 0.0);
        double turns = meters.find("callguard.turn.latency").timers().stream().mapToLong(Timer::count).sum();
        double fallbacks = meters.find("callguard.fallbacks").counters().stream().mapToDouble(Counter::count).sum();
        out.put("fallback_rate", turns > 0 ? fallbacks / turns : 0.0);
        out.put("breaker_state", breakerState());
        Map<String, Object> app = new LinkedHashMap<>();
        Histogram window = appWindow;
        app.put("responses_by_kind", new TreeMap<>(responsesByKind));
        app.put("fallbacks_by_reason", new TreeMap<>(fallbacksByReason));
        long total = responsesByKind.values().stream().mapToLong(Long::longValue).sum();
        app.put("fallback_rate", total > 0 ? (double) responsesByKind.getOrDefault("fallback", 0L) / total : 0.0);
        app.put("response_p50_ms", window.getTotalCount() > 0 ? window.getValueAtPercentile(50) / 1000.0 : 0.0);
        app.put("response_p99_ms", window.getTotalCount() > 0 ? window.getValueAtPercentile(99) / 1000.0 : 0.0);
        app.put("last_fallbacks", new ArrayList<>(lastFallbacks));
        out.put("application", app);
        out.put("series", new ArrayList<>(series));
        out.put("at_ms", clock.millis());
        return out;
    }

    private String breakerState() {
        // resilience4j's binder publishes one gauge per state, 1 for the current one.
        for (Gauge g : meters.find("resilience4j.circuitbreaker.state").gauges()) {
            if (g.value() >= 1) {
                return g.getId().getTag("state");
            }
        }
        return "unknown";
    }

    private double gauge(String name) {
        return meters.find(name).gauges().stream().mapToDouble(Gauge::value).filter(v -> !Double.isNaN(v)).sum();
    }

    private static double[] percentilesMs(Collection<Timer> timers) {
        double p50 = 0;
        double p99 = 0;
        for (Timer t : timers) {
            HistogramSnapshot snapshot = t.takeSnapshot();
            for (ValueAtPercentile v : snapshot.percentileValues()) {
                double ms = v.value(TimeUnit.MILLISECONDS);
                if (Math.abs(v.percentile() - 0.5) < 1e-9) {
                    p50 = Math.max(p50, ms);
                } else if (Math.abs(v.percentile() - 0.99) < 1e-9) {
                    p99 = Math.max(p99, ms);
                }
            }
        }
        return new double[] {round(p50), round(p99)};
    }

    private synchronized void sample() {
        try {
            Histogram h = appLatency.getIntervalHistogram();
            appWindow = h;
            Map<String, Object> snap = snapshot();
            Map<String, Object> point = new LinkedHashMap<>();
            point.put("at_ms", clock.millis());
            point.put("p50_latency", snap.get("p50_latency"));
            point.put("p99_latency", snap.get("p99_latency"));
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

    private void readResponses() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    try {
                        record(topics.responses().valueSerde().deserializer().deserialize(r.topic(), r.value()));
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
        if (response == null || !response.contentComplete()) {
            return;
        }
        responsesByKind.merge(response.kind().wireName(), 1L, Long::sum);
        appLatency.recordValue(Math.max(1, (response.createdAtMs() - response.requestReceivedAtMs()) * 1000));
        if (response.kind() == ResponseKind.FALLBACK || response.kind() == ResponseKind.BUSY) {
            String reason = response.reason() == null ? "unknown" : response.reason();
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
