package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.processor.responder.internal.ResponseCache;
import io.callguard.testkit.ManualClock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseCacheTest {

    private final ManualClock clock = new ManualClock(0);

    private static List<Turn.Utterance> transcript(String... userThenAgent) {
        return java.util.stream.IntStream.range(0, userThenAgent.length)
                .mapToObj(i -> new Turn.Utterance(i % 2 == 0 ? "user" : "agent", userThenAgent[i])).toList();
    }

    @Test
    void shouldKeyOnAgentAndTheNormalizedLastTwoEntries() {
        // Given / When / Then
        assertThat(ResponseCache.key("a1", transcript("old", "Hi there", "What  TIME\tis it? ")))
                .isEqualTo(ResponseCache.key("a1", transcript("different start", "hi there", "what time is it?")))
                .isNotEqualTo(ResponseCache.key("a2", transcript("old", "Hi there", "What time is it?")))
                .isNotEqualTo(ResponseCache.key("a1", transcript("old", "Hello", "What time is it?")))
                .startsWith("a1/");
        assertThat(ResponseCache.key(null, transcript())).startsWith(ResponseCache.UNKNOWN_AGENT + "/");
    }

    @Test
    void shouldExpireEntriesAfterTheirTtl() {
        // Given
        ResponseCache cache = new ResponseCache(10, 1_000, clock);
        cache.put("k", "answer");

        // When / Then
        clock.advance(999);
        assertThat(cache.get("k")).contains("answer");
        clock.advance(1);
        assertThat(cache.get("k")).isEmpty();
        assertThat(cache.size()).isZero();
    }

    @Test
    void shouldEvictTheLeastRecentlyUsedEntryWhenFull() {
        // Given
        ResponseCache cache = new ResponseCache(2, 60_000, clock);
        cache.put("a", "1");
        cache.put("b", "2");
        cache.get("a");

        // When
        cache.put("c", "3");

        // Then
        assertThat(cache.get("b")).isEmpty();
        assertThat(cache.get("a")).contains("1");
        assertThat(cache.get("c")).contains("3");
    }
}
