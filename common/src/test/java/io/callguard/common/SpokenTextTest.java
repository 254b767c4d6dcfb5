package io.callguard.common;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SpokenTextTest {

    @Test
    void shouldJoinAClosingLineCleanlyToWhatWasSaid() {
        assertThat(SpokenText.joinClosing("", "Sorry.")).isEqualTo("Sorry.");
        assertThat(SpokenText.joinClosing("One moment. ", "Sorry.")).isEqualTo("Sorry.");
        assertThat(SpokenText.joinClosing("It is done.", "Sorry.")).isEqualTo(" Sorry.");
        assertThat(SpokenText.joinClosing("I think the", "Sorry.")).isEqualTo(". Sorry.");
        assertThat(SpokenText.joinClosing("I think the ", "Sorry.")).isEqualTo("\u2014 Sorry.");
        assertThat(SpokenText.joinClosing("Well,", "Sorry.")).isEqualTo(" Sorry.");
    }

    @Test
    void shouldEndAFillerWithASpace() {
        assertThat(SpokenText.filler("One moment.")).isEqualTo("One moment. ");
        assertThat(SpokenText.filler("One moment. ")).isEqualTo("One moment. ");
    }
}
