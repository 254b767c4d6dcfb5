package io.callguard.cli.drill;

import java.util.List;
import java.util.Objects;

/**
 * Judges a turn by what the caller heard: the concatenated content of its response frames, read against the
 * filler and closing lines the gateway may add. A filler is sent first with a trailing space; a closing line is
 * joined after the words already said with nothing, a space, {@code ". "} or {@code "\u2014 "}
 * ({@code io.callguard.common.SpokenText}), so the classifier strips those separators too.
 */
public final class TurnClassifier {

    private final List<String> fillers;
    private final List<String> closings;

    /**
     * @param fillers  the filler lines, e.g. {@code One moment.}; blank ones are ignored
     * @param closings the closing lines, e.g. {@code Sorry, one moment please.}; blank ones are ignored
     */
    public TurnClassifier(List<String> fillers, List<String> closings) {
        this.fillers = fillers.stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
        // Longest first: a closing line that ends another ("... one moment please." / "one moment please.") is
        // stripped whole.
        this.closings = closings.stream().map(String::strip).filter(s -> !s.isEmpty())
                .sorted((a, b) -> Integer.compare(b.length(), a.length())).toList();
    }

    /**
     * The class of one turn.
     *
     * @param heard         every content chunk of the response, concatenated
     * @param complete      whether a {@code content_complete:true} arrived
     * @param firstWordsInBudget whether the first non-empty chunk came within the budget
     * @param echo          the answer expected to start the agent's words (e.g. {@code You said: hi}), or null
     *                      when the answer is not checked
     */
    public Heard classify(String heard, boolean complete, boolean firstWordsInBudget, String echo) {
        Objects.requireNonNull(heard, "heard");
        if (!complete || !firstWordsInBudget || heard.isBlank()) {
            return Heard.SILENT;
        }
        String rest = heard.strip();
        boolean bridged = false;
        for (boolean stripped = true; stripped; ) {
            stripped = false;
            for (String filler : fillers) {
                if (rest.startsWith(filler)) {
                    rest = rest.substring(filler.length()).stripLeading();
                    bridged = true;
                    stripped = true;
                }
            }
        }
        boolean closed = false;
        for (String closing : closings) {
            if (rest.endsWith(closing)) {
                rest = withoutJoin(rest.substring(0, rest.length() - closing.length()));
                closed = true;
                break;
            }
        }
        if (rest.isEmpty()) {
            return Heard.CLOSING_ONLY;
        }
        if (closed) {
            return Heard.TRUNCATED;
        }
        if (echo == null || rest.startsWith(echo)) {
            return bridged ? Heard.BRIDGED : Heard.WHOLE;
        }
        // Not the echo: the start of it cut short, or a line the drill was not told of (none of the answer).
        return echo.startsWith(rest) ? Heard.TRUNCATED : Heard.CLOSING_ONLY;
    }

    /** The words before a closing line, without the separator the gateway joined it with. */
    private static String withoutJoin(String before) {
        String s = before.stripTrailing();
        if (s.endsWith("\u2014")) {
            s = s.substring(0, s.length() - 1).stripTrailing();
        }
        return s;
    }
}
