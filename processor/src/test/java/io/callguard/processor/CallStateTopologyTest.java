package io.callguard.processor;

import static io.callguard.processor.TestEvents.callAnalyzed;
import static io.callguard.processor.TestEvents.callEnded;
import static io.callguard.processor.TestEvents.callStarted;
import static io.callguard.processor.TestEvents.redelivery;
import static io.callguard.processor.TestEvents.webhook;
import static io.callguard.processor.TopologyFixture.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.common.MetricTags;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.SampleRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The call topology folding lifecycle webhooks, deduplicating and dead-lettering, in a TopologyTestDriver. */
class CallStateTopologyTest {

    private static final long DEDUPE_TTL_MS = 60_000;
    private static final long PURGE_INTERVAL_MS = 1_000;
    /** The default call.state-counters-interval-ms. */
    private static final long COUNTERS_INTERVAL_MS = 5_000;

    @TempDir
    Path stateDir;

    private TopologyFixture fixture;

    @BeforeEach
    void startDriver() {
        fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.DEDUPE_TTL_MS_CONFIG, DEDUPE_TTL_MS,
                ProcessorConfig.DEDUPE_PURGE_INTERVAL_MS_CONFIG, PURGE_INTERVAL_MS));
    }

    @AfterEach
    void closeDriver() {
        fixture.close();
    }

    @Test
    void shouldFoldCallStartedIntoActiveState() {
        // When
        fixture.send(callStarted("c1", T0 + 5));

        // Then
        CallState state = fixture.lastState("c1");
        assertThat(state.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(state.started()).isTrue();
        assertThat(state.ended()).isFalse();
        assertThat(state.agentId()).isEqualTo("agent_1");
        assertThat(state.agentVersion()).isEqualTo(3);
        assertThat(state.callType()).isEqualTo("phone_call");
        assertThat(state.direction()).isEqualTo("inbound");
        assertThat(state.fromNumber()).isEqualTo("+15550001");
        assertThat(state.toNumber()).isEqualTo("+15550002");
        assertThat(state.retellStatus()).isEqualTo("ongoing");
        assertThat(state.startTimestamp()).isEqualTo(1_700_000_000_000L);
        assertThat(state.eventsApplied()).isEqualTo(1);
        assertThat(state.firstEventAtMs()).isEqualTo(T0 + 5);
        assertThat(state.lastEventAtMs()).isEqualTo(T0 + 5);
        assertThat(state.updatedAtMs()).isEqualTo(T0);
        assertThat(fixture.storedState("c1")).isEqualTo(state);
    }

    @Test
    void shouldFoldCallEndedIntoEndedState() {
        // Given
        fixture.send(callStarted("c1", T0));

        // When
        fixture.send(callEnded("c1", T0 + 60_000));

        // Then
        CallState state = fixture.lastState("c1");
        assertThat(state.status()).isEqualTo(CallStatus.ENDED);
        assertThat(state.started()).isTrue();
        assertThat(state.ended()).isTrue();
        assertThat(state.retellStatus()).isEqualTo("ended");
        assertThat(state.endTimestamp()).isEqualTo(1_700_000_060_000L);
        assertThat(state.durationMs()).isEqualTo(60_000L);
        assertThat(state.disconnectionReason()).isEqualTo("user_hangup");
        assertThat(state.metadata().get("customer").asText()).isEqualTo("c-1");
        assertThat(state.dynamicVariables().get("name").asText()).isEqualTo("José");
        assertThat(state.transcriptLength()).isEqualTo(4);
        assertThat(state.eventsApplied()).isEqualTo(2);
        assertThat(state.lastEventAtMs()).isEqualTo(T0 + 60_000);
    }

    @Test
    void shouldFoldCallAnalyzedKeepingEndedFieldsItDoesNotCarry() {
        // Given
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));

        // When
        fixture.send(callAnalyzed("c1", T0 + 70_000));

        // Then
        CallState state = fixture.lastState("c1");
        assertThat(state.analyzed()).isTrue();
        assertThat(state.status()).isEqualTo(CallStatus.ENDED);
        assertThat(state.durationMs()).isEqualTo(60_000L);
        assertThat(state.metadata().get("customer").asText()).isEqualTo("c-1");
        assertThat(state.eventsApplied()).isEqualTo(3);
    }

    @Test
    void shouldKeepLongestTranscriptWhateverTheOrder() {
        // When
        fixture.send(TestEvents.transcriptUpdated("c1", T0, 6));
        fixture.send(TestEvents.transcriptUpdated("c1", T0 + 1, 2));

        // Then: the second changed counters only, so it is stored at once and published with the next interval
        CallState state = fixture.storedState("c1");
        assertThat(state.transcriptLength()).isEqualTo(6);
        assertThat(state.eventsApplied()).isEqualTo(2);
        assertThat(state.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.lastState("c1").eventsApplied()).isEqualTo(1);
        fixture.advanceMs(COUNTERS_INTERVAL_MS);
        assertThat(fixture.lastState("c1")).isEqualTo(state);
    }

    @Test
    void shouldReachSameStateWhenCallEndedArrivesBeforeCallStarted() {
        // Given: the same call delivered in order (c1) and with call_ended first (c2)
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.send(callEnded("c2", T0 + 60_000));

        // When
        fixture.send(callStarted("c2", T0));

        // Then
        CallState inOrder = fixture.storedState("c1");
        CallState reversed = fixture.storedState("c2");
        assertThat(reversed.status()).isEqualTo(CallStatus.ENDED);
        assertThat(reversed.retellStatus()).isEqualTo("ended");
        assertThat(inOrder.admittedAtMs()).isEqualTo(T0);
        assertThat(reversed.admittedAtMs()).as("a call first seen ended never takes a slot").isNull();
        assertThat(reversed.toBuilder().callId("c1").admittedAtMs(T0).build()).isEqualTo(inOrder);
    }

    @Test
    void shouldTakeFieldFromLatestLifecycleEventThatCarriesIt() {
        // Given: call_ended carries a reason, call_analyzed does not carry one; call_started says "ongoing"
        CallEvent analyzedWithoutReason = TestEvents.webhook("c1", "call_analyzed", T0,
                call -> call.put("call_status", "analyzed_status"));

        // When: analyzed first, then started, then ended
        fixture.send(analyzedWithoutReason);
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0));

        // Then
        CallState state = fixture.storedState("c1");
        assertThat(state.disconnectionReason()).isEqualTo("user_hangup");
        assertThat(state.retellStatus()).isEqualTo("analyzed_status");
        assertThat(state.agentVersion()).isEqualTo(3);
    }

    @Test
    void shouldCountEventTypesNobodyKnowsUnderOneSeries() {
        // Given a live call, and 100 events of 100 types nobody knows, each delivered twice
        fixture.send(callStarted("c1", T0));
        unknownTypes(0, 100);
        int series = fixture.meters.getMeters().size();

        // When 100 more come, each of a type not seen before
        unknownTypes(100, 200);

        // Then no series was added: applied and duplicates count them under "other"
        assertThat(fixture.meters.getMeters()).hasSize(series);
        assertThat(fixture.count(ProcessorMetrics.EVENTS_APPLIED, ProcessorMetrics.TAG_KIND, MetricTags.OTHER))
                .isEqualTo(200);
        assertThat(fixture.count(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND, MetricTags.OTHER))
                .isEqualTo(200);
        assertThat(fixture.count(ProcessorMetrics.EVENTS_APPLIED, ProcessorMetrics.TAG_KIND, "call_started"))
                .isEqualTo(1);
    }

    private void unknownTypes(int from, int to) {
        for (int i = from; i < to; i++) {
            CallEvent made = webhook("c1", "made_up_" + i, T0 + i, call -> { });
            fixture.send(made);
            fixture.send(redelivery(made));
        }
    }

    @Test
    void shouldDropDuplicateCallEnded() {
        // Given
        fixture.send(callStarted("c1", T0));
        CallEvent ended = callEnded("c1", T0 + 60_000);

        // When: Retell delivers call_ended three times
        fixture.send(ended);
        fixture.send(redelivery(ended));
        fixture.send(redelivery(ended));

        // Then: one change per applied event, duplicates counted on the state and in the metric
        assertThat(fixture.stateChanges()).hasSize(2);
        CallState state = fixture.storedState("c1");
        assertThat(state.eventsApplied()).isEqualTo(2);
        assertThat(state.duplicatesDropped()).isEqualTo(2);
        assertThat(fixture.count(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND, "call_ended"))
                .isEqualTo(2.0);
    }

    @Test
    void shouldNeverDedupeEventsWithoutIdempotencyKey() {
        // Given
        CallEvent transcript = TestEvents.transcriptUpdated("c1", T0, 3);

        // When
        fixture.send(transcript);
        fixture.send(redelivery(transcript));

        // Then: both applied (the second, a change of counters only, published with the next interval)
        assertThat(fixture.storedState("c1").eventsApplied()).isEqualTo(2);
        assertThat(fixture.storedState("c1").duplicatesDropped()).isZero();
        assertThat(fixture.stateChanges()).hasSize(1);
        fixture.advanceMs(COUNTERS_INTERVAL_MS);
        assertThat(fixture.lastState("c1").eventsApplied()).isEqualTo(2);
    }

    @Test
    void shouldApplyRedeliveryAgainAfterDedupeTtl() {
        // Given
        CallEvent started = callStarted("c1", T0);
        fixture.send(started);
        fixture.send(redelivery(started));
        assertThat(fixture.stateChanges()).hasSize(1);

        // When: the wall clock passes the TTL and the purge runs
        fixture.advanceMs(DEDUPE_TTL_MS + PURGE_INTERVAL_MS);
        fixture.send(redelivery(started));

        // Then: applied again (published with the next counters interval: it changed counters only)
        assertThat(fixture.storedState("c1").eventsApplied()).isEqualTo(2);
        fixture.advanceMs(COUNTERS_INTERVAL_MS);
        assertThat(fixture.lastState("c1").eventsApplied()).isEqualTo(2);
        KeyValueStore<String, Long> dedupe = fixture.driver.getKeyValueStore(CallTopologyNames.DEDUPE_STORE);
        assertThat(dedupe.get(started.idempotencyKey())).isEqualTo(T0 + DEDUPE_TTL_MS + PURGE_INTERVAL_MS + DEDUPE_TTL_MS);
    }

    @Test
    void shouldPurgeOnlyExpiredDedupeKeys() {
        // Given: one key remembered at T0, one a TTL later
        fixture.send(callStarted("old", T0));
        fixture.advanceMs(DEDUPE_TTL_MS);
        fixture.send(callStarted("new", T0));

        // When: the purge runs just after the first key expired
        fixture.advanceMs(PURGE_INTERVAL_MS);

        // Then
        KeyValueStore<String, Long> dedupe = fixture.driver.getKeyValueStore(CallTopologyNames.DEDUPE_STORE);
        assertThat(dedupe.get("webhook|call_started|old")).isNull();
        assertThat(dedupe.get("webhook|call_started|new")).isNotNull();
        KeyValueStore<String, String> index = fixture.driver.getKeyValueStore(CallTopologyNames.DEDUPE_EXPIRY_STORE);
        try (KeyValueIterator<String, String> all = index.all()) {
            assertThat(all).toIterable().extracting(kv -> kv.value).containsExactly("webhook|call_started|new");
        }
    }

    @Test
    void shouldDeadLetterMalformedRecordAndContinue() {
        // Given
        byte[] garbage = "{not json".getBytes(StandardCharsets.UTF_8);

        // When
        fixture.rawEvents.pipeInput("c1", garbage);
        fixture.send(callStarted("c1", T0));

        // Then
        java.util.List<DeadLetter> letters = fixture.deadLetters();
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.reason()).isEqualTo("invalid_call_event");
        assertThat(letter.source()).isEqualTo("processor");
        assertThat(letter.topic()).isEqualTo(fixture.topics.callEvents().name());
        assertThat(letter.partition()).isZero();
        assertThat(letter.offset()).isZero();
        assertThat(letter.callId()).isEqualTo("c1");
        assertThat(letter.original()).isEqualTo(garbage);
        assertThat(letter.detail()).contains("CallEvent");
        assertThat(fixture.count(ProcessorMetrics.DEAD_LETTERS, ProcessorMetrics.TAG_REASON, "invalid_call_event"))
                .isEqualTo(1.0);
        assertThat(fixture.lastState("c1").started()).isTrue();
    }

    @Test
    void shouldDeadLetterEventThatBreaksTheSchema() {
        // Given: valid JSON, but no call_id
        byte[] noCallId = "{\"schema_version\":1,\"event_id\":\"e1\",\"source\":\"webhook\",\"type\":\"call_started\",\"received_at_ms\":1,\"payload\":{}}"
                .getBytes(StandardCharsets.UTF_8);

        // When
        fixture.rawEvents.pipeInput("c1", noCallId);

        // Then
        DeadLetter letter = fixture.deadLetters().get(0);
        assertThat(letter.reason()).isEqualTo("invalid_call_event");
        assertThat(letter.detail()).contains("call_id");
        assertThat(fixture.stateChanges()).isEmpty();
    }

    @Test
    void shouldDeadLetterEventKeyedByAnotherCall() {
        // When
        fixture.events.pipeInput("other", SampleRecords.webhookEvent("c1", "call_started"));

        // Then
        assertThat(fixture.deadLetters()).extracting(DeadLetter::reason).containsExactly("key_mismatch");
        assertThat(fixture.storedState("c1")).isNull();
    }

    @Test
    void shouldWriteOnlyRecordsThatMatchTheirSchemas() {
        // When
        fixture.send(callStarted("c1", T0));
        fixture.send(TestEvents.responseRequired("c1", 1, T0 + 1, 2));
        fixture.send(callEnded("c1", T0 + 2));
        fixture.rawEvents.pipeInput("c1", new byte[] {1, 2, 3});

        // Then: the fixture checks every record it reads against its schema file
        assertThat(fixture.stateChanges()).extracting(kv -> kv.key).containsExactly("c1", "c1", "c1");
        assertThat(fixture.deadLetters()).hasSize(1);
    }
}
