package io.callguard.ingress;

import java.util.LinkedHashMap;
import java.util.Map;

/** Call ids this node opened a socket for, most recent kept, so a reconnect is told from a first open. */
final class SeenCalls {

    private final Map<String, Boolean> seen;

    SeenCalls(int capacity) {
        this.seen = new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > capacity;
            }
        };
    }

    /** True the first time a call id is offered (or once it has been forgotten). */
    synchronized boolean firstTime(String callId) {
        return seen.put(callId, Boolean.TRUE) == null;
    }
}
