package io.callguard.processor;

import io.callguard.schemas.CallEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Events/s through the call topology alone (TopologyTestDriver, real RocksDB stores, no broker): the
 * processor's own cost per event, a ceiling for the broker-backed figure of {@code bench-processor}.
 * Not a test (benchmarks run on purpose, not in {@code mvn verify}); run it as the README says.
 *
 * <p>Arguments: calls (default 10000). Each call gets call_started, two response_required, a duplicate
 * call_started (dropped) and call_ended: five events, one of them a duplicate, one archive.
 */
public final class TopologyThroughputBench {

    private TopologyThroughputBench() {
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        for (int round = 1; round <= 3; round++) {
            Path stateDir = Files.createTempDirectory("callguard-topology-bench");
            try (TopologyFixture fixture = new TopologyFixture(stateDir, Map.of(
                    ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_CONFIG, String.valueOf(calls * 10)))) {
                List<CallEvent> events = new ArrayList<>(calls * 5);
                long t = TopologyFixture.T0;
                for (int i = 0; i < calls; i++) {
                    String callId = "bench-" + i;
                    CallEvent started = TestEvents.callStarted(callId, t);
                    events.add(started);
                    events.add(TestEvents.responseRequired(callId, 1, t + 1, 2));
                    events.add(TestEvents.responseRequired(callId, 2, t + 2, 4));
                    events.add(TestEvents.redelivery(started));
                    events.add(TestEvents.callEnded(callId, t + 3));
                }
                long start = System.nanoTime();
                for (CallEvent event : events) {
                    fixture.send(event);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                int archived = fixture.archives().size();
                System.out.printf("round %d: %d events (%d calls, %d archived) in %.2f s = %.0f events/s%n", round,
                        events.size(), calls, archived, seconds, events.size() / seconds);
            }
        }
    }
}
