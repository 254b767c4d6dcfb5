package io.callguard.processor;

import static io.callguard.processor.TestEvents.callEnded;
import static io.callguard.processor.TestEvents.callStarted;
import static io.callguard.processor.TestEvents.redelivery;
import static io.callguard.processor.TestEvents.responseRequired;
import static io.callguard.processor.TestEvents.socketClosed;
import static io.callguard.processor.TestEvents.socketOpened;
import static io.callguard.processor.TopologyFixture.T0;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a turn costs on Kafka: a change of counters only is published to call-state once per
 * {@code call.state-counters-interval-ms} (or with the call's next other change), and a socket turn is deduped by the
 * call's latest response id, writing no idempotency key.
 */
class CallStatePublishingTopologyTest {

    private static final long INTERVAL_MS = 5_000;
    private static final long GRACE_MS = 60_000;
    private static final long SCAN_MS = 1_000;

    @TempDir
    Path stateDir;

    private TopologyFixture fixture;

    private void start(long intervalMs) {
        fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.CALL_STATE_COUNTERS_INTERVAL_MS_CONFIG, intervalMs,
                ProcessorConfig.CALL_ARCHIVE_GRACE_MS_CONFIG, GRACE_MS,
                ProcessorConfig.CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, SCAN_MS));
    }

    @AfterEach
    void closeDriver() {
        if (fixture != null) {
            fixture.close();
        }
    }

    @Test
    void shouldPublishTheFirstTurnAtOnceAndLaterTurnsOncePerInterval() {
        // Given
        start(INTERVAL_MS);
        fixture.send(socketOpened("c1", "conn-1", T0));
        fixture.send(callStarted("c1", T0 + 1));
        assertThat(fixture.stateChanges()).hasSize(2);

        // When: the first turn, then four more within the interval
        fixture.send(responseRequired("c1", 1, T0 + 10, 1));
        List<KeyValue<String, CallState>> afterFirst = fixture.stateChanges();
        for (long id = 2; id <= 5; id++) {
            fixture.send(responseRequired("c1", id, T0 + 10 * id, (int) id));
        }

        // Then: the first turn at once (a reconnect after it is not greeted); the rest not yet, but stored
        assertThat(afterFirst).singleElement().satisfies(kv -> assertThat(kv.value.turnCount()).isEqualTo(1));
        assertThat(fixture.stateChanges()).isEmpty();
        CallState stored = fixture.storedState("c1");
        assertThat(stored.turnCount()).isEqualTo(5);

        // When: the interval passes
        fixture.advanceMs(INTERVAL_MS);

        // Then: one record, the call's latest state; nothing more at the next interval
        assertThat(fixture.stateChanges()).singleElement().satisfies(kv -> assertThat(kv.value).isEqualTo(stored));
        fixture.advanceMs(INTERVAL_MS);
        assertThat(fixture.stateChanges()).isEmpty();
    }

    @Test
    void shouldCarryHeldCountersWithTheNextOtherChange() {
        // Given: turns held back
        start(INTERVAL_MS);
        fixture.send(socketOpened("c1", "conn-1", T0));
        for (long id = 1; id <= 3; id++) {
            fixture.send(responseRequired("c1", id, T0 + id, (int) id));
        }
        fixture.stateChanges();

        // When: the socket closes (the socket-lost grace starts: not a counter change)
        fixture.send(socketClosed("c1", "conn-1", T0 + 100));

        // Then: published at once with every counter; the interval finds nothing left to publish
        CallState published = fixture.lastState("c1");
        assertThat(published.socketLostAtMs()).isNotNull();
        assertThat(published.turnCount()).isEqualTo(3);
        assertThat(published.latestResponseId()).isEqualTo(3L);
        assertThat(published).isEqualTo(fixture.storedState("c1"));
        fixture.advanceMs(INTERVAL_MS);
        assertThat(fixture.stateChanges()).isEmpty();
    }

    @Test
    void shouldPublishTheFinalStateAtOnceWithItsCounters() {
        // Given
        start(INTERVAL_MS);
        fixture.send(callStarted("c1", T0));
        for (long id = 1; id <= 4; id++) {
            fixture.send(responseRequired("c1", id, T0 + id, (int) id));
        }
        fixture.stateChanges();

        // When
        fixture.send(callEnded("c1", T0 + 60_000));

        // Then
        CallState ended = fixture.lastState("c1");
        assertThat(ended.status()).isEqualTo(CallStatus.ENDED);
        assertThat(ended.turnCount()).isEqualTo(4);
        assertThat(fixture.archives()).singleElement()
                .satisfies(archive -> assertThat(archive.turnCount()).isEqualTo(4));
    }

    @Test
    void shouldPublishEveryChangeWhenTheIntervalIsZero() {
        // Given
        start(0);
        fixture.send(callStarted("c1", T0));
        fixture.stateChanges();

        // When
        for (long id = 1; id <= 4; id++) {
            fixture.send(responseRequired("c1", id, T0 + id, (int) id));
        }

        // Then
        assertThat(fixture.stateChanges()).extracting(kv -> kv.value.turnCount()).containsExactly(1, 2, 3, 4);
    }

    @Test
    void shouldNotPublishACallAgainAfterItsTombstone() {
        // Given: an ended call, then a late change of counters only held for the interval
        start(INTERVAL_MS);
        fixture.send(callStarted("c1", T0));
        fixture.send(callEnded("c1", T0 + 1_000));
        fixture.send(TestEvents.transcriptUpdated("c1", T0 + 2_000, 9));
        fixture.stateChanges();

        // When: the archive grace passes (the state is deleted, a tombstone written), then the interval
        fixture.advanceMs(GRACE_MS + SCAN_MS);
        List<KeyValue<String, CallState>> changes = new ArrayList<>(fixture.stateChanges());
        fixture.advanceMs(INTERVAL_MS);
        changes.addAll(fixture.stateChanges());

        // Then: the tombstone is the call's last record (the held counters, published before it or not at all)
        assertThat(changes).isNotEmpty();
        assertThat(changes.get(changes.size() - 1).value).isNull();
        assertThat(fixture.storedState("c1")).isNull();
    }

    @Test
    void shouldDedupeSocketTurnsByTheLatestResponseIdWithoutIdempotencyKeys() {
        // Given
        start(INTERVAL_MS);
        CallEvent started = callStarted("c1", T0);
        fixture.send(started);
        CallEvent turn = responseRequired("c1", 1, T0 + 1, 1);

        // When: a turn, its redelivery, then the next turn
        fixture.send(turn);
        fixture.send(redelivery(turn));
        fixture.send(responseRequired("c1", 2, T0 + 2, 3));

        // Then: the redelivery dropped; only the webhook's key is remembered (and indexed for its expiry)
        CallState state = fixture.storedState("c1");
        assertThat(state.turnCount()).isEqualTo(2);
        assertThat(state.duplicatesDropped()).isEqualTo(1);
        assertThat(keys(CallTopologyNames.DEDUPE_STORE)).containsExactly(started.idempotencyKey());
        assertThat(keys(CallTopologyNames.DEDUPE_EXPIRY_STORE)).singleElement()
                .satisfies(key -> assertThat(key).endsWith(started.idempotencyKey()));
    }

    private List<String> keys(String store) {
        KeyValueStore<String, ?> kv = fixture.driver.getKeyValueStore(store);
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, ?> it = kv.all()) {
            it.forEachRemaining(entry -> keys.add(entry.key));
        }
        return keys;
    }
}
