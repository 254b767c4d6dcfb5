package io.callguard.processor.internal;

import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.JsonSerde;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what happens when a processor throws on a record (a bug or an input we did not foresee):
 * the record goes to the dead-letter topic with its source bytes, topic, partition and offset, it is
 * counted, and processing resumes. Failing instead would stop the whole partition, and with it every
 * call on it, on one record that would fail again after every restart.
 */
public final class DeadLetterProcessingExceptionHandler implements ProcessingExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterProcessingExceptionHandler.class);
    private static final String REASON = "processing_error";

    private final JsonSerde<DeadLetter> serde = JsonSerde.of(DeadLetter.class);
    private MeterRegistry meters;
    private String deadLetterTopic;

    @Override
    public void configure(Map<String, ?> configs) {
        meters = HandlerSettings.meters(configs);
        deadLetterTopic = HandlerSettings.deadLetterTopic(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        LOG.error("processor {} failed on record {}-{}@{}; dead-lettered, continuing", context.processorNodeId(),
                context.topic(), context.partition(), context.offset(), exception);
        meters.counter(ProcessorMetrics.DEAD_LETTERS, ProcessorMetrics.TAG_SOURCE,
                CallStateProcessor.DEAD_LETTER_SOURCE, ProcessorMetrics.TAG_REASON, REASON).increment();
        byte[] key = context.sourceRawKey();
        DeadLetter letter = DeadLetter.fromRecord(CallStateProcessor.DEAD_LETTER_SOURCE, REASON,
                exception.getClass().getName() + ": " + exception.getMessage(),
                key == null ? null : new String(key, StandardCharsets.UTF_8), context.topic(), context.partition(),
                context.offset(), context.timestamp(), context.sourceRawValue());
        return Response.resume(List.of(new ProducerRecord<>(deadLetterTopic,
                CallStateProcessor.DEAD_LETTER_SOURCE.getBytes(StandardCharsets.UTF_8), serde.toBytes(letter))));
    }
}
