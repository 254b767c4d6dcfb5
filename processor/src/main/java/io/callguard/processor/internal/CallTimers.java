package io.callguard.processor.internal;

import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The wall-clock timers of calls (TTL, queue timeout, socket-lost grace, archive grace, closed-call marker) in one
 * {@link TimeIndex}, so one range scan per punctuation finds every timer that is due. A timer is a hint:
 * when it fires, the call's state decides whether it still applies.
 */
public final class CallTimers {

    /** What a timer is for. */
    public enum Kind {
        /** A live call's TTL since its last change. */
        TTL("ttl"),
        /** A queued call's wait limit. */
        QUEUE_TIMEOUT("queue"),
        /** End of a live call's socket-lost grace: release its slot or queue place unless a socket came back. */
        SOCKET_LOST("socket"),
        /** End of an archived call's grace period: delete its state. */
        GRACE("grace"),
        /** End of a removed call's closed marker. */
        CLOSED("closed");

        private final String tag;

        Kind(String tag) {
            this.tag = tag;
        }

        static Kind ofTag(String tag) {
            for (Kind kind : values()) {
                if (kind.tag.equals(tag)) {
                    return kind;
                }
            }
            throw new IllegalArgumentException("unknown timer kind '" + tag + "'");
        }
    }

    /** One due timer. */
    public record Timer(Kind kind, String callId, long dueAtMs) {
    }

    private final TimeIndex index;

    public CallTimers(KeyValueStore<String, String> store) {
        this.index = new TimeIndex(store);
    }

    public void schedule(Kind kind, String callId, long dueAtMs) {
        index.schedule(dueAtMs, id(kind, callId));
    }

    public void cancel(Kind kind, String callId, long dueAtMs) {
        index.cancel(dueAtMs, id(kind, callId));
    }

    /** Removes and returns the timers due by {@code nowMs}, oldest first, at most {@code limit}. */
    public List<Timer> takeDue(long nowMs, int limit) {
        List<Timer> timers = new ArrayList<>();
        for (TimeIndex.Due due : index.takeDue(nowMs, limit)) {
            int separator = due.id().indexOf('|');
            timers.add(new Timer(Kind.ofTag(due.id().substring(0, separator)), due.id().substring(separator + 1),
                    due.dueAtMs()));
        }
        return timers;
    }

    private static String id(Kind kind, String callId) {
        return kind.tag + '|' + callId;
    }
}
