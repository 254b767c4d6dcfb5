package io.callguard.egress;

import io.callguard.retell.socket.CallSocket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** An in-memory {@link CallSocket} that records what was sent and how it was closed. */
public final class RecordingSocket implements CallSocket {

    private final String callId;
    private final String connectionId;
    private final List<String> frames = new CopyOnWriteArrayList<>();
    private volatile boolean open = true;
    private volatile Integer closeCode;

    public RecordingSocket(String callId, String connectionId) {
        this.callId = callId;
        this.connectionId = connectionId;
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
    public void close(int code, String reason) {
        if (open) {
            open = false;
            closeCode = code;
        }
    }

    /** The peer went away (no close frame from us). */
    public void drop() {
        open = false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    public List<String> frames() {
        return List.copyOf(frames);
    }

    public Integer closeCode() {
        return closeCode;
    }
}
