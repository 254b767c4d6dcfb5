package io.callguard.processor.internal;

import io.callguard.processor.CallTopology;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.JsonSerde;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the call-events stream into call state: deserializes each record (dead-lettering what cannot be
 * read), drops duplicate deliveries by idempotency key, folds the rest into the call's state and forwards
 * every change to the call-state topic. One instance per stream task, i.e. per partition.
 */
public final class CallStateProcessor implements Processor<String, byte[], String, Object> {

    /** Key of the dead letters this processor writes, and their {@code source}. */
    public static final String DEAD_LETTER_SOURCE = "processor";
    /** Most expired idempotency keys purged per punctuation, so one purge never holds the thread for long. */
    static final int PURGE_BATCH = 10_000;

    private static final Logger LOG = LoggerFactory.getLogger(CallStateProcessor.class);

    private final ProcessorConfig config;
    private final MeterRegistry meters;
    private final JsonSerde<CallEvent> eventSerde = JsonSerde.of(CallEvent.class);

    private ProcessorContext<String, Object> context;
    private KeyValueStore<String, CallState> states;
    private KeyValueStore<String, CallDetails> details;
    private DedupeLedger dedupe;

    public CallStateProcessor(ProcessorConfig config, MeterRegistry meters) {
        this.config = config;
        this.meters = meters;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        this.states = context.getStateStore(CallTopology.CALL_STATE_STORE);
        this.details = context.getStateStore(CallTopology.CALL_DETAILS_STORE);
        this.dedupe = new DedupeLedger(context.getStateStore(CallTopology.DEDUPE_STORE),
                context.getStateStore(CallTopology.DEDUPE_EXPIRY_STORE), config.dedupeTtlMs());
        context.schedule(Duration.ofMillis(config.dedupePurgeIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                nowMs -> dedupe.purge(nowMs, PURGE_BATCH));
    }

    @Override
    public void process(Record<String, byte[]> record) {
        long nowMs = context.currentSystemTimeMs();
        CallEvent event;
        try {
            event = eventSerde.fromBytes(record.value());
        } catch (SerializationException e) {
            deadLetter(record, "invalid_call_event", e.getMessage(), nowMs);
            return;
        }
        if (event == null) {
            deadLetter(record, "empty_record", "a call-events record has no value", nowMs);
            return;
        }
        if (!event.callId().equals(record.key())) {
            // The key decides the partition, and a partition owns the call's state and capacity slot:
            // an event keyed otherwise would split the call across partitions.
            deadLetter(record, "key_mismatch", "record key '" + record.key() + "' is not the event's call_id '"
                    + event.callId() + "'", nowMs);
            return;
        }
        String idempotencyKey = event.idempotencyKey();
        if (idempotencyKey != null && dedupe.seen(idempotencyKey, nowMs)) {
            dropDuplicate(event);
            return;
        }
        apply(event, nowMs);
        // Remembered after applying: if a crash under at_least_once lands only one of the two writes,
        // a redelivery is applied twice rather than lost.
        if (idempotencyKey != null) {
            dedupe.remember(idempotencyKey, nowMs);
        }
    }

    private void apply(CallEvent event, long nowMs) {
        CallState prior = states.get(event.callId());
        CallState folded = CallEventFold.fold(prior, event, nowMs);
        CallState.Builder next = folded.toBuilder();
        DetailsSource.of(event.type()).ifPresent(source -> {
            details.put(source.storeKey(event.callId()), CallEventFold.details(event));
            mergedDetails(event.callId()).applyTo(next);
        });
        next.status(folded.ended() ? CallStatus.ENDED : CallStatus.ACTIVE);
        CallState state = next.build();
        states.put(state.callId(), state);
        context.forward(new Record<String, Object>(state.callId(), state, context.currentSystemTimeMs()),
                CallTopology.CALL_STATE_SINK);
        meters.counter(ProcessorMetrics.EVENTS_APPLIED, ProcessorMetrics.TAG_KIND, event.type()).increment();
    }

    /** The call's details from every source seen so far, later lifecycle sources winning field by field. */
    private CallDetails mergedDetails(String callId) {
        CallDetails merged = CallDetails.EMPTY;
        for (DetailsSource source : DetailsSource.values()) {
            CallDetails reported = details.get(source.storeKey(callId));
            if (reported != null) {
                merged = merged.overriddenBy(reported);
            }
        }
        return merged;
    }

    private void dropDuplicate(CallEvent event) {
        CallState state = states.get(event.callId());
        if (state != null) {
            // Counted on the state for the archive, but not forwarded: a duplicate is not a change of the call.
            states.put(state.callId(), state.toBuilder().duplicatesDropped(state.duplicatesDropped() + 1).build());
        }
        meters.counter(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND, event.type()).increment();
    }

    private void deadLetter(Record<String, byte[]> record, String reason, String detail, long nowMs) {
        RecordMetadata where = context.recordMetadata().orElse(null);
        String topic = where == null ? null : where.topic();
        int partition = where == null ? 0 : where.partition();
        long offset = where == null ? 0 : where.offset();
        LOG.warn("dead-lettering record {}-{}@{}: {}: {}", topic, partition, offset, reason, detail);
        DeadLetter letter = where == null
                ? DeadLetter.atEdge(DEAD_LETTER_SOURCE, reason, detail, record.key(), nowMs, record.value())
                : DeadLetter.fromRecord(DEAD_LETTER_SOURCE, reason, detail, record.key(), topic, partition, offset,
                        nowMs, record.value());
        context.forward(new Record<String, Object>(DEAD_LETTER_SOURCE, letter, record.timestamp()),
                CallTopology.DEAD_LETTER_SINK);
        meters.counter(ProcessorMetrics.DEAD_LETTERS, ProcessorMetrics.TAG_REASON, reason).increment();
    }
}
