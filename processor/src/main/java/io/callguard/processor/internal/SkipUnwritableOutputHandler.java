package io.callguard.processor.internal;

import io.callguard.processor.ProcessorMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what happens when Kafka refuses an output record. Retriable errors are retried; a record that
 * can never be written (too large, or not serializable) is logged, counted and skipped, because failing
 * would replay the same record into the same error forever and stall every call on the partition (a
 * skipped call-state version is superseded by the call's next change). Anything else fails the stream
 * thread, which the uncaught-exception handler replaces: nothing is committed past an unwritten record.
 */
public final class SkipUnwritableOutputHandler implements ProductionExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(SkipUnwritableOutputHandler.class);

    private MeterRegistry meters;

    @Override
    public void configure(Map<String, ?> configs) {
        meters = HandlerSettings.meters(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
                                Exception exception) {
        if (exception instanceof RetriableException) {
            return Response.retry();
        }
        if (exception instanceof RecordTooLargeException) {
            return skip(context, record.topic(), exception, ProcessorMetrics.SKIPPED_TOO_LARGE);
        }
        LOG.error("cannot write to {} (input {}-{}@{}); failing the stream thread", record.topic(), context.topic(),
                context.partition(), context.offset(), exception);
        return Response.fail();
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record, Exception exception,
                                             SerializationExceptionOrigin origin) {
        return skip(context, record.topic(), exception, ProcessorMetrics.SKIPPED_SERIALIZATION);
    }

    private Response skip(ErrorHandlerContext context, String topic, Exception exception, String reason) {
        LOG.error("skipping an output record to {} (input {}-{}@{}): {}", topic, context.topic(), context.partition(),
                context.offset(), exception.toString());
        meters.counter(ProcessorMetrics.PRODUCTION_ERRORS_SKIPPED, ProcessorMetrics.TAG_REASON, reason).increment();
        return Response.resume();
    }
}
