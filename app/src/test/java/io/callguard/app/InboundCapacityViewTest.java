package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.ingress.InboundCapacity.State;
import io.callguard.processor.CallQueries;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a {@code /capacity} answer means for an inbound call that would land on a partition not known yet. */
class InboundCapacityViewTest {

    private static Map<String, Object> partition(int id, long active, long queued, int capacity, int queueSize) {
        return Map.of("partition", id, "active", active, "queued", queued, "capacity", capacity,
                "queue_size", queueSize);
    }

    private static CallQueries.Result report(int partitions, List<Map<String, Object>> reported) {
        return new CallQueries.Result(200, Map.of("total", Map.of("partitions", partitions), "partitions", reported));
    }

    @Test
    void shouldBeFullOnlyWhenEveryPartitionReportedWithNoSlotAndAFullQueue() {
        assertThat(InboundCapacityView.stateOf(report(2, List.of(partition(0, 1, 0, 1, 0), partition(1, 2, 3, 2, 3)))))
                .isEqualTo(State.FULL);
    }

    @Test
    void shouldHaveRoomWhenAnyPartitionHasASlotOrAQueuePlace() {
        assertThat(InboundCapacityView.stateOf(report(2, List.of(partition(0, 1, 0, 1, 0), partition(1, 1, 0, 2, 0)))))
                .isEqualTo(State.ROOM);
        assertThat(InboundCapacityView.stateOf(report(1, List.of(partition(0, 1, 2, 1, 3)))))
                .isEqualTo(State.ROOM);
    }

    @Test
    void shouldNotKnowWhenAPartitionDidNotReportOrTheProcessorDoesNotAnswer() {
        assertThat(InboundCapacityView.stateOf(report(2, List.of(partition(0, 1, 0, 1, 0))))).isEqualTo(State.UNKNOWN);
        assertThat(InboundCapacityView.stateOf(report(1, List.of()))).isEqualTo(State.UNKNOWN);
        assertThat(InboundCapacityView.stateOf(new CallQueries.Result(503, Map.of("error", "no processor"))))
                .isEqualTo(State.UNKNOWN);
    }
}
