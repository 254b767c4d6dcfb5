package io.callguard.egress;

import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.SocketFrames;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A {@link SocketFrames} sink that records what reached it. */
public final class RecordingFrames implements SocketFrames {

    public final List<CallSocket> opened = new CopyOnWriteArrayList<>();
    public final List<String> texts = new CopyOnWriteArrayList<>();
    public final List<Integer> closeCodes = new CopyOnWriteArrayList<>();

    @Override
    public void opened(CallSocket socket) {
        opened.add(socket);
    }

    @Override
    public void text(CallSocket socket, String frame) {
        texts.add(frame);
    }

    @Override
    public void closed(CallSocket socket, int code, String reason) {
        closeCodes.add(code);
    }
}
