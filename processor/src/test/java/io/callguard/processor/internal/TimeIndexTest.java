package io.callguard.processor.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import org.junit.jupiter.api.Test;

class TimeIndexTest {

    @Test
    void shouldPadNumbersTheWayTheStoredKeysWereWritten() {
        // The keys in existing stores were written with String.format("%019d"): the padding must not change.
        for (long n : new long[] {0, 7, 42, 1_700_000_000_000L, 999_999_999_999_999_999L, Long.MAX_VALUE}) {
            assertThat(TimeIndex.pad(n)).isEqualTo(String.format(Locale.ROOT, "%019d", n));
        }
    }

    @Test
    void shouldOrderKeysByDueTimeThenId() {
        assertThat(TimeIndex.key(9, "b")).isLessThan(TimeIndex.key(10, "a"));
        assertThat(TimeIndex.key(10, "a")).isLessThan(TimeIndex.key(10, "b"));
        assertThat(TimeIndex.key(-5, "a")).isEqualTo(TimeIndex.key(0, "a"));
    }
}
