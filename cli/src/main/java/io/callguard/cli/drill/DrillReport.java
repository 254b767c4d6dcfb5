package io.callguard.cli.drill;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.Json;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/** What a drill measured: latency histograms (HdrHistogram, nanoseconds) and counts of every failure kind. */
public final class DrillReport {

    /** Counts that make a drill fail: each means a caller heard silence or the wrong thing. */
    public static final String SILENT_TURNS = "silent_turns";
    public static final String STALE_ANSWERS = "stale_answers";
    public static final String DUPLICATE_ANSWERS = "duplicate_answers";
    public static final String MISROUTED_ANSWERS = "misrouted_answers";
    public static final String WEBHOOK_FAILURES = "webhook_failures";
    public static final String BAD_INPUT_ACCEPTED = "bad_input_accepted";

    private final Recorder turnLatency = new Recorder(3);
    private final Recorder firstChunkLatency = new Recorder(3);
    private final Recorder webhookLatency = new Recorder(3);
    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private Histogram turns;
    private Histogram firstChunks;
    private Histogram webhooks;
    private double seconds;
    private double cpuCores = Double.NaN;
    private double gatewayCpuCores = Double.NaN;
    private Map<String, Long> gatewayFallbacks;

    void recordTurn(long nanos) {
        turnLatency.recordValue(Math.max(1, nanos));
    }

    void recordFirstChunk(long nanos) {
        firstChunkLatency.recordValue(Math.max(1, nanos));
    }

    void recordWebhook(long nanos) {
        webhookLatency.recordValue(Math.max(1, nanos));
    }

    void count(String what) {
        counts.computeIfAbsent(what, k -> new LongAdder()).increment();
    }

    /**
     * Freezes the histograms; call once, when the drill is over.
     *
     * @param elapsedSeconds how long the drill ran
     * @param cpuSeconds     CPU time the drill's own process used meanwhile, or NaN when unknown
     * @param gatewayCpuSeconds CPU time the gateway's process used meanwhile (from its /metrics), or NaN
     * @param gatewayFallbacks  fallback answers the gateway gave meanwhile by reason (from its /metrics), or null
     */
    void finish(double elapsedSeconds, double cpuSeconds, double gatewayCpuSeconds,
                Map<String, Long> gatewayFallbacks) {
        turns = turnLatency.getIntervalHistogram();
        firstChunks = firstChunkLatency.getIntervalHistogram();
        webhooks = webhookLatency.getIntervalHistogram();
        seconds = elapsedSeconds;
        cpuCores = elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : Double.NaN;
        gatewayCpuCores = elapsedSeconds > 0 ? gatewayCpuSeconds / elapsedSeconds : Double.NaN;
        this.gatewayFallbacks = gatewayFallbacks == null ? null : Map.copyOf(gatewayFallbacks);
    }

    public long count(String what, long orElse) {
        LongAdder a = counts.get(what);
        return a == null ? orElse : a.sum();
    }

    public Histogram turns() {
        return turns;
    }

    public Histogram firstChunks() {
        return firstChunks;
    }

    public Histogram webhooks() {
        return webhooks;
    }

    /** True when no turn was silent and no answer was stale, duplicated or misrouted, and every webhook was taken. */
    public boolean passed() {
        return count(SILENT_TURNS, 0) == 0 && count(STALE_ANSWERS, 0) == 0 && count(DUPLICATE_ANSWERS, 0) == 0
                && count(MISROUTED_ANSWERS, 0) == 0 && count(WEBHOOK_FAILURES, 0) == 0
                && count(BAD_INPUT_ACCEPTED, 0) == 0;
    }

    public Map<String, Long> counts() {
        Map<String, Long> out = new java.util.TreeMap<>();
        counts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** The summary a person reads. */
    public String text() {
        StringBuilder s = new StringBuilder();
        s.append(String.format("drill %s in %.1f s%n", passed() ? "PASSED" : "FAILED", seconds));
        s.append(line("turn latency", turns));
        s.append(line("first chunk", firstChunks));
        s.append(line("webhook ack", webhooks));
        if (!Double.isNaN(cpuCores)) {
            s.append(String.format("  %-24s %.2f cores%n", "drill process cpu", cpuCores));
        }
        if (!Double.isNaN(gatewayCpuCores)) {
            s.append(String.format("  %-24s %.2f cores%n", "gateway process cpu", gatewayCpuCores));
        }
        if (gatewayFallbacks != null) {
            s.append(String.format("  %-24s %s%n", "gateway fallbacks", gatewayFallbacks.isEmpty() ? "none"
                    : new TreeMap<>(gatewayFallbacks).toString().replaceAll("[{}]", "").replace("=", " ")));
        }
        counts().forEach((k, v) -> s.append(String.format("  %-24s %d%n", k, v)));
        return s.toString();
    }

    /** The same as JSON, for machines. */
    public String json() {
        ObjectNode root = Json.mapper().createObjectNode();
        root.put("passed", passed()).put("seconds", seconds);
        root.set("turn_latency_ms", Json.mapper().valueToTree(percentiles(turns)));
        root.set("first_chunk_latency_ms", Json.mapper().valueToTree(percentiles(firstChunks)));
        root.set("webhook_ack_latency_ms", Json.mapper().valueToTree(percentiles(webhooks)));
        if (!Double.isNaN(cpuCores)) {
            root.put("drill_process_cpu_cores", Math.round(cpuCores * 100) / 100.0);
        }
        if (!Double.isNaN(gatewayCpuCores)) {
            root.put("gateway_process_cpu_cores", Math.round(gatewayCpuCores * 100) / 100.0);
        }
        if (gatewayFallbacks != null) {
            root.set("gateway_fallbacks", Json.mapper().valueToTree(new TreeMap<>(gatewayFallbacks)));
        }
        root.set("counts", Json.mapper().valueToTree(counts()));
        return root.toPrettyString();
    }

    static Map<String, Double> percentiles(Histogram h) {
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("count", (double) h.getTotalCount());
        out.put("p50", ms(h.getValueAtPercentile(50)));
        out.put("p90", ms(h.getValueAtPercentile(90)));
        out.put("p99", ms(h.getValueAtPercentile(99)));
        out.put("p99.9", ms(h.getValueAtPercentile(99.9)));
        out.put("max", ms(h.getMaxValue()));
        return out;
    }

    private static String line(String name, Histogram h) {
        if (h.getTotalCount() == 0) {
            return String.format("  %-14s none%n", name);
        }
        return String.format("  %-14s n=%d  p50 %.2f ms  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n", name,
                h.getTotalCount(), ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)),
                ms(h.getValueAtPercentile(99)), ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()));
    }

    static double ms(long nanos) {
        return Math.round(nanos / 1e4) / 100.0;
    }
}
