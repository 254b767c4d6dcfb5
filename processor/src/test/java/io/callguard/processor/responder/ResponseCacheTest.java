package io.callguard.processor.responder;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.processor.responder.internal.ResponseCache;
import io.callguard.testkit.ManualClock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ResponseCacheTest {

    private static final List<Turn.Utterance> FIRST_QUESTION = transcript(
            "agent", "Hi, this is Acme. How can I help?", "user", "What is my balance?");

    private final ManualClock clock = new ManualClock(0);

    private static List<Turn.Utterance> transcript(String... roleThenContent) {
        return java.util.stream.IntStream.range(0, roleThenContent.length / 2)
                .mapToObj(i -> new Turn.Utterance(roleThenContent[2 * i], roleThenContent[2 * i + 1])).toList();
    }

    private static Turn turn(String agentId, Integer version, Map<String, String> variables,
            List<Turn.Utterance> transcript) {
        return new Turn("call-" + variables.hashCode(), 1, "response_required", transcript, agentId, variables,
                version);
    }

    @Test
    void shouldNeverShareAnAnswerBetweenCallersWithDifferentDynamicVariables() {
        // Given Alice's first answer is cached
        ResponseCache cache = new ResponseCache(10, 60_000, clock);
        Turn alice = turn("agent-7", 3, Map.of("name", "Alice", "account", "A-1"), FIRST_QUESTION);
        cache.put(cache.key(alice), "Your balance is 120 dollars, Alice.");

        // When Bob, same agent and version, asks the same first question
        Turn bob = turn("agent-7", 3, Map.of("name", "Bob", "account", "B-2"), FIRST_QUESTION);

        // Then he is not given Alice's answer
        assertThat(cache.key(bob)).isNotEqualTo(cache.key(alice));
        assertThat(cache.get(cache.key(bob))).isEmpty();
    }

    @Test
    void shouldShareWhenAgentVersionVariablesAndWholeTranscriptAreTheSame() {
        // Given
        ResponseCache cache = new ResponseCache(10, 60_000, clock);
        Turn first = turn("agent-7", 3, Map.of("name", "Alice", "plan", "gold"), FIRST_QUESTION);
        cache.put(cache.key(first), "Let me check.");

        // When another call has the same variables (in another order) and a transcript differing in case and spacing
        Turn same = turn("agent-7", 3, new java.util.LinkedHashMap<>(Map.of("plan", "gold", "name", "Alice")),
                transcript("agent", "hi,  this is ACME. How can I help?", "user", "what is my balance?\t"));

        // Then it gets the answer
        assertThat(cache.get(cache.key(same))).contains("Let me check.");
        assertThat(cache.key(same)).isEqualTo(ResponseCache.fullKey(first))
                .startsWith(ResponseCache.KEY_VERSION + "/" + ResponseCache.FULL + "/agent-7/");
    }

    @Test
    void shouldKeyOnTheWholeTranscriptByDefault() {
        // Given / When two conversations that end the same way but started differently
        Turn one = turn("agent-7", 3, Map.of(), transcript("agent", "Hello", "user", "My order is late",
                "agent", "I see.", "user", "What now?"));
        Turn other = turn("agent-7", 3, Map.of(), transcript("agent", "Hello", "user", "I want a refund",
                "agent", "I see.", "user", "What now?"));

        // Then they do not share
        assertThat(ResponseCache.fullKey(one)).isNotEqualTo(ResponseCache.fullKey(other));
        assertThat(ResponseCache.tailKey(one)).isEqualTo(ResponseCache.tailKey(other));
    }

    @Test
    void shouldNeverShareAcrossAgentsOrAgentVersions() {
        // Given / When / Then
        Turn base = turn("agent-7", 3, Map.of(), FIRST_QUESTION);
        assertThat(ResponseCache.fullKey(base))
                .isNotEqualTo(ResponseCache.fullKey(turn("agent-8", 3, Map.of(), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.fullKey(turn("agent-7", 4, Map.of(), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.fullKey(turn("agent-7", null, Map.of(), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.fullKey(turn(null, 3, Map.of(), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.fullKey(turn(ResponseCache.UNKNOWN_AGENT, 3, Map.of(), FIRST_QUESTION)));
        assertThat(ResponseCache.tailKey(base))
                .isNotEqualTo(ResponseCache.tailKey(turn("agent-8", 3, Map.of(), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.tailKey(turn("agent-7", 4, Map.of(), FIRST_QUESTION)));
    }

    @Test
    void shouldNeitherStoreNorServeATurnWhoseAgentIsNotKnown() {
        // Given a cache, and two turns of no known agent (perhaps two different agents) asking the same
        ResponseCache cache = new ResponseCache(10, 60_000, Set.of("agent-7"), clock);
        Turn first = turn(null, null, Map.of(), FIRST_QUESTION);
        Turn second = turn("", null, Map.of(), FIRST_QUESTION);

        // Then neither has a key, so the turn path neither reads nor writes the cache for them
        assertThat(cache.key(first)).isNull();
        assertThat(cache.key(second)).isNull();
        // And an entry of no known agent left on the topic by an older version is not loaded back
        String unknownFull = ResponseCache.fullKey(first);
        String unknownTail = ResponseCache.tailKey(first);
        assertThat(unknownFull).startsWith(ResponseCache.KEY_VERSION + "/" + ResponseCache.FULL + "/"
                + ResponseCache.UNKNOWN_AGENT + "/");
        assertThat(cache.restore(unknownFull, "Another agent's answer.", 60_000)).isFalse();
        assertThat(cache.restore(unknownTail, "Another agent's answer.", 60_000)).isFalse();
        assertThat(cache.restore(ResponseCache.fullKey(turn("agent-7", null, Map.of(), FIRST_QUESTION)), "Ours.",
                60_000)).isTrue();
        assertThat(cache.size()).isEqualTo(1);
    }

    @Test
    void shouldNotShareAReminderWithAnAnswerToTheSameTranscript() {
        // Given / When
        Turn answer = turn("agent-7", 3, Map.of(), FIRST_QUESTION);
        Turn reminder = new Turn(answer.callId(), 2, "reminder_required", FIRST_QUESTION, "agent-7", Map.of(), 3);

        // Then
        assertThat(ResponseCache.fullKey(reminder)).isNotEqualTo(ResponseCache.fullKey(answer));
    }

    @Test
    void shouldNotLetOneFieldRunIntoTheNext() {
        // Given / When / Then: the same characters split differently between name and value, role and content
        assertThat(ResponseCache.fullKey(turn("a", 1, Map.of("ab", "c"), FIRST_QUESTION)))
                .isNotEqualTo(ResponseCache.fullKey(turn("a", 1, Map.of("a", "bc"), FIRST_QUESTION)));
        assertThat(ResponseCache.fullKey(turn("a", 1, Map.of(), transcript("user", "hi", "user", "there"))))
                .isNotEqualTo(ResponseCache.fullKey(turn("a", 1, Map.of(), transcript("user", "hi user there"))));
    }

    @Test
    void shouldUseTheTailKeyOnlyForOptedInAgents() {
        // Given agent-7 opted in to the tail key, agent-8 did not
        ResponseCache cache = new ResponseCache(10, 60_000, Set.of("agent-7"), clock);
        Turn alice7 = turn("agent-7", 3, Map.of("name", "Alice"), FIRST_QUESTION);
        Turn alice8 = turn("agent-8", 3, Map.of("name", "Alice"), FIRST_QUESTION);
        cache.put(cache.key(alice7), "We open at nine.");
        cache.put(cache.key(alice8), "Your balance is 120 dollars, Alice.");

        // When Bob asks each agent the same, after a different start of the conversation
        List<Turn.Utterance> bobs = transcript("agent", "Welcome back!", "user", "Hi", "agent",
                "Hi, this is Acme. How can I help?", "user", "What is my balance?");
        Turn bob7 = turn("agent-7", 3, Map.of("name", "Bob"), bobs);
        Turn bob8 = turn("agent-8", 3, Map.of("name", "Bob"), bobs);

        // Then the opted-in agent shares by the tail; the other does not
        assertThat(cache.key(alice7)).startsWith(ResponseCache.KEY_VERSION + "/" + ResponseCache.TAIL + "/agent-7/");
        assertThat(cache.get(cache.key(bob7))).contains("We open at nine.");
        assertThat(cache.key(bob8)).isEqualTo(ResponseCache.fullKey(bob8));
        assertThat(cache.get(cache.key(bob8))).isEmpty();
        // And an opted-in agent's answers are still its own
        assertThat(cache.key(turn("agent-9", 3, Map.of("name", "Bob"), bobs))).isNotEqualTo(cache.key(bob7));
    }

    @Test
    void shouldNotRestoreEntriesKeyedByAnOlderScheme() {
        // Given a cache, and entries written through before and after the key scheme changed
        ResponseCache cache = new ResponseCache(10, 60_000, clock);
        String current = ResponseCache.fullKey(turn("agent-7", 3, Map.of(), FIRST_QUESTION));

        // When they are loaded back
        boolean old = cache.restore("agent-7/" + "ab".repeat(32), "Alice's answer", 60_000);
        boolean ours = cache.restore(current, "answer", 60_000);
        boolean expired = cache.restore(current + "x", "answer", 0);

        // Then only the live one of the current scheme is held
        assertThat(old).isFalse();
        assertThat(ours).isTrue();
        assertThat(expired).isFalse();
        assertThat(cache.size()).isEqualTo(1);
        assertThat(cache.get(current)).contains("answer");
        assertThat(ResponseCache.currentScheme("agent-7/" + "ab".repeat(32))).isFalse();
        assertThat(ResponseCache.currentScheme(null)).isFalse();
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
