package io.callguard.testkit;

import io.callguard.retell.socket.CallSocket;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An in-memory {@link CallSocket} that records the frames sent and the code it was first closed with.
 * Thread-safe; a closed or dropped socket refuses frames.
 */
public final class RecordingSocket implements CallSocket {

    private final String callId;
    private final String connectionId;
    private final List<String> frames = new CopyOnWriteArrayList<>();
    private volatile boolean open = true;
    private volatile Integer closeCode;
    private volatile boolean aborted;

    public RecordingSocket(String callId, String connectionId) {
        this.callId = callId;
        this.connectionId = connectionId;
    }

    /** A socket with a random connection id. */
    public RecordingSocket(String callId) {
        this(callId, UUID.randomUUID().toString());
    }

    @Override
    public String callId() {
        return callId;
    }

    @Override
    public String connectionId() {
        return connectionId;
    }

    @Override
    public boolean send(String json) {
        if (!open) {
            return false;
        }
        frames.add(json);
        return true;
    }

    @Override
    public synchronized void close(int code, String reason) {
        if (open) {
            open = false;
            closeCode = code;
        }
    }

    /** Dropped by us without a close frame ({@link CallSocket#abort()}): the peer sees 1006. */
    @Override
    public synchronized void abort() {
        if (open) {
            open = false;
            aborted = true;
        }
    }

    /** True when the socket was first closed by {@link #abort()}. */
    public boolean aborted() {
        return aborted;
    }

    /** The peer went away (no close frame from us). */
    public void drop() {
        open = false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    /** The frames sent, in order. */
    public List<String> frames() {
        return List.copyOf(frames);
    }

    /** The code of the first close, or null while open or when only dropped. */
    public Integer closeCode() {
        return closeCode;
    }
}
