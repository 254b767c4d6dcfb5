package io.callguard.retell;

import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.ServerFrame;

/** Shorthands over {@link FrameWriter} for the frames the server sends most (edge and egress alike). */
public final class RetellFrames {

    private RetellFrames() {
    }

    /**
     * A {@code response} frame: {@code response_id} an integer, {@code content} a string, {@code content_complete}
     * a boolean; {@code end_call} is written only when true.
     */
    public static String response(long responseId, String content, boolean contentComplete, boolean endCall) {
        return FrameWriter.write(ServerFrame.Response.of(responseId, content, contentComplete)
                .withEndCall(endCall ? Boolean.TRUE : null));
    }
}
