package io.callguard.retell.frames;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * A frame the server sends to Retell ({@code response_type}); written with {@link FrameWriter}, read with
 * {@link FrameParser}. Optional fields are null when not set, and then absent on the wire.
 */
public sealed interface ServerFrame {

    /** The frame's {@code response_type}. */
    String type();

    /**
     * What the server asks of Retell for this socket.
     *
     * @param transcriptWithToolCalls null leaves it unset (absent)
     */
    record Config(boolean autoReconnect, boolean callDetails, Boolean transcriptWithToolCalls) implements ServerFrame {
        /** A config without {@code transcript_with_tool_calls}. */
        public Config(boolean autoReconnect, boolean callDetails) {
            this(autoReconnect, callDetails, null);
        }

        @Override
        public String type() {
            return ResponseType.CONFIG;
        }
    }

    /** The echo of a ping; {@code timestamp} null only when read from a frame without one. */
    record PingPong(Long timestamp) implements ServerFrame {
        @Override
        public String type() {
            return ResponseType.PING_PONG;
        }
    }

    /**
     * (Part of) the answer to a turn. {@code end_call}, {@code transfer_number} and {@code digit_to_press} act once
     * the content is spoken.
     *
     * @param responseId             the turn answered; non-negative
     * @param content                the text to speak; never null
     * @param contentComplete        whether this is the last chunk of the answer
     * @param endCall                hang up after speaking; null means absent
     * @param transferNumber         transfer the call to this number after speaking; null means absent
     * @param showTransfereeAsCaller with a transfer: show the caller's number to the transferee; null means absent
     * @param digitToPress           a DTMF digit to press after speaking; null means absent
     * @param noInterruptionAllowed  the caller cannot interrupt this content; null means absent
     */
    record Response(long responseId, String content, boolean contentComplete, Boolean endCall, String transferNumber,
                    Boolean showTransfereeAsCaller, String digitToPress, Boolean noInterruptionAllowed)
            implements ServerFrame {
        public Response {
            if (responseId < 0) {
                throw new IllegalArgumentException("response_id must be >= 0, was " + responseId);
            }
            Objects.requireNonNull(content, "content");
        }

        /** A response without optional fields. */
        public static Response of(long responseId, String content, boolean contentComplete) {
            return new Response(responseId, content, contentComplete, null, null, null, null, null);
        }

        /** A copy with {@code end_call} set (null removes it). */
        public Response withEndCall(Boolean end) {
            return new Response(responseId, content, contentComplete, end, transferNumber, showTransfereeAsCaller,
                    digitToPress, noInterruptionAllowed);
        }

        /** A copy that transfers to {@code number} (null removes it), showing the caller as caller when asked. */
        public Response withTransfer(String number, Boolean showCaller) {
            return new Response(responseId, content, contentComplete, endCall, number, showCaller, digitToPress,
                    noInterruptionAllowed);
        }

        /** A copy that presses {@code digit} (null removes it). */
        public Response withDigitToPress(String digit) {
            return new Response(responseId, content, contentComplete, endCall, transferNumber,
                    showTransfereeAsCaller, digit, noInterruptionAllowed);
        }

        /** A copy with {@code no_interruption_allowed} set (null removes it). */
        public Response withNoInterruptionAllowed(Boolean noInterruption) {
            return new Response(responseId, content, contentComplete, endCall, transferNumber,
                    showTransfereeAsCaller, digitToPress, noInterruption);
        }

        @Override
        public String type() {
            return ResponseType.RESPONSE;
        }
    }

    /**
     * The agent speaks unprompted; chunks of one {@code interruptId} are spoken in order, a new id discards the
     * earlier interrupt. Optional fields as in {@link Response}.
     */
    record AgentInterrupt(long interruptId, String content, boolean contentComplete, Boolean endCall,
                          String transferNumber, String digitToPress, Boolean noInterruptionAllowed)
            implements ServerFrame {
        public AgentInterrupt {
            if (interruptId < 0) {
                throw new IllegalArgumentException("interrupt_id must be >= 0, was " + interruptId);
            }
            Objects.requireNonNull(content, "content");
        }

        /** An interrupt without optional fields. */
        public static AgentInterrupt of(long interruptId, String content, boolean contentComplete) {
            return new AgentInterrupt(interruptId, content, contentComplete, null, null, null, null);
        }

        @Override
        public String type() {
            return ResponseType.AGENT_INTERRUPT;
        }
    }

    /** A tool call shown to Retell; {@code arguments} is a JSON text, written as a string. */
    record ToolCallInvocation(String toolCallId, String name, String arguments) implements ServerFrame {
        public ToolCallInvocation {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(arguments, "arguments");
        }

        @Override
        public String type() {
            return ResponseType.TOOL_CALL_INVOCATION;
        }
    }

    /** A tool call's result; {@code successful} null means not reported (absent), not failed. */
    record ToolCallResult(String toolCallId, String content, Boolean successful) implements ServerFrame {
        public ToolCallResult {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(content, "content");
        }

        @Override
        public String type() {
            return ResponseType.TOOL_CALL_RESULT;
        }
    }

    /** Changes the agent mid-call. */
    record UpdateAgent(AgentConfig agentConfig) implements ServerFrame {
        public UpdateAgent {
            Objects.requireNonNull(agentConfig, "agentConfig");
        }

        @Override
        public String type() {
            return ResponseType.UPDATE_AGENT;
        }
    }

    /**
     * The agent settings {@link UpdateAgent} changes; null leaves a setting as it is (absent).
     *
     * @param responsiveness          0 to 1
     * @param interruptionSensitivity 0 to 1
     * @param reminderTriggerMs       above 0
     * @param reminderMaxCount        0 or more; 0 disables reminders
     * @throws IllegalArgumentException when a value is out of its range
     */
    record AgentConfig(Double responsiveness, Double interruptionSensitivity, Long reminderTriggerMs,
                       Integer reminderMaxCount) {
        public AgentConfig {
            unit("responsiveness", responsiveness);
            unit("interruption_sensitivity", interruptionSensitivity);
            if (reminderTriggerMs != null && reminderTriggerMs <= 0) {
                throw new IllegalArgumentException("reminder_trigger_ms must be > 0, was " + reminderTriggerMs);
            }
            if (reminderMaxCount != null && reminderMaxCount < 0) {
                throw new IllegalArgumentException("reminder_max_count must be >= 0, was " + reminderMaxCount);
            }
        }

        private static void unit(String name, Double value) {
            if (value != null && !(value >= 0 && value <= 1)) {
                throw new IllegalArgumentException(name + " must be in 0..1, was " + value);
            }
        }
    }

    /** Any JSON the server wants recorded with the call; never null (a JSON null is a NullNode). */
    record Metadata(JsonNode metadata) implements ServerFrame {
        public Metadata {
            Objects.requireNonNull(metadata, "metadata");
        }

        @Override
        public String type() {
            return ResponseType.METADATA;
        }
    }

    /** A type this library does not know: its name and the whole frame, kept as received. */
    record Unknown(String type, ObjectNode raw) implements ServerFrame {
        public Unknown {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(raw, "raw");
        }
    }
}
