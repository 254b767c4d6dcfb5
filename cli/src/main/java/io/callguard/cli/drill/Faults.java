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
 * <p>A fault's <em>time to heal</em> is the time from the kill to the request of the last turn, asked before the
 * next fault (or the end), that was not answered whole: after that every turn was. Zero when no turn was hurt.
 */
final class Faults {

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

    /** A turn as the faults judge it: when it was asked and whether the caller heard the agent's whole answer. */
    record TurnMark(long sentAtNanos, boolean whole) {
    }

    /**
     * What one fault did.
     *
     * @param killed     whether the process existed and got the signal
     * @param atSeconds  when it was killed, from the drill's start
     * @param healSeconds time from the kill to the last hurt turn's request; 0 when none was hurt
     * @param turnsAfter turns asked from the kill to the next fault (or the end)
     * @param hurtTurns  those of them not answered whole (bridged, truncated, closing only, silent)
     */
    record Outcome(long pid, boolean killed, double atSeconds, double healSeconds, long turnsAfter, long hurtTurns) {
    }

    private final List<Kill> kills;
    private final List<Long> killedAtNanos = new ArrayList<>();
    private final List<Boolean> delivered = new ArrayList<>();

    Faults(List<Kill> kills) {
        this.kills = kills.stream().sorted(Comparator.comparing(Kill::at)).toList();
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
        synchronized (this) {
            killedAtNanos.add(System.nanoTime());
            delivered.add(sent);
        }
    }

    /** What each kill that happened did to the turns, in time order. */
    synchronized List<Outcome> outcomes(List<TurnMark> turns, long startedNanos) {
        List<Outcome> out = new ArrayList<>();
        for (int i = 0; i < killedAtNanos.size(); i++) {
            long from = killedAtNanos.get(i);
            long to = i + 1 < killedAtNanos.size() ? killedAtNanos.get(i + 1) : Long.MAX_VALUE;
            long asked = 0;
            long hurt = 0;
            long lastHurt = from;
            for (TurnMark t : turns) {
                if (t.sentAtNanos() < from || t.sentAtNanos() >= to) {
                    continue;
                }
                asked++;
                if (!t.whole()) {
                    hurt++;
                    lastHurt = Math.max(lastHurt, t.sentAtNanos());
                }
            }
            out.add(new Outcome(kills.get(i).pid(), delivered.get(i), (from - startedNanos) / 1e9,
                    (lastHurt - from) / 1e9, asked, hurt));
        }
        return out;
    }
}
