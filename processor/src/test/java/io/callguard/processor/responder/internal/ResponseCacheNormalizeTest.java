package io.callguard.processor.responder.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The cache key's text normalization, held to the regex it replaced: every key written through to the cache topic
 * before must mean the same turn after.
 */
class ResponseCacheNormalizeTest {

    /** The normalization as it was written first, the oracle. */
    private static String byRegex(String text) {
        return text.toLowerCase(Locale.ROOT).replaceAll("\\s+", " ").trim();
    }

    @Test
    void shouldLowerCaseCollapseWhitespaceAndTrimAsTheRegexDid() {
        // Given texts with every kind of whitespace run, control characters at the ends and letters whose lower
        // case changes length
        String[] texts = {"", " ", "Hello", "Hello  World", " Hello\tWorld\n", "a\u000Bb\fc\rd", "\u0001trim me\u0002",
            "İstanbul ŞEHİR", "STRASSE ß Σίσυφος", "no\u00A0break", "tabs\t\t\tand  spaces   ", "x \n y"};

        // Then each normalizes exactly as the regex did
        for (String text : texts) {
            assertThat(ResponseCache.normalize(text)).as("normalize(%s)", text).isEqualTo(byRegex(text));
        }
    }

    @Test
    void shouldMatchTheRegexOnRandomTexts() {
        // Given 20,000 random texts over letters of both cases, digits, every whitespace and some control and
        // non-ASCII characters (seeded, so a failure repeats)
        char[] alphabet = "aAzZ09 \t\n\u000B\f\r\u0001\u001F\u00A0İıßΣ.,!?".toCharArray();
        Random random = new Random(15);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder text = new StringBuilder();
            for (int j = random.nextInt(24); j > 0; j--) {
                text.append(alphabet[random.nextInt(alphabet.length)]);
            }

            // Then the one-pass normalization gives the regex's result
            assertThat(ResponseCache.normalize(text.toString())).as("normalize(%s)", text)
                    .isEqualTo(byRegex(text.toString()));
        }
    }
}
