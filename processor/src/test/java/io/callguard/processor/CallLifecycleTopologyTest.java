package io.callguard.processor;

import static io.callguard.processor.TestEvents.callAnalyzed;
import static io.callguard.processor.TestEvents.callEnded;
import static io.callguard.processor.TestEvents.callStarted;
import static io.callguard.processor.TopologyFixture.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Archive on call end, grace period, tombstone and closed calls; socket events folded into state. */
class CallLifecycleTopologyTest {

    private static final long SCAN_MS = 1_000;
    private static final long GRACE_MS = 600_000;
    private static final long DEDUPE_TTL_MS = 3_600_000;

    @TempDir
    Path stateDir;

    private TopologyFixture fixture;

    @BeforeEach
    void startDriver() {
        fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, 1,
                ProcessorConfig.CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, SCAN_MS,
                ProcessorConfig.CALL_ARCHIVE_GRACE_MS_CONFIG, GRACE_MS,
                ProcessorConfig.DEDUPE_TTL_MS_CONFIG, DEDUPE_TTL_MS,
                ProcessorConfig.CALL_TTL_MS_CONFIG, 2 * DEDUPE_TTL_MS));
    }

    @AfterEach
    void closeDriver() {
        fixture.close();
    }

    @Test
    void shouldArchiveEndedCallOnceAndReleaseItsSlot() {
        // Given
        fixture.send(callStarted("c1", T0));
        fixture.send(TestEvents.responseRequired("c1", 1, T0 + 1_000, 2));
        fixture.send(TestEvents.redelivery(callStarted("c1", T0)));

        // When
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.send(callStarted("c2", T0 + 60_001));

        // Then
        List<CallArchive> archives = fixture.archives();
        assertThat(archives).hasSize(1);
        CallArchive archive = archives.get(0);
        assertThat(archive.callId()).isEqualTo("c1");
        assertThat(archive.reason()).isEqualTo(ArchiveReason.ENDED);
        assertThat(archive.durationMs()).isEqualTo(60_000);
        assertThat(archive.turnCount()).isEqualTo(1);
        assertThat(archive.duplicatesDropped()).isEqualTo(1);
        assertThat(archive.archivedAtMs()).isEqualTo(T0);
        assertThat(archive.finalState().status()).isEqualTo(CallStatus.ENDED);
        assertThat(fixture.storedState("c2").status()).as("the freed slot").isEqualTo(CallStatus.ACTIVE);
    }

    @Test
    void shouldUpdateStateButNotArchiveAgainWhenCallAnalyzedArrivesInGrace() {
        // Given
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.archives();
        fixture.stateChanges();
        fixture.advanceMs(GRACE_MS / 2);

        // When
        fixture.send(callAnalyzed("c1", T0 + 90_000));

        // Then
        CallState state = fixture.lastState("c1");
        assertThat(state.analyzed()).isTrue();
        assertThat(state.status()).isEqualTo(CallStatus.ENDED);
        assertThat(fixture.archives()).isEmpty();
    }

    @Test
    void shouldNotArchiveWhenCallAnalyzedArrivesBeforeCallEnded() {
        // When
        fixture.send(callStarted("c1", T0));
        fixture.send(callAnalyzed("c1", T0 + 70_000));

        // Then
        assertThat(fixture.archives()).isEmpty();
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ACTIVE);

        // When
        fixture.send(callEnded("c1", T0 + 60_000));

        // Then
        assertThat(fixture.archives()).extracting(CallArchive::reason).containsExactly(ArchiveReason.ENDED);
    }

    @Test
    void shouldDeleteStateAndWriteTombstoneAfterGrace() {
        // Given
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.stateChanges();

        // When
        fixture.advanceMs(GRACE_MS - SCAN_MS);
        assertThat(fixture.storedState("c1")).isNotNull();
        fixture.advanceMs(SCAN_MS);

        // Then
        assertThat(fixture.stateChanges()).containsExactly(KeyValue.pair("c1", null));
        assertThat(fixture.storedState("c1")).isNull();
        assertThat(fixture.driver.getKeyValueStore(CallTopologyNames.CALL_DETAILS_STORE).get("c1|call_ended")).isNull();
    }

    @Test
    void shouldNotResurrectRemovedCallWithLateEvents() {
        // Given: c1 ended and was removed after the grace period
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.advanceMs(GRACE_MS);
        fixture.stateChanges();
        fixture.archives();

        // When: a straggler for c1, then a new call
        fixture.send(TestEvents.transcriptUpdated("c1", T0 + 61_000, 9));
        fixture.send(TestEvents.responseRequired("c1", 7, T0 + 61_000, 9));
        fixture.send(callStarted("c2", T0 + 700_000));

        // Then: c1 stays gone and holds no slot; c2 gets the only one
        assertThat(fixture.storedState("c1")).isNull();
        assertThat(fixture.latestStates()).containsOnlyKeys("c2");
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.archives()).isEmpty();
        assertThat(fixture.count(ProcessorMetrics.EVENTS_DROPPED, ProcessorMetrics.TAG_REASON, "call_closed"))
                .isEqualTo(2.0);
    }

    @Test
    void shouldForgetClosedCallAfterDedupeTtl() {
        // Given
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 60_000));
        fixture.advanceMs(GRACE_MS);

        // When
        fixture.advanceMs(DEDUPE_TTL_MS);

        // Then
        assertThat(fixture.driver.getKeyValueStore(CallTopologyNames.CLOSED_CALLS_STORE).get("c1")).isNull();
        KeyValueStore<String, String> timers = fixture.driver.getKeyValueStore(CallTopologyNames.CALL_TIMERS_STORE);
        try (KeyValueIterator<String, String> all = timers.all()) {
            assertThat(all.hasNext()).as("timers left").isFalse();
        }
    }

    @Test
    void shouldAdmitCallWhoseFirstEventIsASocketFrame() {
        // When
        fixture.send(TestEvents.socket("c1", "call_details", null, T0, -1,
                frame -> frame.putObject("call").put("call_id", "c1").put("agent_id", "agent_9")
                        .put("agent_version", 2).put("call_status", "registered")));

        // Then
        CallState state = fixture.lastState("c1");
        assertThat(state.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(state.admittedAtMs()).isEqualTo(T0);
        assertThat(state.agentId()).isEqualTo("agent_9");
        assertThat(state.retellStatus()).isEqualTo("registered");
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);
    }

    @Test
    void shouldFoldSocketTurnsIntoState() {
        // Given
        fixture.send(TestEvents.responseRequired("c1", 1, T0, 1));
        fixture.send(TestEvents.socket("c1", "update_only", null, T0 + 1, 3, frame -> { }));
        fixture.send(TestEvents.socket("c1", "reminder_required", 3L, T0 + 2, 4, frame -> { }));

        // When: a redelivery of turn 3, and an older turn arriving after it (Retell superseded it: it asks in order
        // on one socket, so only a race between two sockets of the call brings one late)
        fixture.send(TestEvents.socket("c1", "reminder_required", 3L, T0 + 2, 4, frame -> { }));
        fixture.send(TestEvents.responseRequired("c1", 2, T0 + 3, 2));

        // Then: both dropped by the call's latest response id, counted with the duplicates
        CallState state = fixture.storedState("c1");
        assertThat(state.turnCount()).isEqualTo(2);
        assertThat(state.latestResponseId()).isEqualTo(3L);
        assertThat(state.transcriptLength()).isEqualTo(4);
        assertThat(state.eventsApplied()).isEqualTo(3);
        assertThat(state.duplicatesDropped()).isEqualTo(2);
        assertThat(fixture.count(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND, "response_required"))
                .isEqualTo(1.0);
        assertThat(fixture.count(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND, "reminder_required"))
                .isEqualTo(1.0);
    }

    @Test
    void shouldLetCallStartedOverrideCallDetailsFields() {
        // Given
        fixture.send(callStarted("c1", T0));

        // When: the socket's call_details arrives after the webhook
        fixture.send(TestEvents.socket("c1", "call_details", null, T0 + 5, -1,
                frame -> frame.putObject("call").put("call_id", "c1").put("call_status", "registered")
                        .put("agent_version", 1).put("metadata", "only-here")));

        // Then
        CallState state = fixture.storedState("c1");
        assertThat(state.retellStatus()).isEqualTo("ongoing");
        assertThat(state.agentVersion()).isEqualTo(3);
        assertThat(state.metadata().asText()).isEqualTo("only-here");
    }
}
