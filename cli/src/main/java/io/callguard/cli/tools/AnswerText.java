package io.callguard.cli.tools;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * What an answer record on {@code callguard.responses} does besides its words, as a person debugging a call reads
 * it ({@code tap} and {@code replay} print the same): its frames in the order the edge sends them, then what it
 * asks for after the speech. A record states what it asked for; the edge puts one action per turn on the
 * turn's complete frame ({@code end_call}, then the transfer, then the digit).
 */
public final class AnswerText {

    private static final int MAX_SHOWN = 60;

    private AnswerText() {
    }

    /**
     * The record's effects, e.g. {@code tool_call_invocation lookup_order({"id":"A1"}) [tc-1]},
     * {@code tool_call_result [tc-1] ok: shipped}, {@code update_agent {...}}, {@code metadata {...}},
     * {@code quiet 8000 ms}, {@code no_interruption}, {@code end_call}, {@code transfer +15550100},
     * {@code digit 5}; empty for words alone.
     */
    public static List<String> effects(AgentResponse a) {
        List<String> out = new ArrayList<>();
        for (AgentFrame f : a.frames()) {
            out.add(frame(f));
        }
        if (a.quietUntilMs() != null) {
            out.add("quiet " + Math.max(0, a.quietUntilMs() - a.createdAtMs()) + " ms");
        }
        if (Boolean.TRUE.equals(a.noInterruptionAllowed())) {
            out.add("no_interruption");
        }
        if (Boolean.TRUE.equals(a.endCall())) {
            out.add("end_call");
        }
        if (a.transferNumber() != null) {
            out.add("transfer " + a.transferNumber()
                    + (Boolean.TRUE.equals(a.showTransfereeAsCaller()) ? " (caller's number shown)" : ""));
        }
        if (a.digitToPress() != null) {
            out.add("digit " + a.digitToPress());
        }
        return out;
    }

    /** Where the record belongs: {@code turn}, {@code interrupt 3} or {@code call}. */
    public static String scope(AgentResponse a) {
        return AgentResponse.SCOPE_INTERRUPT.equals(a.scope()) ? "interrupt " + a.interruptId() : a.scope();
    }

    private static String frame(AgentFrame f) {
        return switch (f.frameType()) {
            case TOOL_CALL_INVOCATION -> f.type() + " " + f.name() + "(" + shorten(f.arguments()) + ") ["
                    + f.toolCallId() + "]";
            case TOOL_CALL_RESULT -> f.type() + " [" + f.toolCallId() + "]"
                    + (f.successful() == null ? "" : f.successful() ? " ok" : " failed") + ": " + shorten(f.content());
            case UPDATE_AGENT -> f.type() + " " + shorten(json(f.agentConfig()));
            case METADATA -> f.type() + " " + shorten(json(f.metadata()));
        };
    }

    private static String json(JsonNode node) {
        return node == null ? "null" : node.toString();
    }

    private static String shorten(String text) {
        return text.length() > MAX_SHOWN ? text.substring(0, MAX_SHOWN - 3) + "..." : text;
    }
}
