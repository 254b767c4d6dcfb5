package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.common.KafkaClients;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Interactive queries as plain results; forwarding between instances is covered by the two-processor IT. */
class CallQueriesTest {

    private final ProcessorConfig config = new ProcessorConfig(Map.of());

    @TempDir
    Path stateDir;

    @Test
    void shouldAnswer503WithoutAProcessorAnd400ForABadId() {
        CallQueries queries = new CallQueries(null, config, 6, null);

        assertThat(queries.call("call-1", false).status()).isEqualTo(503);
        assertThat(queries.capacity(false).status()).isEqualTo(503);
        assertThat(queries.call("", false).status()).isEqualTo(400);
        assertThat(queries.call("a/b", true).status()).isEqualTo(400);
        assertThat(queries.call("x".repeat(257), true).status()).isEqualTo(400);
        assertThat(queries.capacityTotal()).isEmpty();
    }

    @Test
    @SuppressWarnings("unchecked")
    void shouldAnswerLocallyWhileTheStoresAreNotQueryable() {
        // Given a processor that is not started: nothing is queryable, nobody else is known
        ProcessorRole processor = new ProcessorRole(config, new KafkaClients("127.0.0.1:1", ""), Topics.defaults(),
                stateDir, new SimpleMeterRegistry());
        CallQueries queries = new CallQueries(processor, config, 6, null);

        // When / Then
        CallQueries.Result call = queries.call("call-1", false);
        assertThat(call.status()).isEqualTo(404);
        assertThat((Map<String, Object>) call.body()).containsEntry("error", "unknown call")
                .containsEntry("call_id", "call-1");
        CallQueries.Result capacity = queries.capacity(false);
        assertThat(capacity.status()).isEqualTo(200);
        Map<String, Object> body = (Map<String, Object>) capacity.body();
        assertThat(body).containsKeys("total", "partitions", "instances", "unreachable",
                "max_active_calls_per_partition");
        assertThat(queries.capacityTotal()).containsEntry("active", 0L).containsEntry("partitions", 6)
                .containsEntry("partitions_reported", 0).containsEntry("utilization", 0.0);
        processor.close();
    }
}
