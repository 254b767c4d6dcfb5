package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.processor.replay.OfflineReplay;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Topics;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

/** The offline replay runs recorded events through the real topology and reports what each did. */
class OfflineReplayTest {

    private static final long T0 = 1_700_000_000_000L;
    private final Topics topics = Topics.defaults();

    @Test
    void shouldReportEachEventsStatesRecordsAndCountersAndTheTimersAfterTheLast() {
        // Given a call that started, was delivered twice, and ended
        CallEvent started = TestEvents.callStarted("call-r", T0);
        List<OfflineReplay.Event> events = List.of(event(started, T0), event(started, T0 + 10),
                event(TestEvents.callEnded("call-r", T0 + 60_000), T0 + 60_000));

        // When it is replayed, with the clock moved a day past the end
        OfflineReplay.Result result = OfflineReplay.run(topics, new ProcessorConfig(Map.of()), "call-r", events,
                T0 + 86_400_000L);

        // Then each event's step says what it did
        assertThat(result.events()).hasSize(3);
        OfflineReplay.Step first = result.events().get(0);
        assertThat(first.before()).isNull();
        assertThat(first.after().status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(first.counterIncrements()).containsKey(ProcessorMetrics.EVENTS_APPLIED + "|call_started");
        assertThat(result.events().get(1).counterIncrements().keySet())
                .anyMatch(id -> id.startsWith(ProcessorMetrics.DUPLICATES_DROPPED + "|"));
        OfflineReplay.Step last = result.events().get(2);
        assertThat(last.archives()).singleElement()
                .satisfies(archive -> assertThat(archive.reason()).isEqualTo(ArchiveReason.ENDED));
        assertThat(last.processingError()).isNull();
        // and the timers step removes the ended call after its grace period
        assertThat(result.timers()).hasValueSatisfying(timers -> {
            assertThat(timers.after()).isNull();
            assertThat(timers.states()).containsNull();
        });
    }

    @Test
    void shouldShowTheSocketLostReleaseAsATimersStepOfItsOwnBeforeTheNextEvent() {
        // Given a call whose socket closed, and whose call_ended came two minutes later
        long grace = 60_000;
        List<OfflineReplay.Event> events = List.of(event(TestEvents.socketOpened("call-s", "conn-1", T0), T0),
                event(TestEvents.socketClosed("call-s", "conn-1", T0 + 1_000), T0 + 1_000),
                event(TestEvents.callEnded("call-s", T0 + 120_000), T0 + 120_000));

        // When it is replayed
        OfflineReplay.Result result = OfflineReplay.run(topics, new ProcessorConfig(Map.of(
                ProcessorConfig.CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG, grace)), "call-s", events, null);

        // Then the close starts the grace, the timers before call_ended release the slot, and call_ended changes
        // nothing twice
        assertThat(result.events().get(1).counterIncrements())
                .containsKey(ProcessorMetrics.SOCKET_GRACE + "|" + ProcessorMetrics.GRACE_STARTED);
        assertThat(result.timersBefore()).containsOnlyKeys(2);
        OfflineReplay.Step released = result.timersBefore().get(2);
        assertThat(released.before().status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(released.after().status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(released.counterIncrements())
                .containsKey(ProcessorMetrics.SOCKET_GRACE + "|" + ProcessorMetrics.GRACE_RELEASED);
        assertThat(released.archives()).singleElement()
                .satisfies(archive -> assertThat(archive.reason()).isEqualTo(ArchiveReason.SOCKET_LOST));
        OfflineReplay.Step ended = result.events().get(2);
        assertThat(ended.archives()).isEmpty();
        assertThat(ended.after().status()).isEqualTo(CallStatus.EXPIRED);
        assertThat(ended.after().ended()).isTrue();
    }

    private OfflineReplay.Event event(CallEvent event, long atMs) {
        byte[] bytes = topics.callEvents().valueSerde().serializer().serialize("", event);
        return new OfflineReplay.Event(event.callId(), bytes, new RecordHeaders(), atMs, atMs);
    }
}
