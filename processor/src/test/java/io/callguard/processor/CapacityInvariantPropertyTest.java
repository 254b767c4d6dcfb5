package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Whatever calls start, talk, end or fall silent, and however the wall clock moves: a partition never has
 * more active calls than slots or more queued calls than queue places, never queues while a slot is free,
 * its counters match its call states, every call is archived at most once, and the processor never writes
 * an answer (a rejection is told on call-state only). Sockets open, drop and come back along the way.
 */
class CapacityInvariantPropertyTest {

    private static final int SLOTS = 2;
    private static final int QUEUE = 2;

    /** One step of the scenario. */
    record Step(String action, int call, long advanceMs) {
    }

    @Property(tries = 25)
    void capacityInvariantsHoldAfterEveryStep(@ForAll("scenarios") List<Step> steps) throws IOException {
        Path stateDir = Files.createTempDirectory("capacity-invariants");
        try (TopologyFixture fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, SLOTS,
                ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG, QUEUE,
                ProcessorConfig.CAPACITY_QUEUE_TIMEOUT_MS_CONFIG, 30_000L,
                ProcessorConfig.CALL_TTL_MS_CONFIG, 60_000L,
                ProcessorConfig.CALL_EXPIRY_SCAN_INTERVAL_MS_CONFIG, 5_000L,
                ProcessorConfig.CAPACITY_SOCKET_LOST_GRACE_MS_CONFIG, 20_000L,
                ProcessorConfig.CALL_ARCHIVE_GRACE_MS_CONFIG, 120_000L))) {
            Map<String, Integer> archivesPerCall = new HashMap<>();
            Map<String, String> sockets = new HashMap<>();
            long receivedAt = TopologyFixture.T0;
            long turn = 0;
            for (Step step : steps) {
                String call = "c" + step.call();
                receivedAt++;
                switch (step.action()) {
                    case "start" -> fixture.send(TestEvents.callStarted(call, receivedAt));
                    case "turn" -> fixture.send(TestEvents.responseRequired(call, ++turn, receivedAt, 2));
                    case "end" -> fixture.send(TestEvents.callEnded(call, receivedAt));
                    case "open" -> {
                        sockets.put(call, call + "-" + receivedAt);
                        fixture.send(TestEvents.socketOpened(call, sockets.get(call), receivedAt));
                    }
                    case "close" -> fixture.send(TestEvents.socketClosed(call, sockets.getOrDefault(call, "none"),
                            receivedAt));
                    default -> fixture.advanceMs(step.advanceMs());
                }
                for (CallArchive archive : fixture.archives()) {
                    archivesPerCall.merge(archive.callId(), 1, Integer::sum);
                }
                assertInvariants(fixture, step);
                assertThat(fixture.responses()).as("answers written by the processor").isEmpty();
                // A call is archived at most once until it is removed and can never come back.
                assertThat(archivesPerCall.values()).allMatch(count -> count == 1);
            }
        } finally {
            try (Stream<Path> paths = Files.walk(stateDir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    private static void assertInvariants(TopologyFixture fixture, Step after) {
        long active = 0;
        long queued = 0;
        KeyValueStore<String, CallState> states = fixture.driver.getKeyValueStore(CallTopologyNames.CALL_STATE_STORE);
        try (KeyValueIterator<String, CallState> all = states.all()) {
            while (all.hasNext()) {
                CallStatus status = all.next().value.status();
                active += status == CallStatus.ACTIVE ? 1 : 0;
                queued += status == CallStatus.QUEUED ? 1 : 0;
            }
        }
        assertThat(active).as("active after %s", after).isLessThanOrEqualTo(SLOTS)
                .isEqualTo(fixture.counter(CallTopologyNames.ACTIVE_COUNTER));
        assertThat(queued).as("queued after %s", after).isLessThanOrEqualTo(QUEUE)
                .isEqualTo(fixture.counter(CallTopologyNames.QUEUED_COUNTER));
        if (queued > 0) {
            assertThat(active).as("a call waits only while every slot is taken, after %s", after).isEqualTo(SLOTS);
        }
    }

    @Provide
    Arbitrary<List<Step>> scenarios() {
        Arbitrary<Step> step = Combinators.combine(
                        Arbitraries.of("start", "start", "open", "turn", "close", "end", "wait"),
                        Arbitraries.integers().between(0, 6),
                        Arbitraries.longs().between(500, 40_000))
                .as(Step::new);
        return step.list().ofMinSize(5).ofMaxSize(30);
    }
}
