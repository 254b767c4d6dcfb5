package io.callguard.ingress;

import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntSupplier;

/** Records what the edge told the delivery side, and how many records were produced at that moment. */
class RecordingEdgeListener implements EdgeListener {

    record Closed(CallSocket socket, int code, String reason) {
    }

    record Turn(CallSocket socket, long responseId, long receivedAtMs, int producedBefore) {
    }

    final List<CallSocket> opened = new CopyOnWriteArrayList<>();
    final List<Closed> closed = new CopyOnWriteArrayList<>();
    final List<Turn> turns = new CopyOnWriteArrayList<>();
    private final IntSupplier produced;

    RecordingEdgeListener(IntSupplier produced) {
        this.produced = produced;
    }

    @Override
    public void socketOpened(CallSocket socket) {
        opened.add(socket);
    }

    @Override
    public void socketClosed(CallSocket socket, int code, String reason) {
        closed.add(new Closed(socket, code, reason));
    }

    @Override
    public void turnRequested(CallSocket socket, long responseId, long receivedAtMs) {
        turns.add(new Turn(socket, responseId, receivedAtMs, produced.getAsInt()));
    }

    record Begin(CallSocket socket, String content, boolean endCall, long atMs) {
    }

    /** Begin messages said now, for the delivery side to write. */
    final List<Begin> said = new CopyOnWriteArrayList<>();

    @Override
    public void beginNow(CallSocket socket, String content, boolean endCall, long atMs) {
        said.add(new Begin(socket, content, endCall, atMs));
    }

    /** Begin messages owed to the pipeline, as turns of response 0. */
    final List<Turn> begins = new CopyOnWriteArrayList<>();

    @Override
    public void beginRequested(CallSocket socket, long receivedAtMs) {
        begins.add(new Turn(socket, 0, receivedAtMs, produced.getAsInt()));
    }
}
