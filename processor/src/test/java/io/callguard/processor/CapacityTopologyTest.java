package io.callguard.processor;

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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Capacity per partition: slots, the FIFO queue, rejections, queue timeout and call TTL. */
class CapacityTopologyTest {

    private static final long SCAN_MS = 1_000;
    private static final long QUEUE_TIMEOUT_MS = 30_000;

    @TempDir
    Path stateDir;

    private TopologyFixture fixture;

    private void start(Map<String, Object> overrides) {
        Map<String, Object> values = new java.util.HashMap<>(Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, 2,
                ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG, 2,
                ProcessorConfig.CAPACITY_QUEUE_TIMEOUT_MS_CONFIG, QUEUE_TIMEOUT_MS,
                ProcessorConfig.CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, SCAN_MS));
        values.putAll(overrides);
        fixture = new TopologyFixture(stateDir, values);
    }

    @AfterEach
    void closeDriver() {
        if (fixture != null) {
            fixture.close();
        }
    }

    @Test
    void shouldQueueCallsBeyondCapacity() {
        // Given
        start(Map.of());

        // When
        for (String call : List.of("c1", "c2", "c3", "c4")) {
            fixture.send(callStarted(call, T0));
        }

        // Then
        Map<String, CallState> states = fixture.latestStates();
        assertThat(states.get("c1").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(states.get("c1").admittedAtMs()).isEqualTo(T0);
        assertThat(states.get("c2").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(states.get("c3").status()).isEqualTo(CallStatus.QUEUED);
        assertThat(states.get("c3").queuedAtMs()).isEqualTo(T0);
        assertThat(states.get("c3").admittedAtMs()).isNull();
        assertThat(states.get("c4").status()).isEqualTo(CallStatus.QUEUED);
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(2);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isEqualTo(2);
        assertThat(fixture.gauge(ProcessorMetrics.CALLS_ACTIVE)).isEqualTo(2.0);
        assertThat(fixture.gauge(ProcessorMetrics.CALLS_QUEUED)).isEqualTo(2.0);
        assertThat(fixture.gauge(ProcessorMetrics.CAPACITY)).isEqualTo(2.0);
        assertThat(fixture.gauge(ProcessorMetrics.CAPACITY_UTILIZATION)).isEqualTo(1.0);
    }

    @Test
    void shouldAdmitQueuedCallsInArrivalOrder() {
        // Given: two active calls, then c3 and c4 waiting in that order
        start(Map.of());
        for (String call : List.of("c1", "c2", "c3", "c4")) {
            fixture.send(callStarted(call, T0));
        }
        fixture.stateChanges();
        fixture.advanceMs(500);

        // When
        fixture.send(callEnded("c2", T0 + 1));

        // Then: the head of the queue got the slot, the next one still waits
        Map<String, CallState> states = fixture.latestStates();
        assertThat(states.keySet()).containsExactly("c2", "c3");
        assertThat(states.get("c2").status()).isEqualTo(CallStatus.ENDED);
        assertThat(states.get("c3").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(states.get("c3").admittedAtMs()).isEqualTo(T0 + 500);
        assertThat(fixture.storedState("c4").status()).isEqualTo(CallStatus.QUEUED);

        // When
        fixture.send(callEnded("c1", T0 + 2));

        // Then
        assertThat(fixture.latestStates().get("c4").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(2);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isZero();
    }

    @Test
    void shouldRejectWithoutWritingABusyRecordWhenQueueIsFull() {
        // Given
        start(Map.of());
        for (String call : List.of("c1", "c2", "c3", "c4")) {
            fixture.send(callStarted(call, T0));
        }

        // When a fifth call arrives by a turn, and a sixth known only by its socket
        fixture.send(TestEvents.responseRequired("c5", 1, T0 + 7, 1));
        fixture.send(TestEvents.socketOpened("c6", "conn-6", T0 + 8));

        // Then both are rejected on call-state, and nothing is said by the processor: the responder says the busy
        // line on the call's latest response id
        for (String call : List.of("c5", "c6")) {
            CallState rejected = fixture.storedState(call);
            assertThat(rejected.status()).as(call).isEqualTo(CallStatus.REJECTED);
            assertThat(rejected.rejectionReason()).as(call).isEqualTo("queue_full");
        }
        assertThat(fixture.latestStates().get("c6").status()).isEqualTo(CallStatus.REJECTED);
        assertThat(fixture.responses()).isEmpty();
        assertThat(fixture.archives()).extracting(CallArchive::callId, CallArchive::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple("c5", ArchiveReason.REJECTED),
                org.assertj.core.groups.Tuple.tuple("c6", ArchiveReason.REJECTED));
        assertThat(fixture.count(ProcessorMetrics.CALLS_REJECTED, ProcessorMetrics.TAG_REASON, "queue_full"))
                .isEqualTo(2.0);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isEqualTo(2);
    }

    @Test
    void shouldKeepRejectedCallRejectedWhenItsLaterEventsArrive() {
        // Given
        start(Map.of(ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG, 0));
        fixture.send(callStarted("c1", T0));
        fixture.send(callStarted("c2", T0));
        fixture.send(callStarted("c3", T0));
        fixture.archives();

        // When: Retell ends the refused call after the busy line
        fixture.send(callEnded("c3", T0 + 5_000));

        // Then: still rejected, archived once, no slot taken or released
        CallState state = fixture.storedState("c3");
        assertThat(state.status()).isEqualTo(CallStatus.REJECTED);
        assertThat(state.ended()).isTrue();
        assertThat(fixture.archives()).isEmpty();
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(2);
    }

    @Test
    void shouldRejectQueuedCallAfterQueueTimeout() {
        // Given
        start(Map.of());
        fixture.send(callStarted("c1", T0));
        fixture.send(callStarted("c2", T0));
        fixture.send(callStarted("c3", T0 + 3));
        fixture.stateChanges();

        // When: the wall clock passes the queue timeout
        fixture.advanceMs(QUEUE_TIMEOUT_MS - SCAN_MS);
        assertThat(fixture.storedState("c3").status()).isEqualTo(CallStatus.QUEUED);
        fixture.advanceMs(SCAN_MS);

        // Then
        CallState rejected = fixture.lastState("c3");
        assertThat(rejected.status()).isEqualTo(CallStatus.REJECTED);
        assertThat(rejected.rejectionReason()).isEqualTo("queue_timeout");
        assertThat(rejected.updatedAtMs()).isEqualTo(T0 + QUEUE_TIMEOUT_MS);
        assertThat(fixture.responses()).as("no busy record: the responder says it").isEmpty();
        assertThat(fixture.archives()).extracting(CallArchive::reason).containsExactly(ArchiveReason.REJECTED);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isZero();
        assertThat(fixture.count(ProcessorMetrics.CALLS_REJECTED, ProcessorMetrics.TAG_REASON, "queue_timeout"))
                .isEqualTo(1.0);
    }

    @Test
    void shouldExpireIdleCallReleasingItsSlotToTheQueueHead() {
        // Given: c1 and c2 active from T0; 30 s later c2 is still talking and c3 waits
        long ttl = 60_000;
        start(Map.of(ProcessorConfig.CALL_TTL_MS_CONFIG, ttl,
                ProcessorConfig.CAPACITY_QUEUE_TIMEOUT_MS_CONFIG, 600_000L));
        fixture.send(callStarted("c1", T0));
        fixture.send(callStarted("c2", T0));
        fixture.advanceMs(30_000);
        fixture.send(TestEvents.responseRequired("c2", 1, T0 + 30_000, 2));
        fixture.send(callStarted("c3", T0 + 30_000));
        fixture.stateChanges();

        // When: c1 has had no event for the TTL
        fixture.advanceMs(ttl - 30_000 - SCAN_MS);
        assertThat(fixture.stateChanges()).isEmpty();
        fixture.advanceMs(SCAN_MS);

        // Then
        Map<String, CallState> states = fixture.latestStates();
        assertThat(states.keySet()).containsExactly("c1", "c3");
        assertThat(states.get("c1").status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(states.get("c3").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(states.get("c3").admittedAtMs()).isEqualTo(T0 + ttl);
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.archives()).singleElement().satisfies(archive -> {
            assertThat(archive.callId()).isEqualTo("c1");
            assertThat(archive.reason()).isEqualTo(ArchiveReason.EXPIRED);
            assertThat(archive.finalState().status()).isEqualTo(CallStatus.EXPIRED);
        });
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(2);
        assertThat(fixture.count(ProcessorMetrics.CALLS_ARCHIVED, ProcessorMetrics.TAG_REASON, "expired")).isEqualTo(1.0);
    }

    @Test
    void shouldKeepOneTtlTimerPerLiveCallThatMovesOncePerMinuteNotOnEveryTurn() {
        // Given the default TTL (1 h, timer granularity 1 min) and a call asking a turn every second
        long ttl = 3_600_000;
        start(Map.of(ProcessorConfig.CALL_TTL_MS_CONFIG, ttl));
        fixture.send(callStarted("c1", T0));
        List<Long> dueTimes = new java.util.ArrayList<>();
        for (int turn = 1; turn <= 90; turn++) {
            fixture.advanceMs(1_000);
            fixture.send(TestEvents.responseRequired("c1", turn, T0 + turn * 1_000L, 2));
            List<Long> due = ttlTimers();
            assertThat(due).as("TTL timers after turn %d", turn).hasSize(1);
            if (dueTimes.isEmpty() || !dueTimes.get(dueTimes.size() - 1).equals(due.get(0))) {
                dueTimes.add(due.get(0));
            }
        }

        // Then the timer moved twice in 90 s of turns (at the minute boundaries), always a whole minute, never early
        assertThat(dueTimes).hasSize(2).allSatisfy(due -> assertThat(due % 60_000).isZero());
        long lastUpdate = fixture.storedState("c1").updatedAtMs();
        assertThat(dueTimes.get(1)).isBetween(lastUpdate + ttl, lastUpdate + ttl + 60_000);

        // When the call goes quiet, it expires once its TTL (rounded up to the minute) has passed
        fixture.advanceMs(dueTimes.get(1) - (T0 + 90_000) - SCAN_MS);
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ACTIVE);
        fixture.advanceMs(2 * SCAN_MS);
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.EXPIRED);
    }

    /** Due times of the TTL timers in the timer store (keys start with the zero-padded due time). */
    private List<Long> ttlTimers() {
        List<Long> due = new java.util.ArrayList<>();
        org.apache.kafka.streams.state.KeyValueStore<String, String> timers =
                fixture.driver.getKeyValueStore(CallTopologyNames.CALL_TIMERS_STORE);
        try (var all = timers.all()) {
            all.forEachRemaining(kv -> {
                if (kv.key.contains("ttl|")) {
                    due.add(Long.parseLong(kv.key.substring(0, 19)));
                }
            });
        }
        return due;
    }
}
