package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.common.SpokenText;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every class a turn can be heard as, with fillers and closing lines joined as the gateway joins them. */
class TurnClassifierTest {

    private static final String ECHO = "You said: call c1 turn 3";
    private static final String ANSWER = ECHO + ". I can help you with.";
    private static final String FILLER = "Let me check that for you.";
    private static final String CLOSING = "Sorry, give me just a moment.";

    private final TurnClassifier classifier = new TurnClassifier(DrillOptions.gatewayFillerLines(),
            DrillOptions.gatewayClosingLines());

    @Test
    void shouldHearTheAgentsOwnAnswerAsWhole() {
        assertThat(classifier.classify(ANSWER, true, true, ECHO)).isEqualTo(Heard.WHOLE);
    }

    @Test
    void shouldHearAFillerThenTheWholeAnswerAsBridged() {
        // Given the filler as the gateway sends it, then the answer in chunks
        String heard = SpokenText.filler(FILLER) + "You said: " + "call c1 turn 3" + ". I can help you with.";

        assertThat(classifier.classify(heard, true, true, ECHO)).isEqualTo(Heard.BRIDGED);
    }

    @Test
    void shouldHearWordsThenAClosingLineAsTruncatedWhateverTheJoin() {
        // A sentence cut short ("<words>. <line>"), cut after a space ("<words> \u2014 <line>"), after a full sentence
        String cut = "You said: call";
        String spaced = "You said: call c1 ";
        String sentence = ECHO + ".";

        assertThat(classifier.classify(cut + SpokenText.joinClosing(cut, CLOSING), true, true, ECHO))
                .isEqualTo(Heard.TRUNCATED);
        assertThat(classifier.classify(spaced + SpokenText.joinClosing(spaced, CLOSING), true, true, ECHO))
                .isEqualTo(Heard.TRUNCATED);
        assertThat(classifier.classify(sentence + SpokenText.joinClosing(sentence, CLOSING), true, true, ECHO))
                .isEqualTo(Heard.TRUNCATED);
        // A filler, words, then the stall line
        String bridgedCut = SpokenText.filler("One moment.") + "You said: call c1";
        String stall = "Sorry, I lost my train of thought there. Could you say that again?";
        assertThat(classifier.classify(bridgedCut + SpokenText.joinClosing(bridgedCut, stall), true, true, ECHO))
                .isEqualTo(Heard.TRUNCATED);
    }

    @Test
    void shouldHearAnAnswerCutShortWithoutAClosingLineAsTruncated() {
        assertThat(classifier.classify("You said: call c1", true, true, ECHO)).isEqualTo(Heard.TRUNCATED);
    }

    @Test
    void shouldHearOnlyFillerAndClosingLinesAsClosingOnly() {
        String filler = SpokenText.filler("Just a second.");
        String afterFiller = filler + SpokenText.joinClosing(filler, CLOSING);

        assertThat(classifier.classify(afterFiller, true, true, ECHO)).isEqualTo(Heard.CLOSING_ONLY);
        assertThat(classifier.classify(SpokenText.joinClosing("", "Sorry, one moment please."), true, true, ECHO))
                .isEqualTo(Heard.CLOSING_ONLY);
        assertThat(classifier.classify("I'm having a little trouble right now. Could you say that again in a moment?",
                true, true, ECHO)).isEqualTo(Heard.CLOSING_ONLY);
        // Only a filler, then an empty complete
        assertThat(classifier.classify(filler, true, true, ECHO)).isEqualTo(Heard.CLOSING_ONLY);
    }

    @Test
    void shouldHearALineItWasNotToldOfAsNoneOfTheAnswer() {
        assertThat(classifier.classify("Please hold while I transfer you.", true, true, ECHO))
                .isEqualTo(Heard.CLOSING_ONLY);
    }

    @Test
    void shouldHearNoWordsInTheBudgetOrNoCompleteAsSilent() {
        assertThat(classifier.classify(ANSWER, true, false, ECHO)).isEqualTo(Heard.SILENT);
        assertThat(classifier.classify(ANSWER, false, true, ECHO)).isEqualTo(Heard.SILENT);
        assertThat(classifier.classify("", true, false, ECHO)).isEqualTo(Heard.SILENT);
    }

    @Test
    void shouldJudgeAnyAnswerWithoutAnEchoCheck() {
        // Given a real LLM's answer, not an echo, and lines configured on the command line
        TurnClassifier custom = new TurnClassifier(DrillOptions.lines("Hmm, let me see.|Hold on."),
                DrillOptions.lines("We're having trouble."));

        assertThat(custom.classify("Our hours are nine to five.", true, true, null)).isEqualTo(Heard.WHOLE);
        assertThat(custom.classify("Hold on. Our hours are nine to five.", true, true, null)).isEqualTo(Heard.BRIDGED);
        assertThat(custom.classify("Our hours\u2014 We're having trouble.", true, true, null)).isEqualTo(Heard.TRUNCATED);
        assertThat(custom.classify("Hmm, let me see. We're having trouble.", true, true, null))
                .isEqualTo(Heard.CLOSING_ONLY);
    }

    @Test
    void shouldReadTheGatewaysDefaultLinesFromItsConfigDefinitions() {
        assertThat(DrillOptions.gatewayFillerLines()).containsExactly("One moment.", "Let me check that for you.",
                "Just a second.");
        assertThat(DrillOptions.gatewayClosingLines()).contains("Sorry, one moment please.", CLOSING,
                "Let me stop there.").doesNotHaveDuplicates();
        assertThat(List.copyOf(DrillOptions.gatewayClosingLines())).hasSizeGreaterThanOrEqualTo(6);
    }
}
