package io.callguard.retell.frames;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/** A frame Retell sends to the server ({@code interaction_type}); read with {@link FrameParser}, written with {@link FrameWriter}. */
public sealed interface RetellFrame {

    /** The frame's {@code interaction_type}. */
    String type();

    /** Keep-alive; {@code timestamp} (ms) is null when absent or not an integer. */
    record PingPong(Long timestamp) implements RetellFrame {
        @Override
        public String type() {
            return InteractionType.PING_PONG;
        }
    }

    /** The call object, as Retell sent it; {@code call} is null when absent. */
    record CallDetails(JsonNode call) implements RetellFrame {
        @Override
        public String type() {
            return InteractionType.CALL_DETAILS;
        }
    }

    /**
     * A transcript update that needs no answer.
     *
     * @param transcript              the whole conversation so far
     * @param transcriptWithToolCalls the same with tool calls, as received; null when absent
     * @param turntaking              {@code agent_turn} or {@code user_turn}; null when absent
     */
    record UpdateOnly(List<Utterance> transcript, JsonNode transcriptWithToolCalls, String turntaking)
            implements RetellFrame {
        public UpdateOnly {
            transcript = List.copyOf(transcript);
        }

        @Override
        public String type() {
            return InteractionType.UPDATE_ONLY;
        }
    }

    /** A frame that asks for an answer: {@link ResponseRequired} or {@link ReminderRequired}. */
    sealed interface Turn extends RetellFrame {
        /** The id the answer must carry; non-negative. */
        long responseId();

        /** The whole conversation so far. */
        List<Utterance> transcript();
    }

    /** A turn: the agent must answer {@code responseId}. */
    record ResponseRequired(long responseId, List<Utterance> transcript) implements Turn {
        public ResponseRequired {
            requireNonNegative(responseId);
            transcript = List.copyOf(transcript);
        }

        @Override
        public String type() {
            return InteractionType.RESPONSE_REQUIRED;
        }
    }

    /** A turn after the user has been silent: the agent must answer {@code responseId}. */
    record ReminderRequired(long responseId, List<Utterance> transcript) implements Turn {
        public ReminderRequired {
            requireNonNegative(responseId);
            transcript = List.copyOf(transcript);
        }

        @Override
        public String type() {
            return InteractionType.REMINDER_REQUIRED;
        }
    }

    /** A type this library does not know (Retell adds them): its name and the whole frame, kept as received. */
    record Unknown(String type, ObjectNode raw) implements RetellFrame {
        public Unknown {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(raw, "raw");
        }
    }

    private static void requireNonNegative(long responseId) {
        if (responseId < 0) {
            throw new IllegalArgumentException("response_id must be >= 0, was " + responseId);
        }
    }
}
