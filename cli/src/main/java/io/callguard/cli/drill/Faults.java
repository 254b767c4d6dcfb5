package io.callguard.cli.drill;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The faults a drill injects: {@code kill -9} of given processes (a broker of {@code callguard cluster}, a gateway)
 * at given times into the measured run, and what each did to the turns: how long until the calls were answered by
 * the backend again (whole, not bridged), measured from the turns the caller asked after it.
 *
 * <p>A fault's <em>time to heal</em> is the time from the kill to the request of the last turn not answered whole
 * before the first {@link #STABLE} in which every turn asked was answered whole: the backend answers again, in time,
 * and keeps doing so. Zero when no turn was hurt in the first {@link #STABLE} after the kill. Turns hurt after that
 * (in the window up to the next fault or the end: a restart of what was killed, a rebalance it causes) are counted
 * apart, so a later disturbance is reported rather than folded into, or hidden by, the heal time. A fault after which
 * no such stretch came before the window closed did not heal.
 */
final class Faults {

    /** How long every turn must be answered whole for a fault to count as healed. */
    static final Duration STABLE = Duration.ofSeconds(5);

    /** Which turns count as healthy when a fault's time to heal is measured. */
    enum HealOn {
        /**
         * The agent's own answer, in time and unbridged ({@link Heard#WHOLE}): for a backend that starts within
         * the budget, so any filler is the fault's doing.
         */
        WHOLE,
        /**
         * The agent's whole answer, bridged by a filler or not ({@link Heard#whole()}): for a slow, heavy-tailed
         * backend, which some turns wait out behind a filler with no fault at all. A fault's turns are then those
         * the backend did not answer: a closing line only, an answer cut short, silence.
         */
        ANSWERED;

        boolean healthy(Heard heard) {
            return this == WHOLE ? heard == Heard.WHOLE : heard.whole();
        }

        /**
         * Parses {@code whole} or {@code answered}.
         *
         * @throws IllegalArgumentException for anything else
         */
        static HealOn parse(String text) {
            return switch (text) {
                case "whole" -> WHOLE;
                case "answered" -> ANSWERED;
                default -> throw new IllegalArgumentException("--heal-on takes whole or answered, not '" + text
                        + "'");
            };
        }
    }

    /** One {@code kill -9}: the process and when, from the drill's start. */
    record Kill(long pid, Duration at) {

        /**
         * Parses {@code PID@TIME}, e.g. {@code 4242@10s}.
         *
         * @throws IllegalArgumentException when it is not that shape
         */
        static Kill parse(String text) {
            int at = text.indexOf('@');
            if (at <= 0 || at == text.length() - 1) {
                throw new IllegalArgumentException("--kill takes PID@TIME, e.g. 4242@10s, not '" + text + "'");
            }
            long pid;
            try {
                pid = Long.parseLong(text.substring(0, at).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--kill: '" + text.substring(0, at) + "' is not a process id");
            }
            if (pid <= 1 || pid == ProcessHandle.current().pid()) {
                throw new IllegalArgumentException("--kill: refusing to kill process " + pid);
            }
            Duration when = DrillCommand.parse(text.substring(at + 1));
            if (when.isNegative()) {
                throw new IllegalArgumentException("--kill: the time must not be negative, was " + text);
            }
            return new Kill(pid, when);
        }
    }

    /**
     * A turn as the faults judge it: when it was asked, what the caller heard, and how long its whole answer took.
     *
     * @param answerNanos from the request to its content_complete; 0 when it never completed
     */
    record TurnMark(long sentAtNanos, Heard heard, long answerNanos) {

        TurnMark(long sentAtNanos, Heard heard) {
            this(sentAtNanos, heard, 0);
        }

        /** The agent's own whole answer, not bridged: the backend answered in time. */
        boolean whole() {
            return heard == Heard.WHOLE;
        }
    }

    /**
     * What one fault did.
     *
     * @param killed      whether the process existed and got the signal
     * @param atSeconds   when it was killed, from the drill's start
     * @param healSeconds time from the kill to the request of the last hurt turn before the first {@link #STABLE} of
     *                    whole answers; 0 when none was hurt right after it
     * @param healed      whether such a stretch came before the next fault (or the end)
     * @param turnsAfter  turns asked from the kill to the next fault (or the end)
     * @param healOn      which turns counted as healthy
     * @param hurtTurns   those of them not healthy by {@code healOn} (for {@link HealOn#WHOLE}: bridged, truncated,
     *                    closing only, silent)
     * @param hurtLater   of those, the ones asked after it had healed
     * @param socketsCut  call sockets the drill saw cut in the first {@link #STABLE} after the kill (a killed
     *                    gateway's calls; 0 for a broker)
     * @param cutMedianMs median time from the kill to the drill seeing those sockets cut: the dead process's
     *                    sockets closing and the close crossing the balancer, before any reconnect can start;
     *                    NaN when none was cut
     * @param cutMaxMs    the longest of those times; NaN when none was cut
     * @param atNanos     when it was killed (System.nanoTime), for a caller in the same process to line up its
     *                    own observations
     * @param around      the turns in the 10 s before it and in each 5 s after it (see {@link #AROUND})
     */
    record Outcome(long pid, boolean killed, double atSeconds, double healSeconds, boolean healed, long turnsAfter,
                   HealOn healOn, long hurtTurns, long hurtLater, long socketsCut, double cutMedianMs, double cutMaxMs,
                   long atNanos, List<Window> around) {
    }

    /**
     * The turns asked in one stretch around a fault, from {@code fromSeconds} to {@code toSeconds} of the kill:
     * against a backend that bridges or delays some turns with no fault at all, a fault shows as the rise of these
     * above the stretch before it, where a time to heal cannot tell it from the backend's own tail.
     *
     * @param asked       turns asked in it
     * @param hurt        of those, not answered whole (bridged, truncated, closing only, silent)
     * @param answerP90Ms the 90th percentile of their whole-answer times (request to content_complete), of those
     *                    that completed; NaN when none did
     */
    record Window(double fromSeconds, double toSeconds, long asked, long hurt, double answerP90Ms) {

        /** {@code 10 s before}, {@code 0-5 s after}. */
        String label() {
            return fromSeconds < 0 ? String.format(java.util.Locale.ROOT, "%.0f s before", -fromSeconds)
                    : String.format(java.util.Locale.ROOT, "%.0f-%.0f s after", fromSeconds, toSeconds);
        }
    }

    /** The stretches of {@link Window}: the 10 s before a fault, then four of 5 s after it. */
    static final List<Duration[]> AROUND = List.of(
            new Duration[] {Duration.ofSeconds(-10), Duration.ZERO},
            new Duration[] {Duration.ZERO, Duration.ofSeconds(5)},
            new Duration[] {Duration.ofSeconds(5), Duration.ofSeconds(10)},
            new Duration[] {Duration.ofSeconds(10), Duration.ofSeconds(15)},
            new Duration[] {Duration.ofSeconds(15), Duration.ofSeconds(20)});

    private final List<Kill> kills;
    private final HealOn healOn;
    private final List<Long> killedAtNanos = new ArrayList<>();
    private final List<Boolean> delivered = new ArrayList<>();

    Faults(List<Kill> kills) {
        this(kills, HealOn.WHOLE);
    }

    Faults(List<Kill> kills, HealOn healOn) {
        this.kills = kills.stream().sorted(Comparator.comparing(Kill::at)).toList();
        this.healOn = healOn;
    }

    boolean isEmpty() {
        return kills.isEmpty();
    }

    /** Schedules every kill, counted from {@code startedNanos} (System.nanoTime). */
    void schedule(ScheduledExecutorService scheduler, long startedNanos) {
        for (Kill kill : kills) {
            long delay = startedNanos + kill.at().toNanos() - System.nanoTime();
            scheduler.schedule(() -> kill(kill), Math.max(0, delay), TimeUnit.NANOSECONDS);
        }
    }

    private void kill(Kill kill) {
        Optional<ProcessHandle> process = ProcessHandle.of(kill.pid());
        // destroyForcibly is SIGKILL on Linux and macOS: no shutdown hook, no clean close, like a crash.
        boolean sent = process.map(ProcessHandle::destroyForcibly).orElse(false);
        recordKill(System.nanoTime(), sent);
    }

    /** Records that the next kill happened at {@code atNanos} (System.nanoTime), delivered or not. */
    synchronized void recordKill(long atNanos, boolean sent) {
        killedAtNanos.add(atNanos);
        delivered.add(sent);
    }

    /**
     * What each kill that happened did to the turns and the sockets, in time order.
     *
     * @param turns        every judged turn
     * @param cutsAtNanos  when the drill saw each call socket cut (System.nanoTime)
     * @param startedNanos the drill's start (System.nanoTime)
     */
    synchronized List<Outcome> outcomes(List<TurnMark> turns, List<Long> cutsAtNanos, long startedNanos) {
        List<TurnMark> sorted = turns.stream().sorted(Comparator.comparingLong(TurnMark::sentAtNanos)).toList();
        long stable = STABLE.toNanos();
        List<Outcome> out = new ArrayList<>();
        for (int i = 0; i < killedAtNanos.size(); i++) {
            long from = killedAtNanos.get(i);
            long to = i + 1 < killedAtNanos.size() ? killedAtNanos.get(i + 1) : Long.MAX_VALUE;
            List<TurnMark> window = sorted.stream().filter(t -> t.sentAtNanos() >= from && t.sentAtNanos() < to)
                    .toList();
            List<Long> hurt = window.stream().filter(t -> !healOn.healthy(t.heard())).map(TurnMark::sentAtNanos)
                    .toList();
            long lastAsked = window.isEmpty() ? from : window.get(window.size() - 1).sentAtNanos();
            // The heal point: the kill itself when the first STABLE was clean, else the first hurt turn followed by
            // STABLE without another (the next hurt turn, and the last turn asked, at least that far away).
            long healAt = -1;
            if (hurt.isEmpty() || hurt.get(0) - from >= stable) {
                healAt = from;
            } else {
                for (int h = 0; h < hurt.size(); h++) {
                    long next = h + 1 < hurt.size() ? hurt.get(h + 1) : Long.MAX_VALUE;
                    if (Math.min(next, lastAsked) - hurt.get(h) >= stable) {
                        healAt = hurt.get(h);
                        break;
                    }
                }
            }
            boolean healed = healAt >= 0 && lastAsked - healAt >= stable;
            long healPoint = healAt >= 0 ? healAt : hurt.isEmpty() ? from : hurt.get(hurt.size() - 1);
            long later = hurt.stream().filter(t -> t > healPoint).count();
            double[] cutMs = cutsAtNanos.stream().filter(c -> c >= from && c - from < stable && c < to)
                    .mapToDouble(c -> (c - from) / 1e6).sorted().toArray();
            out.add(new Outcome(kills.get(i).pid(), delivered.get(i), (from - startedNanos) / 1e9,
                    (healPoint - from) / 1e9, healed, window.size(), healOn, hurt.size(), later, cutMs.length,
                    median(cutMs), cutMs.length == 0 ? Double.NaN : cutMs[cutMs.length - 1], from,
                    around(sorted, from)));
        }
        return out;
    }

    private static List<Window> around(List<TurnMark> sorted, long killedAt) {
        List<Window> out = new ArrayList<>();
        for (Duration[] stretch : AROUND) {
            long start = killedAt + stretch[0].toNanos();
            long end = killedAt + stretch[1].toNanos();
            List<TurnMark> in = sorted.stream().filter(t -> t.sentAtNanos() >= start && t.sentAtNanos() < end)
                    .toList();
            double[] answers = in.stream().filter(t -> t.answerNanos() > 0).mapToDouble(t -> t.answerNanos() / 1e6)
                    .sorted().toArray();
            out.add(new Window(stretch[0].toSeconds(), stretch[1].toSeconds(), in.size(),
                    in.stream().filter(t -> !t.whole()).count(),
                    answers.length == 0 ? Double.NaN : answers[(int) Math.ceil(answers.length * 0.9) - 1]));
        }
        return List.copyOf(out);
    }

    /** The median of sorted values; NaN when there are none. */
    private static double median(double[] sorted) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
