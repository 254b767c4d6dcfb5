package io.callguard.processor;

import static io.callguard.processor.TestEvents.callEnded;
import static io.callguard.processor.TestEvents.callStarted;
import static io.callguard.processor.TestEvents.socketClosed;
import static io.callguard.processor.TestEvents.socketOpened;
import static io.callguard.processor.TopologyFixture.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The call's socket as capacity sees it: a call known only by its socket is admitted by the opening; a socket
 * lost past {@code capacity.socket-lost-grace-ms} frees the slot (or queue place); a reconnect in time keeps it.
 */
class SocketCapacityTopologyTest {

    private static final long SCAN_MS = 1_000;
    private static final long GRACE_MS = 60_000;
    private static final long ARCHIVE_GRACE_MS = 600_000;

    @TempDir
    Path stateDir;

    private TopologyFixture fixture;

    @BeforeEach
    void startDriver() {
        // One slot, two queue places; TTL and queue timeout far away so only the socket rule frees anything
        fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, 1,
                ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG, 2,
                ProcessorConfig.CAPACITY_QUEUE_TIMEOUT_MS_CONFIG, 3_600_000L,
                ProcessorConfig.CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG, GRACE_MS,
                ProcessorConfig.CALL_TTL_MS_CONFIG, 7_200_000L,
                ProcessorConfig.CALL_ARCHIVE_GRACE_MS_CONFIG, ARCHIVE_GRACE_MS,
                ProcessorConfig.CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, SCAN_MS));
    }

    @AfterEach
    void closeDriver() {
        fixture.close();
    }

    @Test
    void shouldAdmitACallKnownOnlyByItsSocketOnTheOpeningAndLetALaterCallStartedChangeNothingTwice() {
        // When a call with no webhook yet opens its socket
        fixture.send(socketOpened("c1", "conn-1", T0));

        // Then it takes the slot at once, and its socket is the current one
        CallState opened = fixture.lastState("c1");
        assertThat(opened.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(opened.admittedAtMs()).isEqualTo(T0);
        assertThat(opened.connectionId()).isEqualTo("conn-1");
        assertThat(opened.socketOpenedAtMs()).isEqualTo(T0);
        assertThat(opened.socketLostAtMs()).isNull();
        assertThat(opened.started()).isFalse();

        // When its call_started arrives later
        fixture.advanceMs(500);
        fixture.send(callStarted("c1", T0 + 400));

        // Then it is the same admission: no second slot, no new admission time, no archive
        CallState started = fixture.lastState("c1");
        assertThat(started.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(started.admittedAtMs()).isEqualTo(T0);
        assertThat(started.started()).isTrue();
        assertThat(started.agentId()).isEqualTo("agent_1");
        assertThat(started.connectionId()).isEqualTo("conn-1");
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);
        assertThat(fixture.archives()).isEmpty();

        // And the next call's socket finds the only slot taken: it waits
        fixture.send(socketOpened("c2", "conn-2", T0 + 600));
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.QUEUED);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isEqualTo(1);
    }

    @Test
    void shouldKeepTheSlotWhenTheSocketComesBackWithinTheGrace() {
        // Given c1 on the slot and c2 waiting
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(socketOpened("c2", "conn-2", T0));

        // When c1's socket drops and Retell reconnects half a grace later with a new socket
        fixture.send(socketClosed("c1", "conn-1", T0 + 1));
        CallState lost = fixture.storedState("c1");
        assertThat(lost.socketLostAtMs()).isEqualTo(T0);
        assertThat(socketTimers()).containsExactly(T0 + GRACE_MS);
        fixture.advanceMs(GRACE_MS / 2);
        fixture.send(socketOpened("c1", "conn-1b", T0 + GRACE_MS / 2));

        // Then the mark is cleared, the reconnect counted and the timer gone
        CallState back = fixture.storedState("c1");
        assertThat(back.socketLostAtMs()).isNull();
        assertThat(back.connectionId()).isEqualTo("conn-1b");
        assertThat(back.reconnects()).isEqualTo(1);
        assertThat(socketTimers()).isEmpty();

        // And long past the grace nothing moved
        fixture.advanceMs(2 * GRACE_MS);
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.QUEUED);
        assertThat(fixture.archives()).isEmpty();
        assertThat(grace(ProcessorMetrics.GRACE_STARTED)).isEqualTo(1.0);
        assertThat(grace(ProcessorMetrics.GRACE_RECONNECTED)).isEqualTo(1.0);
        assertThat(grace(ProcessorMetrics.GRACE_RELEASED)).isZero();
    }

    @Test
    void shouldReleaseTheSlotOfACallWhoseSocketIsLostPastTheGraceAndAdmitTheNextQueuedCall() {
        // Given c1 on the slot and c2 waiting
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(callStarted("c1", T0 + 1));
        fixture.send(socketOpened("c2", "conn-2", T0 + 2));
        fixture.advanceMs(1_000);

        // When c1's socket closes and no socket and no call_ended come
        fixture.send(socketClosed("c1", "conn-1", T0 + 1_000));
        fixture.stateChanges();
        fixture.advanceMs(GRACE_MS - SCAN_MS);
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ACTIVE);
        fixture.advanceMs(SCAN_MS);

        // Then c1 is closed by callguard (expired), archived once as socket_lost, and c2 takes its slot
        Map<String, CallState> states = fixture.latestStates();
        assertThat(states.keySet()).containsExactly("c1", "c2");
        assertThat(states.get("c1").status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(states.get("c1").ended()).isFalse();
        assertThat(states.get("c2").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(states.get("c2").admittedAtMs()).isEqualTo(T0 + 1_000 + GRACE_MS);
        assertThat(fixture.archives()).singleElement().satisfies(archive -> {
            assertThat(archive.callId()).isEqualTo("c1");
            assertThat(archive.reason()).isEqualTo(ArchiveReason.SOCKET_LOST);
            assertThat(archive.finalState().status()).isEqualTo(CallStatus.EXPIRED);
            assertThat(archive.finalState().socketLostAtMs()).isEqualTo(T0 + 1_000);
        });
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isZero();
        assertThat(grace(ProcessorMetrics.GRACE_RELEASED)).isEqualTo(1.0);
        assertThat(fixture.count(ProcessorMetrics.CALLS_ARCHIVED, ProcessorMetrics.TAG_REASON, "socket_lost"))
                .isEqualTo(1.0);
        assertThat(fixture.responses()).isEmpty();
    }

    @Test
    void shouldChangeNothingTwiceWhenCallEndedArrivesAfterTheRelease() {
        // Given c1 released for a lost socket, c2 admitted in its place
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(socketOpened("c2", "conn-2", T0));
        fixture.send(socketClosed("c1", "conn-1", T0 + 1));
        fixture.advanceMs(GRACE_MS);
        fixture.archives();
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.ACTIVE);

        // When c1's call_ended arrives late, within the archive grace
        fixture.send(callEnded("c1", T0 + GRACE_MS + 5_000));

        // Then its state learns the end, but stays expired: no second archive, no slot given back twice
        CallState late = fixture.storedState("c1");
        assertThat(late.status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(late.ended()).isTrue();
        assertThat(late.disconnectionReason()).isEqualTo("user_hangup");
        assertThat(fixture.archives()).isEmpty();
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);

        // When the archive grace is over (the call removed) and Retell retries the webhook
        fixture.advanceMs(ARCHIVE_GRACE_MS);
        fixture.send(TestEvents.redelivery(callEnded("c1", T0 + GRACE_MS + 5_000)));

        // Then it is dropped and nothing comes back
        assertThat(fixture.storedState("c1")).isNull();
        assertThat(fixture.archives()).isEmpty();
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);
    }

    @Test
    void shouldReleaseTheQueuePlaceOfAQueuedCallWhoseSocketIsLost() {
        // Given c1 on the slot, c2 then c3 waiting
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(socketOpened("c2", "conn-2", T0));
        fixture.send(socketOpened("c3", "conn-3", T0));

        // When c2's caller hangs up while waiting and no call_ended comes
        fixture.send(socketClosed("c2", "conn-2", T0 + 10));
        fixture.advanceMs(GRACE_MS);

        // Then c2 leaves the queue, archived as socket_lost; c3 still waits, now at the head
        assertThat(fixture.storedState("c2").status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(fixture.archives()).extracting(CallArchive::callId, CallArchive::reason)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("c2", ArchiveReason.SOCKET_LOST));
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isEqualTo(1);
        assertThat(fixture.storedState("c3").status()).isEqualTo(CallStatus.QUEUED);
        assertThat(timers("queue|c2")).as("c2's queue timeout").isEmpty();

        // And when the slot frees, c3 gets it
        fixture.send(callEnded("c1", T0 + GRACE_MS));
        assertThat(fixture.storedState("c3").status()).isEqualTo(CallStatus.ACTIVE);
    }

    @Test
    void shouldIgnoreTheCloseAndTheLateOpeningOfASupersededSocket() {
        // Given c1's socket conn-1, superseded by a reconnect conn-2 (received later at the edge)
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(socketOpened("c1", "conn-2", T0 + 5_000));

        // When the old socket's close comes after, and a stale copy of an even older opening is delivered late
        fixture.send(socketClosed("c1", "conn-1", T0 + 5_001));
        fixture.send(socketOpened("c1", "conn-0", T0 - 1_000));

        // Then the current socket is still conn-2, open; no grace runs
        CallState state = fixture.storedState("c1");
        assertThat(state.connectionId()).isEqualTo("conn-2");
        assertThat(state.socketOpenedAtMs()).isEqualTo(T0 + 5_000);
        assertThat(state.socketLostAtMs()).isNull();
        assertThat(state.reconnects()).isEqualTo(2);
        assertThat(socketTimers()).isEmpty();
        fixture.advanceMs(2 * GRACE_MS);
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ACTIVE);
    }

    @Test
    void shouldArchiveAsEndedAndCancelTheGraceWhenCallEndedComesWhileTheSocketIsLost() {
        // Given c1 whose socket dropped
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(socketClosed("c1", "conn-1", T0 + 1));

        // When Retell reports the end within the grace
        fixture.send(callEnded("c1", T0 + 2));

        // Then it is ended, archived once as ended, and the grace never fires
        assertThat(fixture.storedState("c1").status()).isEqualTo(CallStatus.ENDED);
        assertThat(socketTimers()).isEmpty();
        fixture.advanceMs(2 * GRACE_MS);
        assertThat(fixture.archives()).extracting(CallArchive::reason).containsExactly(ArchiveReason.ENDED);
        assertThat(grace(ProcessorMetrics.GRACE_RELEASED)).isZero();
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isZero();
    }

    @Test
    void shouldStartNoGraceForARejectedCall() {
        // Given a full partition (one slot, two queue places) and a fourth call refused
        for (String call : List.of("c1", "c2", "c3", "c4")) {
            fixture.send(socketOpened(call, "conn-" + call, T0));
        }
        assertThat(fixture.storedState("c4").status()).isEqualTo(CallStatus.REJECTED);

        // When its socket closes (Retell hung up after the busy line)
        fixture.send(socketClosed("c4", "conn-c4", T0 + 3_000));

        // Then it stays rejected with no timer, and capacity is untouched
        assertThat(fixture.storedState("c4").status()).isEqualTo(CallStatus.REJECTED);
        assertThat(socketTimers()).isEmpty();
        assertThat(fixture.counter(CallTopologyNames.ACTIVE_COUNTER)).isEqualTo(1);
        assertThat(fixture.counter(CallTopologyNames.QUEUED_COUNTER)).isEqualTo(2);
        assertThat(fixture.responses()).isEmpty();
    }

    private double grace(String outcome) {
        return fixture.count(ProcessorMetrics.SOCKET_GRACE, ProcessorMetrics.TAG_OUTCOME, outcome);
    }

    /** Due times of the socket-lost timers in the timer store. */
    private List<Long> socketTimers() {
        return timers("socket|");
    }

    private List<Long> timers(String idPart) {
        List<Long> due = new ArrayList<>();
        KeyValueStore<String, String> timers = fixture.driver.getKeyValueStore(CallTopologyNames.CALL_TIMERS_STORE);
        try (var all = timers.all()) {
            all.forEachRemaining(kv -> {
                if (kv.key.contains(idPart)) {
                    due.add(Long.parseLong(kv.key.substring(0, 19)));
                }
            });
        }
        return due;
    }
}
