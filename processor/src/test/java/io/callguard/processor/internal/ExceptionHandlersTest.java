package io.callguard.processor.internal;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.JsonSerde;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.processor.api.Record;
import org.junit.jupiter.api.Test;

/** The decisions of the processing and production exception handlers the role installs. */
class ExceptionHandlersTest {

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final Map<String, Object> configs = Map.of(HandlerSettings.METER_REGISTRY, meters,
            HandlerSettings.DEAD_LETTER_TOPIC, "callguard.dead-letters");

    @Test
    void shouldDeadLetterRecordWhoseProcessingThrowsAndResume() {
        // Given
        DeadLetterProcessingExceptionHandler handler = new DeadLetterProcessingExceptionHandler();
        handler.configure(configs);

        // When
        ProcessingExceptionHandler.Response response = handler.handleError(context(), new Record<>("c1", "x", 5L),
                new IllegalStateException("boom"));

        // Then
        assertThat(response.result()).isEqualTo(ProcessingExceptionHandler.Result.RESUME);
        assertThat(response.deadLetterQueueRecords()).singleElement().satisfies(record -> {
            assertThat(record.topic()).isEqualTo("callguard.dead-letters");
            DeadLetter letter = JsonSerde.of(DeadLetter.class).fromBytes(record.value());
            assertMatchesSchema(letter);
            assertThat(letter.reason()).isEqualTo("processing_error");
            assertThat(letter.topic()).isEqualTo("callguard.call-events");
            assertThat(letter.partition()).isEqualTo(3);
            assertThat(letter.offset()).isEqualTo(42L);
            assertThat(letter.callId()).isEqualTo("c1");
            assertThat(new String(letter.original(), StandardCharsets.UTF_8)).isEqualTo("{\"raw\":true}");
            assertThat(letter.detail()).contains("boom");
        });
        assertThat(meters.counter(ProcessorMetrics.DEAD_LETTERS, ProcessorMetrics.TAG_SOURCE, "processor",
                ProcessorMetrics.TAG_REASON, "processing_error").count()).isEqualTo(1.0);
    }

    @Test
    void shouldRetryRetriableSkipTooLargeAndFailOtherProductionErrors() {
        // Given
        SkipUnwritableOutputHandler handler = new SkipUnwritableOutputHandler();
        handler.configure(configs);
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>("callguard.call-state", new byte[1], new byte[1]);

        // Then
        assertThat(handler.handleError(context(), record, new TimeoutException("slow")).result())
                .isEqualTo(ProductionExceptionHandler.Result.RETRY);
        assertThat(handler.handleError(context(), record, new RecordTooLargeException("big")).result())
                .isEqualTo(ProductionExceptionHandler.Result.RESUME);
        assertThat(handler.handleError(context(), record, new AuthorizationException("no")).result())
                .isEqualTo(ProductionExceptionHandler.Result.FAIL);
        assertThat(handler.handleSerializationError(context(), record, new SerializationException("bad"),
                ProductionExceptionHandler.SerializationExceptionOrigin.VALUE).result())
                .isEqualTo(ProductionExceptionHandler.Result.RESUME);
        assertThat(meters.find(ProcessorMetrics.PRODUCTION_ERRORS_SKIPPED).counters())
                .extracting(counter -> counter.getId().getTag(ProcessorMetrics.TAG_REASON))
                .containsExactlyInAnyOrder(ProcessorMetrics.SKIPPED_TOO_LARGE, ProcessorMetrics.SKIPPED_SERIALIZATION);
    }

    private static ErrorHandlerContext context() {
        return new ErrorHandlerContext() {
            @Override
            public String topic() {
                return "callguard.call-events";
            }

            @Override
            public int partition() {
                return 3;
            }

            @Override
            public long offset() {
                return 42;
            }

            @Override
            public Headers headers() {
                return new RecordHeaders();
            }

            @Override
            public String processorNodeId() {
                return "call-state-processor";
            }

            @Override
            public TaskId taskId() {
                return new TaskId(0, 3);
            }

            @Override
            public long timestamp() {
                return 1_700_000_000_000L;
            }

            @Override
            public byte[] sourceRawKey() {
                return "c1".getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public byte[] sourceRawValue() {
                return "{\"raw\":true}".getBytes(StandardCharsets.UTF_8);
            }
        };
    }
}
