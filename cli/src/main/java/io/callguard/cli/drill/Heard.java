package io.callguard.cli.drill;

/** What the caller heard in one turn, judged by {@link TurnClassifier}. */
public enum Heard {
    /** The agent's own complete answer: no filler, no closing line. */
    WHOLE("whole"),
    /** A filler line, then the agent's whole answer. */
    BRIDGED("bridged"),
    /** Words of the answer, then a closing line (or the answer cut short). */
    TRUNCATED("truncated"),
    /** Only a filler and/or a closing line: none of the answer. */
    CLOSING_ONLY("closing_only"),
    /** No words within the budget, or no complete answer at all. */
    SILENT("silent");

    private final String label;

    Heard(String label) {
        this.label = label;
    }

    /** The name used in the reports. */
    public String label() {
        return label;
    }

    /** True for the classes that carried the agent's whole answer. */
    public boolean whole() {
        return this == WHOLE || this == BRIDGED;
    }
}
