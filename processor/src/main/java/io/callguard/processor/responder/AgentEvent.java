package io.callguard.processor.responder;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * What an agent backend streams for a turn: the words to speak and everything else Retell lets an agent do.
 * The responder turns them into {@code callguard.responses} records, in order; the egress applies Retell's rules
 * (actions act once, after the content; end_call before transfer before digit; tool frames in order).
 */
public sealed interface AgentEvent {

    /** Words to speak, in order; never empty. */
    record Text(String text, boolean noInterruptionAllowed) implements AgentEvent {
        public Text {
            Objects.requireNonNull(text, "text");
        }
    }

    /** Hang up once the answer is spoken. */
    record EndCall() implements AgentEvent {
    }

    /** Transfer the call once the answer is spoken; {@code showTransfereeAsCaller} null leaves it unset. */
    record Transfer(String number, Boolean showTransfereeAsCaller) implements AgentEvent {
        public Transfer {
            Objects.requireNonNull(number, "number");
        }
    }

    /** Press a DTMF digit once the answer is spoken. */
    record PressDigit(String digit) implements AgentEvent {
        public PressDigit {
            Objects.requireNonNull(digit, "digit");
        }
    }

    /**
     * A tool call, shown to Retell. The answer may be quiet while it runs, up to {@code timeLimitMs} (0: the usual
     * stall limit applies), without counting as a stall.
     *
     * @param arguments the arguments as a JSON text
     */
    record ToolInvocation(String toolCallId, String name, String arguments, long timeLimitMs) implements AgentEvent {
        public ToolInvocation {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(arguments, "arguments");
        }
    }

    /** A tool call's result; {@code successful} null means not reported. */
    record ToolResult(String toolCallId, String content, Boolean successful) implements AgentEvent {
        public ToolResult {
            Objects.requireNonNull(toolCallId, "toolCallId");
            Objects.requireNonNull(content, "content");
        }
    }

    /** Change the agent's settings ({@code agent_config}, as Retell's object). */
    record UpdateAgent(JsonNode agentConfig) implements AgentEvent {
        public UpdateAgent {
            Objects.requireNonNull(agentConfig, "agentConfig");
        }
    }

    /** Metadata to record with the call. */
    record Metadata(JsonNode metadata) implements AgentEvent {
        public Metadata {
            Objects.requireNonNull(metadata, "metadata");
        }
    }

    /**
     * The agent speaks unprompted ({@code agent_interrupt}); only on a backend's unprompted channel
     * ({@link AgentBackend#unprompted}), never within a turn. Actions as in {@link AgentEvent}; null for none.
     */
    record Interrupt(long interruptId, String content, boolean contentComplete, Boolean endCall,
                     String transferNumber, String digitToPress, Boolean noInterruptionAllowed)
            implements AgentEvent {
        public Interrupt {
            Objects.requireNonNull(content, "content");
            if (interruptId < 0) {
                throw new IllegalArgumentException("interruptId must be >= 0, was " + interruptId);
            }
        }
    }

    /** Words to speak. */
    static Text text(String text) {
        return new Text(text, false);
    }

    /** A sink that passes on the text of {@link Text} events and ignores the rest (for callers that want words). */
    static java.util.function.Consumer<AgentEvent> textsTo(java.util.function.Consumer<String> words) {
        return event -> {
            if (event instanceof Text text) {
                words.accept(text.text());
            }
        };
    }
}
