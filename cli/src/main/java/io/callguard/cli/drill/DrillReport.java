package io.callguard.cli.drill;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.frames.ResponseType;
import io.callguard.schemas.Json;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * What a drill measured: latency histograms (HdrHistogram, nanoseconds), what the caller heard per turn
 * ({@link Heard}), how the calls meant to end by the agent ended, the agent's frames by type and counts of every
 * failure kind.
 */
public final class DrillReport {

    /** Counts that make a drill fail: each means a caller heard silence or the wrong thing. */
    public static final String SILENT_TURNS = "silent_turns";
    public static final String STALE_ANSWERS = "stale_answers";
    public static final String DUPLICATE_ANSWERS = "duplicate_answers";
    public static final String MISROUTED_ANSWERS = "misrouted_answers";
    public static final String WEBHOOK_FAILURES = "webhook_failures";
    public static final String BAD_INPUT_ACCEPTED = "bad_input_accepted";
    /** The caller said goodbye and the answer completed without end_call. */
    public static final String END_CALL_MISSING = "end_call_missing";
    /** The caller asked to be transferred and the answer completed without a transfer_number. */
    public static final String TRANSFER_MISSING = "transfer_missing";
    /** end_call or a transfer on an answer the caller did not ask it of (the begin message's busy line aside). */
    public static final String UNEXPECTED_END_CALL = "unexpected_end_call";
    /**
     * Calls lost mid-call: the gateway closed the socket with 1000 (Retell hangs up) though no caller asked, or every
     * reconnect of a cut socket failed (Retell ends the call).
     */
    public static final String DROPPED_CALLS = "calls_dropped";
    /** A reconnect's begin message had words: the caller was greeted again mid-call. Counted, not a failure. */
    public static final String GREETED_AGAIN = "greeted_again_on_reconnect";
    /** Calls meant to end whose ending turn never completed (too short a call, or that turn went unanswered). */
    public static final String ENDINGS_NOT_REACHED = "endings_not_reached";

    /** The agent's frames other than responses, config and pings, counted by type apart. */
    public static final List<String> AGENT_FRAME_TYPES = List.of(ResponseType.TOOL_CALL_INVOCATION,
            ResponseType.TOOL_CALL_RESULT, ResponseType.AGENT_INTERRUPT, ResponseType.UPDATE_AGENT,
            ResponseType.METADATA);
    private static final List<String> FAILING = List.of(SILENT_TURNS, DROPPED_CALLS, STALE_ANSWERS, DUPLICATE_ANSWERS,
            MISROUTED_ANSWERS, WEBHOOK_FAILURES, BAD_INPUT_ACCEPTED, END_CALL_MISSING, TRANSFER_MISSING,
            UNEXPECTED_END_CALL);
    private static final List<String> ENDINGS = List.of(Ending.END_CALL.doneCount(), Ending.TRANSFER.doneCount(),
            END_CALL_MISSING, TRANSFER_MISSING, UNEXPECTED_END_CALL, ENDINGS_NOT_REACHED);

    private final Recorder turnLatency = new Recorder(3);
    private final Recorder firstWordsLatency = new Recorder(3);
    private final Recorder webhookLatency = new Recorder(3);
    private final Recorder reconnectLatency = new Recorder(3);
    private final Recorder afterReconnectLatency = new Recorder(3);
    /** When the drill saw each call socket cut (System.nanoTime), for the faults. */
    private final java.util.Queue<Long> cuts = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private final Map<Heard, LongAdder> heard = new EnumMap<>(Heard.class);
    private final Map<String, LongAdder> agentFrames = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> transferNumbers = new ConcurrentHashMap<>();
    private final double minWholeAnswers;
    /** Every judged turn's request time and what was heard, for the faults' time to heal. */
    private final java.util.Queue<Faults.TurnMark> turnMarks = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Webhooks the gateway acknowledged (2xx), for the audit of call-events. */
    private final java.util.Set<EventAudit.Acked> acked = ConcurrentHashMap.newKeySet();
    private List<Faults.Outcome> faults = List.of();
    /** Failed turns described for the report, the first {@link #EXAMPLES}; guarded by itself. */
    private final List<String> turnExamples = new java.util.ArrayList<>();
    private EventAudit.Result audit;
    private final long overBudgetMs = DrillOptions.gatewayBudgetMs();
    private Histogram turns;
    private Histogram firstWords;
    private Histogram webhooks;
    private Histogram reconnects;
    private Histogram afterReconnect;
    private double seconds;
    private double cpuCores = Double.NaN;
    private double gatewayCpuCores = Double.NaN;
    private Map<String, Long> gatewayFallbacks;

    /** A report that fails below {@code minWholeAnswers} (0..1) whole answers; 0 = never for that reason. */
    /** How many failed turns the report describes. */
    private static final int EXAMPLES = 5;

    public DrillReport(double minWholeAnswers) {
        this.minWholeAnswers = minWholeAnswers;
        for (Heard h : Heard.values()) {
            heard.put(h, new LongAdder());
        }
    }

    /** Records the whole-answer latency: from the request to its content_complete. */
    void recordTurn(long nanos) {
        turnLatency.recordValue(Math.max(1, nanos));
    }

    /** Records the time to first words: from the request to the first frame with content (a filler counts). */
    void recordFirstWords(long nanos) {
        firstWordsLatency.recordValue(Math.max(1, nanos));
    }

    /** Notes a judged turn for the faults: when it was asked, what was heard, its whole-answer time (0: none). */
    void recordTurnMark(long sentAtNanos, Heard what, long answerNanos) {
        turnMarks.add(new Faults.TurnMark(sentAtNanos, what, answerNanos));
    }

    void recordAcked(String callId, String event) {
        acked.add(new EventAudit.Acked(callId, event));
    }

    java.util.Set<EventAudit.Acked> acked() {
        return java.util.Set.copyOf(acked);
    }

    List<Faults.TurnMark> turnMarks() {
        return List.copyOf(turnMarks);
    }

    /** What the injected faults did; set once, when the drill is over. */
    void faults(List<Faults.Outcome> outcomes) {
        this.faults = List.copyOf(outcomes);
    }

    /** What the gateway's topics held after the drill; set once, when the drill is over. */
    void audit(EventAudit.Result result) {
        this.audit = result;
    }

    public List<Faults.Outcome> faultOutcomes() {
        return faults;
    }

    public java.util.Optional<EventAudit.Result> auditResult() {
        return java.util.Optional.ofNullable(audit);
    }

    /** Up to {@link #EXAMPLES} failed turns (silent, misrouted) described, printed with the report. */
    void turnExample(String description) {
        synchronized (turnExamples) {
            if (turnExamples.size() < EXAMPLES) {
                turnExamples.add(description);
            }
        }
    }

    /** The failed turns described so far (at most {@link #EXAMPLES}). */
    List<String> turnExamples() {
        synchronized (turnExamples) {
            return List.copyOf(turnExamples);
        }
    }

    void recordHeard(Heard what) {
        heard.get(what).increment();
        if (what == Heard.SILENT) {
            count(SILENT_TURNS);
        }
    }

    void recordWebhook(long nanos) {
        webhookLatency.recordValue(Math.max(1, nanos));
    }

    /** Records how long a cut call was without a socket: from the close to the new socket's open. */
    void recordReconnect(long nanos) {
        reconnectLatency.recordValue(Math.max(1, nanos));
    }

    /** Records that a call's socket was cut (closed abnormally) at {@code atNanos} (System.nanoTime). */
    void recordCut(long atNanos) {
        cuts.add(atNanos);
    }

    List<Long> cuts() {
        return List.copyOf(cuts);
    }

    /**
     * Records, for a turn asked again on a new socket after its socket was cut, the time from asking it there to
     * its first words: the share of a moved turn's silence that is the gateway's, after the reconnect.
     */
    void recordFirstWordsAfterReconnect(long nanos) {
        afterReconnectLatency.recordValue(Math.max(1, nanos));
    }

    void count(String what) {
        counts.computeIfAbsent(what, k -> new LongAdder()).increment();
    }

    /** Counts an agent frame of one of {@link #AGENT_FRAME_TYPES}. */
    void recordAgentFrame(String type) {
        agentFrames.computeIfAbsent(type, k -> new LongAdder()).increment();
    }

    /** Counts a call transferred to {@code number}, as its answer said. */
    void recordTransfer(String number) {
        count(Ending.TRANSFER.doneCount());
        transferNumbers.computeIfAbsent(number, k -> new LongAdder()).increment();
    }

    /** Agent frames received by type, every one of {@link #AGENT_FRAME_TYPES} present, in that order. */
    public Map<String, Long> agentFrames() {
        Map<String, Long> out = new LinkedHashMap<>();
        AGENT_FRAME_TYPES.forEach(type -> out.put(type, sum(agentFrames.get(type))));
        return out;
    }

    /** How the calls meant to end did, every count present: ended, transferred, the failures, not reached. */
    public Map<String, Long> endings() {
        Map<String, Long> out = new LinkedHashMap<>();
        ENDINGS.forEach(kind -> out.put(kind, count(kind, 0)));
        return out;
    }

    /** Calls transferred by the number their answer gave. */
    public Map<String, Long> transferNumbers() {
        Map<String, Long> out = new TreeMap<>();
        transferNumbers.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    private static long sum(LongAdder a) {
        return a == null ? 0 : a.sum();
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
        firstWords = firstWordsLatency.getIntervalHistogram();
        webhooks = webhookLatency.getIntervalHistogram();
        reconnects = reconnectLatency.getIntervalHistogram();
        afterReconnect = afterReconnectLatency.getIntervalHistogram();
        seconds = elapsedSeconds;
        cpuCores = elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : Double.NaN;
        gatewayCpuCores = elapsedSeconds > 0 ? gatewayCpuSeconds / elapsedSeconds : Double.NaN;
        this.gatewayFallbacks = gatewayFallbacks == null ? null : Map.copyOf(gatewayFallbacks);
    }

    public long count(String what, long orElse) {
        LongAdder a = counts.get(what);
        return a == null ? orElse : a.sum();
    }

    /** Whole-answer latency: from the request to its content_complete. */
    public Histogram turns() {
        return turns;
    }

    /** Time to first words: from the request to the first frame with content. */
    public Histogram firstWords() {
        return firstWords;
    }

    /**
     * Turns whose first words came later than the gateway's default {@code turn.budget-ms}: the pipeline missed the
     * budget (a filler at the budget, sent a little late, counts too). Turns with no first words at all are silent.
     */
    public long firstWordsOverBudget() {
        return firstWords.getTotalCount()
                - firstWords.getCountBetweenValues(0, firstWords.highestEquivalentValue(overBudgetMs * 1_000_000L));
    }

    /** Turns the caller heard as {@code what}. */
    public long heard(Heard what) {
        return heard.get(what).sum();
    }

    /** Turns judged by what the caller heard: every turn asked, less those the caller interrupted. */
    public long judgedTurns() {
        return heard.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** (whole + bridged) / judged turns; 0 when no turn was judged. */
    public double wholeShare() {
        long judged = judgedTurns();
        return judged == 0 ? 0 : (double) (heard(Heard.WHOLE) + heard(Heard.BRIDGED)) / judged;
    }

    /** Why the drill failed, one line per reason; empty when it passed. */
    public List<String> failures() {
        List<String> out = new ArrayList<>();
        for (String kind : FAILING) {
            if (count(kind, 0) > 0) {
                out.add(kind + ": " + count(kind, 0));
            }
        }
        if (audit != null) {
            if (audit.missing() > 0) {
                out.add("acknowledged webhooks missing from call-events: " + audit.missing() + " of "
                        + audit.acknowledged());
            }
            if (audit.notArchived() + audit.archivedTwice() + audit.archivedOther() > 0) {
                out.add("calls' final state wrong: " + audit.notArchived() + " not archived, " + audit.archivedTwice()
                        + " archived twice, " + audit.archivedOther() + " archived as not ended");
            }
        }
        for (Faults.Outcome f : faults) {
            if (!f.killed()) {
                out.add("fault not injected: process " + f.pid() + " did not exist");
            } else if (!f.healed()) {
                out.add(String.format(Locale.ROOT, "fault at %.1f s (kill -9 of %d) did not heal: no %d s of whole "
                        + "answers came after it", f.atSeconds(), f.pid(), Faults.STABLE.toSeconds()));
            }
        }
        if (minWholeAnswers > 0 && wholeShare() < minWholeAnswers) {
            out.add(String.format(Locale.ROOT, "whole answers %.1f%% of %d turns, below --min-whole-answers %.1f%%",
                    wholeShare() * 100, judgedTurns(), minWholeAnswers * 100));
        }
        return out;
    }

    public Histogram webhooks() {
        return webhooks;
    }

    /** Time without a socket after a cut: from the close to the new socket's open. */
    public Histogram reconnects() {
        return reconnects;
    }

    /** For turns asked again on a new socket after a cut: from asking there to their first words. */
    public Histogram firstWordsAfterReconnect() {
        return afterReconnect;
    }

    /**
     * True when no turn was silent, no call dropped, no answer was stale, duplicated or misrouted, every ending asked for acted and
     * none unasked, every webhook was taken, and the whole-answer share reached the minimum.
     */
    public boolean passed() {
        return failures().isEmpty();
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
        failures().forEach(f -> s.append("  failed: ").append(f).append(String.format("%n")));
        s.append(line("first words", firstWords));
        s.append(line("whole answer", turns));
        s.append(line("webhook ack", webhooks));
        s.append(line("reconnect", reconnects));
        s.append(line("words after reconnect", afterReconnect));
        s.append(String.format("  %-24s %d%n", "first words over " + overBudgetMs + " ms", firstWordsOverBudget()));
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
        long judged = judgedTurns();
        s.append(String.format(Locale.ROOT, "  %-24s %.1f%% of %d turns (whole + bridged)%n", "whole answers",
                wholeShare() * 100, judged));
        for (Heard h : Heard.values()) {
            s.append(String.format(Locale.ROOT, "  %-24s %d (%.1f%%)%n", "heard " + h.label(), heard(h),
                    judged == 0 ? 0.0 : heard(h) * 100.0 / judged));
        }
        s.append(String.format("  %-24s %s%n", "endings", listed(endings())
                + (transferNumbers.isEmpty() ? "" : ", transferred to " + listed(transferNumbers()))));
        s.append(String.format("  %-24s %s%n", "agent frames", listed(agentFrames())));
        for (String example : turnExamples()) {
            s.append(String.format("  %-24s %s%n", "failed turn", example));
        }
        for (Faults.Outcome f : faults) {
            s.append(String.format(Locale.ROOT, "  %-24s pid %d at %.1f s: %d of %d turns after it %s, "
                    + "%s %.1f s%s%n", "fault kill -9", f.pid(), f.atSeconds(), f.hurtTurns(), f.turnsAfter(),
                    f.healOn() == Faults.HealOn.WHOLE ? "not whole" : "not answered by the agent",
                    f.healed() ? "healed in" : "NOT healed, last hurt turn at", f.healSeconds(),
                    f.hurtLater() == 0 ? "" : "; " + f.hurtLater() + " of them later, after it had healed"));
            if (f.socketsCut() > 0) {
                s.append(String.format(Locale.ROOT, "  %-24s %d sockets cut after it, seen %.0f ms after the kill "
                        + "(median), at most %.0f ms%n", "", f.socketsCut(), f.cutMedianMs(), f.cutMaxMs()));
            }
            StringBuilder around = new StringBuilder();
            for (Faults.Window w : f.around()) {
                around.append(String.format(Locale.ROOT, "%s%s: %d/%d not whole, answer p90 %s", around.isEmpty()
                        ? "" : "; ", w.label(), w.hurt(), w.asked(), Double.isNaN(w.answerP90Ms()) ? "-"
                        : String.format(Locale.ROOT, "%.0f ms", w.answerP90Ms())));
            }
            s.append(String.format("  %-24s %s%n", "", around));
        }
        if (audit != null) {
            s.append(String.format("  %-24s %d acknowledged webhooks, %d missing from call-events; %d calls ended, "
                    + "%d archived as ended%n", "audit", audit.acknowledged(), audit.missing(), audit.callsEnded(),
                    audit.archivedEnded()));
            audit.examples().forEach(e -> s.append("    ").append(e).append(String.format("%n")));
        }
        counts().forEach((k, v) -> s.append(String.format("  %-24s %d%n", k, v)));
        return s.toString();
    }

    /** The same as JSON, for machines. */
    public String json() {
        ObjectNode root = Json.mapper().createObjectNode();
        root.put("passed", passed()).put("seconds", seconds);
        root.set("failures", Json.mapper().valueToTree(failures()));
        root.set("first_words_latency_ms", Json.mapper().valueToTree(percentiles(firstWords)));
        root.set("whole_answer_latency_ms", Json.mapper().valueToTree(percentiles(turns)));
        root.putObject("first_words_over_budget").put("budget_ms", overBudgetMs).put("turns", firstWordsOverBudget());
        ObjectNode heardNode = root.putObject("heard");
        long judged = judgedTurns();
        heardNode.put("turns", judged);
        heardNode.put("whole_answers_share", wholeShare());
        heardNode.put("min_whole_answers", minWholeAnswers);
        for (Heard h : Heard.values()) {
            heardNode.put(h.label(), heard(h));
        }
        ObjectNode shares = heardNode.putObject("shares");
        for (Heard h : Heard.values()) {
            shares.put(h.label(), judged == 0 ? 0.0 : (double) heard(h) / judged);
        }
        root.set("webhook_ack_latency_ms", Json.mapper().valueToTree(percentiles(webhooks)));
        root.set("reconnect_latency_ms", Json.mapper().valueToTree(percentiles(reconnects)));
        root.set("first_words_after_reconnect_ms", Json.mapper().valueToTree(percentiles(afterReconnect)));
        if (!Double.isNaN(cpuCores)) {
            root.put("drill_process_cpu_cores", Math.round(cpuCores * 100) / 100.0);
        }
        if (!Double.isNaN(gatewayCpuCores)) {
            root.put("gateway_process_cpu_cores", Math.round(gatewayCpuCores * 100) / 100.0);
        }
        if (gatewayFallbacks != null) {
            root.set("gateway_fallbacks", Json.mapper().valueToTree(new TreeMap<>(gatewayFallbacks)));
        }
        ObjectNode endingsNode = root.putObject("endings");
        endings().forEach(endingsNode::put);
        endingsNode.set("transfer_numbers", Json.mapper().valueToTree(transferNumbers()));
        root.set("agent_frames", Json.mapper().valueToTree(agentFrames()));
        if (!faults.isEmpty()) {
            var list = root.putArray("faults");
            for (Faults.Outcome f : faults) {
                ObjectNode fault = list.addObject().put("kill_pid", f.pid()).put("killed", f.killed())
                        .put("at_seconds", Math.round(f.atSeconds() * 10) / 10.0)
                        .put("heal_seconds", Math.round(f.healSeconds() * 10) / 10.0).put("healed", f.healed())
                        .put("heal_on", f.healOn().name().toLowerCase(Locale.ROOT))
                        .put("turns_after", f.turnsAfter()).put("turns_hurt", f.hurtTurns())
                        .put("turns_hurt_later", f.hurtLater()).put("sockets_cut", f.socketsCut());
                var windows = fault.putArray("around");
                for (Faults.Window w : f.around()) {
                    ObjectNode node = windows.addObject().put("from_seconds", w.fromSeconds())
                            .put("to_seconds", w.toSeconds()).put("turns", w.asked()).put("not_whole", w.hurt());
                    if (!Double.isNaN(w.answerP90Ms())) {
                        node.put("whole_answer_p90_ms", Math.round(w.answerP90Ms()));
                    }
                }
                if (f.socketsCut() > 0) {
                    fault.putObject("socket_cut_after_kill_ms").put("p50", Math.round(f.cutMedianMs()))
                            .put("max", Math.round(f.cutMaxMs()));
                }
            }
        }
        if (audit != null) {
            root.putObject("audit").put("webhooks_acknowledged", audit.acknowledged())
                    .put("missing_from_call_events", audit.missing()).put("calls_ended", audit.callsEnded())
                    .put("archived_ended", audit.archivedEnded()).put("not_archived", audit.notArchived())
                    .put("archived_twice", audit.archivedTwice()).put("archived_not_ended", audit.archivedOther())
                    .set("examples", Json.mapper().valueToTree(audit.examples()));
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

    /** {@code a 1, b 2}: a count map on one line. */
    static String listed(Map<String, Long> counts) {
        StringBuilder s = new StringBuilder();
        counts.forEach((k, v) -> s.append(s.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
        return s.toString();
    }

    static double ms(long nanos) {
        return Math.round(nanos / 1e4) / 100.0;
    }
}
