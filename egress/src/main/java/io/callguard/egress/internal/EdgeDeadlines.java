package io.callguard.egress.internal;

import io.callguard.common.CommonConfig;
import io.callguard.common.SpokenText;
import io.callguard.egress.EgressConfig;
import java.util.List;
import java.util.Objects;

/**
 * The edge watchdog's deadlines of one turn, counted from the edge's receipt of the request (the responder meets
 * each {@code responder.delivery-margin-ms} earlier): a filler at the budget when nothing was said, a closing line
 * when no words came by the first-words deadline, when the words stopped for the stall limit, or at the hard cap.
 * A begin message owed by the agent is bridged with the greeting instead of a filler, and is not closed with the
 * closing line (see {@link TurnLedger#begin}).
 *
 * @param budgetMs            {@code turn.budget-ms}
 * @param firstWordsDeadlineMs {@code turn.first-words-deadline-ms}
 * @param stallMs             {@code turn.stall-ms}
 * @param maxAnswerMs         {@code turn.max-answer-ms}
 * @param fillers             {@code turn.filler-messages}, each ending with a space
 * @param closingLine         {@code turn.fallback-message}
 * @param greeting            {@code socket.greeting} as said before more words (ending with a space); empty when
 *                            the greeting is empty (the caller speaks first)
 */
public record EdgeDeadlines(long budgetMs, long firstWordsDeadlineMs, long stallMs, long maxAnswerMs,
                            List<String> fillers, String closingLine, String greeting) {

    public EdgeDeadlines {
        fillers = fillers.stream().map(SpokenText::filler).toList();
        Objects.requireNonNull(closingLine, "closingLine");
        greeting = greeting == null || greeting.isEmpty() ? "" : SpokenText.filler(greeting);
        if (fillers.isEmpty()) {
            throw new IllegalArgumentException("at least one filler line is needed");
        }
    }

    /** The deadlines the shared turn settings give, with the egress's view of the greeting. */
    public static EdgeDeadlines of(CommonConfig common, EgressConfig egress) {
        return new EdgeDeadlines(common.turnBudgetMs(), common.turnFirstWordsDeadlineMs(), common.turnStallMs(),
                common.turnMaxAnswerMs(), common.turnFillerMessages(), common.turnFallbackMessage(),
                egress.socketGreeting());
    }
}
