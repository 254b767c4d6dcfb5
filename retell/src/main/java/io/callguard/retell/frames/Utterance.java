package io.callguard.retell.frames;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * One entry of a transcript: who spoke ({@code agent} or {@code user}) and what was said.
 *
 * @param role    the speaker, as Retell spells it; never null
 * @param content the words said; never null
 * @param words   Retell's word timings as received, or null when absent (kept, never interpreted)
 */
public record Utterance(String role, String content, JsonNode words) {

    public static final String AGENT = "agent";
    public static final String USER = "user";

    public Utterance {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    /** An utterance without word timings. */
    public Utterance(String role, String content) {
        this(role, content, null);
    }
}
