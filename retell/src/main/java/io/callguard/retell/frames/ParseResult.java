package io.callguard.retell.frames;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/**
 * What {@link FrameParser} made of one text frame: a frame, or the reason it is unusable. Never an exception.
 *
 * @param <F> {@link RetellFrame} or {@link ServerFrame}
 */
public sealed interface ParseResult<F> {

    /**
     * A usable frame.
     *
     * @param frame         the typed frame ({@code Unknown} for a type this library does not know)
     * @param tree          the whole frame as received, unknown fields included
     * @param unknownFields top-level fields the frame's type does not define, in frame order; dropped from
     *                      {@code frame}, kept in {@code tree}; empty for an unknown type
     */
    record Parsed<F>(F frame, ObjectNode tree, List<String> unknownFields) implements ParseResult<F> {
        public Parsed {
            Objects.requireNonNull(frame, "frame");
            Objects.requireNonNull(tree, "tree");
            unknownFields = List.copyOf(unknownFields);
        }

        /** Whether the frame's type is not one this library knows. */
        public boolean unknownType() {
            return frame instanceof RetellFrame.Unknown || frame instanceof ServerFrame.Unknown;
        }
    }

    /**
     * An unusable frame.
     *
     * @param reason one of {@link FrameParser}'s reason codes, e.g. {@value FrameParser#INVALID_JSON}
     * @param detail what was wrong, for logs and dead letters
     */
    record Failed<F>(String reason, String detail) implements ParseResult<F> {
        public Failed {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(detail, "detail");
        }
    }
}
