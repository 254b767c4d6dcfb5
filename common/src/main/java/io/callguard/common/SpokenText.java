package io.callguard.common;

/** How lines callguard adds to a turn (fillers, closing lines) join what the caller already heard. */
public final class SpokenText {

    private SpokenText() {
    }

    /**
     * The closing line as it should follow what was already said: nothing before the first words; a space after a
     * finished sentence or a pause mark (unless one was said); after a sentence cut short a full stop, or a dash
     * when a space was already said (a sent word cannot be taken back).
     */
    public static String joinClosing(CharSequence heard, String line) {
        int end = heard.length();
        while (end > 0 && Character.isWhitespace(heard.charAt(end - 1))) {
            end--;
        }
        if (end == 0) {
            return line;
        }
        char last = heard.charAt(end - 1);
        boolean spaced = end < heard.length();
        boolean sentenceEnded = last == '.' || last == '!' || last == '?' || last == '\u2026';
        boolean paused = last == ',' || last == ';' || last == ':' || last == '-' || last == '\u2014';
        if (sentenceEnded || paused) {
            return spaced ? line : " " + line;
        }
        return spaced ? "\u2014 " + line : ". " + line;
    }

    /** A filler line as sent: followed by a space, so the answer after it reads as a new sentence. */
    public static String filler(String line) {
        return line.endsWith(" ") ? line : line + " ";
    }
}
