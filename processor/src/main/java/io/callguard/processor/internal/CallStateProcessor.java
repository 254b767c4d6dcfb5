package io.callguard.processor.internal;

import io.callguard.processor.CallTopologyNames;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.JsonSerde;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
 * Turns the call-events stream into call state, one instance per stream task (= partition): parses each
 * record (dead-lettering what cannot be read), drops duplicate deliveries by idempotency key, folds the
 * rest into the call's state, admits calls to this partition's capacity (slot, FIFO queue or rejection),
 * archives calls that end, expire, lose their socket or are rejected, and deletes them after a grace period.
 * Every change of a call's state is forwarded to the call-state topic, the only place admission is told: the
 * responder reads it and says the hold or busy line (this processor writes no answers). A change of counters only
 * (a turn, mostly) is forwarded with the next other change or every {@code call.state-counters-interval-ms}, the
 * call's latest state once; a socket turn is deduped by the call's latest response id, not by an idempotency key
 * (both cut the records a turn costs: {@link CallStateChanges}).
 *
 * <p>Status: a call's first event, whatever it is (a {@code call_started}, or {@code socket_opened} for a call
 * known only by its socket), admits it (ACTIVE), queues it (QUEUED) or rejects it (REJECTED, queue_full),
 * unless that event is {@code call_ended}, which makes it ENDED without a slot; a later event of the call
 * (its {@code call_started} after the socket) never admits it again. A live call (ACTIVE or QUEUED) becomes
 * ENDED on {@code call_ended}; EXPIRED after {@code call.ttl-ms} without a change, or when its current socket
 * closed and none opened within {@code capacity.socket-lost-grace-ms} (archived as socket_lost: EXPIRED because
 * callguard, not Retell, closed it); and a queued one REJECTED after {@code capacity.queue-timeout-ms}. ENDED,
 * EXPIRED and REJECTED are final: the call is archived once, its slot or queue place released, and later
 * events during the grace period still update its state (a late {@code call_ended} or {@code call_analyzed})
 * but never give it a slot or archive it again.
 */
public final class CallStateProcessor implements Processor<String, byte[], String, Object> {

    /** Key of the dead letters this processor writes, and their {@code source}. */
    public static final String DEAD_LETTER_SOURCE = "processor";
    /** Most entries one punctuation handles, so a punctuation never holds the stream thread for long. */
    static final int PUNCTUATION_BATCH = 10_000;

    private static final Logger LOG = LoggerFactory.getLogger(CallStateProcessor.class);

    private final ProcessorConfig config;
    private final int capacityPerPartition;
    private final MeterRegistry meters;
    private final JsonSerde<CallEvent> eventSerde = JsonSerde.of(CallEvent.class);
    private final List<Gauge> gauges = new ArrayList<>();
    /**
     * Calls whose stored state is ahead of call-state by counters only, with that state: published together every
     * {@code call.state-counters-interval-ms}. In memory: after a restart a call's counters catch up at its next event.
     */
    private final Map<String, CallState> unpublished = new LinkedHashMap<>();
    private final long countersIntervalMs;

    private ProcessorContext<String, Object> context;
    private KeyValueStore<String, CallState> states;
    private KeyValueStore<String, CallDetails> details;
    private KeyValueStore<String, Long> closedCalls;
    private DedupeLedger dedupe;
    private CallTimers timers;
    private CapacityLedger capacity;

    /**
     * @param config               dedupe, capacity and lifecycle settings
     * @param capacityPerPartition slots of each partition
     * @param meters               where to record metrics
     */
    public CallStateProcessor(ProcessorConfig config, int capacityPerPartition, MeterRegistry meters) {
        this.config = config;
        this.capacityPerPartition = capacityPerPartition;
        this.meters = meters;
        this.countersIntervalMs = config.stateCountersIntervalMs();
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        states = context.getStateStore(CallTopologyNames.CALL_STATE_STORE);
        details = context.getStateStore(CallTopologyNames.CALL_DETAILS_STORE);
        closedCalls = context.getStateStore(CallTopologyNames.CLOSED_CALLS_STORE);
        dedupe = new DedupeLedger(context.getStateStore(CallTopologyNames.DEDUPE_STORE),
                context.getStateStore(CallTopologyNames.DEDUPE_EXPIRY_STORE), config.dedupeTtlMs());
        timers = new CallTimers(context.getStateStore(CallTopologyNames.CALL_TIMERS_STORE));
        capacity = new CapacityLedger(context.getStateStore(CallTopologyNames.CAPACITY_COUNTERS_STORE),
                context.getStateStore(CallTopologyNames.CAPACITY_QUEUE_STORE), capacityPerPartition, config.queueSize());
        capacity.recount(states);
        registerGauges(String.valueOf(context.taskId().partition()));
        context.schedule(Duration.ofMillis(config.dedupePurgeIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                nowMs -> dedupe.purge(nowMs, PUNCTUATION_BATCH));
        context.schedule(Duration.ofMillis(config.expiryScanIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                this::fireTimers);
        if (countersIntervalMs > 0) {
            context.schedule(Duration.ofMillis(countersIntervalMs), PunctuationType.WALL_CLOCK_TIME,
                    this::publishCounters);
        }
    }

    @Override
    public void close() {
        // A task can move away and come back: its gauges must not keep pointing at this instance.
        gauges.forEach(meters::remove);
        gauges.clear();
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
        String callId = event.callId();
        CallState prior = states.get(callId);
        // A socket turn is deduped by the call's latest response id (CallStateChanges.turnResponseId); every other
        // keyed event by its idempotency key, remembered for dedupe.ttl-ms.
        Long turnResponseId = CallStateChanges.turnResponseId(event);
        String idempotencyKey = turnResponseId == null ? event.idempotencyKey() : null;
        boolean duplicate = turnResponseId != null ? CallStateChanges.turnAlreadyApplied(prior, turnResponseId)
                : idempotencyKey != null && dedupe.seen(idempotencyKey, nowMs);
        if (duplicate) {
            dropDuplicate(event, prior);
            return;
        }
        if (prior == null) {
            // Removing a call deletes its state and leaves this marker: a call with a state is not a removed one.
            Long closedUntil = closedCalls.get(callId);
            if (closedUntil != null && closedUntil > nowMs) {
                // The call was archived and removed: a straggler must not open it again and take a slot.
                meters.counter(ProcessorMetrics.EVENTS_DROPPED, ProcessorMetrics.TAG_REASON, "call_closed").increment();
                return;
            }
        }
        apply(event, prior, nowMs);
        // Under exactly_once_v2 the state, the key, the outputs and the input offset commit in one transaction,
        // so a redelivery after a crash finds all of them or none. Under at_least_once the state and the key go
        // to different changelog partitions and a crash can keep either one without the other (applied twice,
        // or dropped as a duplicate unapplied): see README, "Processing guarantee".
        if (idempotencyKey != null) {
            dedupe.remember(idempotencyKey, nowMs);
        }
    }

    private void apply(CallEvent event, CallState prior, long nowMs) {
        CallState folded = foldWithDetails(prior, event, nowMs);
        CallState next;
        if (prior == null) {
            next = folded.ended() ? folded.toBuilder().status(CallStatus.ENDED).build() : admit(folded, event, nowMs);
        } else if (isLive(prior.status()) && folded.ended()) {
            next = folded.toBuilder().status(CallStatus.ENDED).build();
        } else {
            next = folded;
        }
        saveChange(prior, next, nowMs);
        meters.counter(ProcessorMetrics.EVENTS_APPLIED, ProcessorMetrics.TAG_KIND, ProcessorMetrics.kindTag(event.type()))
                .increment();
        CallStatus before = prior == null ? null : prior.status();
        boolean wasLive = prior != null && isLive(before);
        // The TTL timer's due time is rounded up to a granularity (ttlDueAtMs): most events of a live call
        // leave it where it is, and cost no timer-store writes (two changelog records per turn, before).
        long priorDue = wasLive ? ttlDueAtMs(prior.updatedAtMs()) : -1;
        long nextDue = isLive(next.status()) ? ttlDueAtMs(next.updatedAtMs()) : -1;
        if (wasLive && priorDue != nextDue) {
            timers.cancel(CallTimers.Kind.TTL, prior.callId(), priorDue);
        }
        if (nextDue >= 0) {
            if (nextDue != priorDue) {
                timers.schedule(CallTimers.Kind.TTL, next.callId(), nextDue);
            }
        } else if (before == null || wasLive) {
            closed(next, before, archiveReason(next.status()), nowMs);
        }
        if (isLive(next.status())) {
            followSocket(wasLive ? prior.socketLostAtMs() : null, next);
        }
    }

    /**
     * Starts or cancels the socket-lost grace of a live call whose socket mark moved: lost now (the grace
     * starts), or back (a socket opened in time: the slot stays).
     */
    private void followSocket(Long priorLostAtMs, CallState call) {
        Long lostAtMs = call.socketLostAtMs();
        if (Objects.equals(priorLostAtMs, lostAtMs)) {
            return;
        }
        if (priorLostAtMs != null) {
            timers.cancel(CallTimers.Kind.SOCKET_LOST, call.callId(), priorLostAtMs + config.socketLostGraceMs());
        }
        if (lostAtMs != null) {
            timers.schedule(CallTimers.Kind.SOCKET_LOST, call.callId(), lostAtMs + config.socketLostGraceMs());
            LOG.info("call {}: socket {} lost on partition {}; its {} kept for {} ms", call.callId(),
                    call.connectionId(), partition(), call.status() == CallStatus.QUEUED ? "queue place" : "slot",
                    config.socketLostGraceMs());
            graceDecision(ProcessorMetrics.GRACE_STARTED);
        } else {
            LOG.info("call {}: socket {} opened within the socket-lost grace; it keeps its place", call.callId(),
                    call.connectionId());
            graceDecision(ProcessorMetrics.GRACE_RECONNECTED);
        }
    }

    private CallState foldWithDetails(CallState prior, CallEvent event, long nowMs) {
        CallState folded = CallEventFold.fold(prior, event, nowMs);
        Optional<DetailsSource> source = DetailsSource.of(event.type());
        if (source.isEmpty()) {
            return folded;
        }
        details.put(source.get().storeKey(event.callId()), CallEventFold.details(event));
        return mergedDetails(event.callId()).applyTo(folded.toBuilder()).build();
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

    /** Gives a new call a slot, a queue place, or a rejection (queue_full). Keeps the queue FIFO. */
    private CallState admit(CallState call, CallEvent first, long nowMs) {
        if (capacity.hasFreeSlot() && capacity.queueIsEmpty()) {
            capacity.takeSlot();
            LOG.info("call {} admitted on partition {} ({} of {} slots taken)", call.callId(), partition(),
                    capacity.activeCount().get(), capacity.capacity());
            return call.toBuilder().status(CallStatus.ACTIVE).admittedAtMs(nowMs).build();
        }
        if (!capacity.queueIsFull()) {
            capacity.enqueue(new QueuedCall(call.callId(), nowMs, first.receivedAtMs(), first.edgeNode()));
            timers.schedule(CallTimers.Kind.QUEUE_TIMEOUT, call.callId(), nowMs + config.queueTimeoutMs());
            LOG.info("call {} queued on partition {} ({} waiting, all {} slots taken)", call.callId(), partition(),
                    capacity.queuedCount().get(), capacity.capacity());
            return call.toBuilder().status(CallStatus.QUEUED).queuedAtMs(nowMs).build();
        }
        String reason = CallState.REJECTED_QUEUE_FULL;
        rejected(call.callId(), reason);
        return call.toBuilder().status(CallStatus.REJECTED).rejectionReason(reason).build();
    }

    /**
     * Bookkeeping when a call reaches a final status: archive it once, free what it held, delete it after
     * the grace period, and let the queue move up.
     */
    private void closed(CallState call, CallStatus before, ArchiveReason reason, long nowMs) {
        if (before == CallStatus.ACTIVE) {
            capacity.releaseSlot();
        } else if (before == CallStatus.QUEUED) {
            capacity.leaveQueue(call.callId());
            timers.cancel(CallTimers.Kind.QUEUE_TIMEOUT, call.callId(), call.queuedAtMs() + config.queueTimeoutMs());
        }
        if (call.socketLostAtMs() != null) {
            timers.cancel(CallTimers.Kind.SOCKET_LOST, call.callId(), call.socketLostAtMs() + config.socketLostGraceMs());
        }
        archive(call, reason, nowMs);
        timers.schedule(CallTimers.Kind.GRACE, call.callId(), nowMs + config.archiveGraceMs());
        admitFromQueue(nowMs);
    }

    /** Admits queued calls, oldest first, while there are free slots. */
    private void admitFromQueue(long nowMs) {
        while (capacity.hasFreeSlot()) {
            Optional<QueuedCall> head = capacity.pollHead();
            if (head.isEmpty()) {
                return;
            }
            CallState queued = states.get(head.get().callId());
            if (queued == null || queued.status() != CallStatus.QUEUED) {
                continue;
            }
            timers.cancel(CallTimers.Kind.QUEUE_TIMEOUT, queued.callId(), queued.queuedAtMs() + config.queueTimeoutMs());
            timers.cancel(CallTimers.Kind.TTL, queued.callId(), ttlDueAtMs(queued.updatedAtMs()));
            capacity.takeSlot();
            LOG.info("call {} admitted from the queue on partition {} after {} ms", queued.callId(), partition(),
                    queued.queuedAtMs() == null ? 0 : nowMs - queued.queuedAtMs());
            CallState admitted = queued.toBuilder().status(CallStatus.ACTIVE).admittedAtMs(nowMs).updatedAtMs(nowMs)
                    .build();
            save(admitted, nowMs);
            timers.schedule(CallTimers.Kind.TTL, admitted.callId(), ttlDueAtMs(admitted.updatedAtMs()));
        }
    }

    /**
     * When the TTL timer of a live call last updated at {@code updatedAtMs} is due: {@code processor.call-ttl-ms}
     * later, rounded up to a sixtieth of the TTL (at most a minute; one minute for the default hour). So an
     * idle call expires at most that much late, and its timer moves once per granularity, not on every event.
     */
    long ttlDueAtMs(long updatedAtMs) {
        long ttl = config.callTtlMs();
        long step = Math.max(1, Math.min(60_000, ttl / 60));
        return Math.floorDiv(updatedAtMs + ttl + step - 1, step) * step;
    }

    private void fireTimers(long nowMs) {
        for (CallTimers.Timer timer : timers.takeDue(nowMs, PUNCTUATION_BATCH)) {
            switch (timer.kind()) {
                case TTL -> expireIfIdle(timer.callId(), nowMs);
                case QUEUE_TIMEOUT -> rejectIfStillQueued(timer.callId(), nowMs);
                case SOCKET_LOST -> releaseIfSocketStillLost(timer.callId(), nowMs);
                case GRACE -> removeIfClosed(timer.callId(), nowMs);
                case CLOSED -> forgetClosedMarker(timer.callId(), nowMs);
            }
        }
        // Also picks up slots added by a larger capacity setting after a restart.
        admitFromQueue(nowMs);
    }

    private void expireIfIdle(String callId, long nowMs) {
        CallState call = states.get(callId);
        if (call == null || !isLive(call.status())) {
            return;
        }
        if (call.updatedAtMs() + config.callTtlMs() > nowMs) {
            // The TTL setting grew since the timer was set: keep a timer for the real due time.
            timers.schedule(CallTimers.Kind.TTL, callId, ttlDueAtMs(call.updatedAtMs()));
            return;
        }
        CallState expired = call.toBuilder().status(CallStatus.EXPIRED).updatedAtMs(nowMs).build();
        save(expired, nowMs);
        closed(expired, call.status(), ArchiveReason.EXPIRED, nowMs);
    }

    private void rejectIfStillQueued(String callId, long nowMs) {
        CallState call = states.get(callId);
        if (call == null || call.status() != CallStatus.QUEUED || call.queuedAtMs() == null) {
            return;
        }
        long dueAtMs = call.queuedAtMs() + config.queueTimeoutMs();
        if (dueAtMs > nowMs) {
            timers.schedule(CallTimers.Kind.QUEUE_TIMEOUT, callId, dueAtMs);
            return;
        }
        String reason = CallState.REJECTED_QUEUE_TIMEOUT;
        capacity.leaveQueue(callId);
        rejected(callId, reason);
        CallState rejected = call.toBuilder().status(CallStatus.REJECTED).rejectionReason(reason).updatedAtMs(nowMs)
                .build();
        save(rejected, nowMs);
        timers.cancel(CallTimers.Kind.TTL, callId, ttlDueAtMs(call.updatedAtMs()));
        closed(rejected, CallStatus.QUEUED, ArchiveReason.REJECTED, nowMs);
    }

    /**
     * A live call whose socket is still lost at the end of its grace, with no {@code call_ended}: its slot or
     * queue place goes (to the head of the queue), it is archived as socket_lost and becomes EXPIRED.
     */
    private void releaseIfSocketStillLost(String callId, long nowMs) {
        CallState call = states.get(callId);
        if (call == null || !isLive(call.status()) || call.socketLostAtMs() == null) {
            return;
        }
        long dueAtMs = call.socketLostAtMs() + config.socketLostGraceMs();
        if (dueAtMs > nowMs) {
            // The grace setting grew since the timer was set: keep a timer for the real due time.
            timers.schedule(CallTimers.Kind.SOCKET_LOST, callId, dueAtMs);
            return;
        }
        LOG.info("call {}: socket {} lost for {} ms with no call_ended on partition {}; its {} is released",
                callId, call.connectionId(), nowMs - call.socketLostAtMs(), partition(),
                call.status() == CallStatus.QUEUED ? "queue place" : "slot");
        CallState lost = call.toBuilder().status(CallStatus.EXPIRED).updatedAtMs(nowMs).build();
        save(lost, nowMs);
        timers.cancel(CallTimers.Kind.TTL, callId, ttlDueAtMs(call.updatedAtMs()));
        graceDecision(ProcessorMetrics.GRACE_RELEASED);
        closed(lost, call.status(), ArchiveReason.SOCKET_LOST, nowMs);
    }

    private void graceDecision(String outcome) {
        meters.counter(ProcessorMetrics.SOCKET_GRACE, ProcessorMetrics.TAG_OUTCOME, outcome).increment();
    }

    private void removeIfClosed(String callId, long nowMs) {
        CallState call = states.get(callId);
        if (call == null || isLive(call.status())) {
            return;
        }
        states.delete(callId);
        unpublished.remove(callId);
        for (DetailsSource source : DetailsSource.values()) {
            details.delete(source.storeKey(callId));
        }
        long closedUntil = nowMs + config.dedupeTtlMs();
        closedCalls.put(callId, closedUntil);
        timers.schedule(CallTimers.Kind.CLOSED, callId, closedUntil);
        // Tombstone: the compacted call-state topic forgets the call too.
        context.forward(new Record<String, Object>(callId, null, nowMs), CallTopologyNames.CALL_STATE_SINK);
    }

    private void forgetClosedMarker(String callId, long nowMs) {
        Long closedUntil = closedCalls.get(callId);
        if (closedUntil != null && closedUntil <= nowMs) {
            closedCalls.delete(callId);
        }
    }

    /** Stores a change and publishes it to call-state at once. */
    private void save(CallState state, long nowMs) {
        states.put(state.callId(), state);
        publish(state, nowMs);
    }

    /**
     * Stores an event's change; publishes it at once unless it changed counters only, which wait for the next
     * {@link #publishCounters} (or go with the call's next other change).
     */
    private void saveChange(CallState prior, CallState next, long nowMs) {
        if (prior != null && countersIntervalMs > 0 && CallStateChanges.countersOnly(prior, next)) {
            states.put(next.callId(), next);
            unpublished.put(next.callId(), next);
            return;
        }
        save(next, nowMs);
    }

    private void publish(CallState state, long nowMs) {
        unpublished.remove(state.callId());
        context.forward(new Record<String, Object>(state.callId(), state, nowMs), CallTopologyNames.CALL_STATE_SINK);
    }

    /** Publishes the counter changes held since the last time, each call's latest state once. */
    private void publishCounters(long nowMs) {
        if (unpublished.isEmpty()) {
            return;
        }
        for (CallState state : new ArrayList<>(unpublished.values())) {
            publish(state, nowMs);
        }
    }

    private void archive(CallState call, ArchiveReason reason, long nowMs) {
        long durationMs = call.durationMs() != null ? call.durationMs() : call.lastEventAtMs() - call.firstEventAtMs();
        CallArchive archive = new CallArchive(CallArchive.SCHEMA_VERSION, call.callId(), reason, nowMs,
                Math.max(0, durationMs), call.turnCount(), call.fallbacks(), call.duplicatesDropped(), call.reconnects(),
                call);
        context.forward(new Record<String, Object>(call.callId(), archive, nowMs), CallTopologyNames.CALL_ARCHIVE_SINK);
        meters.counter(ProcessorMetrics.CALLS_ARCHIVED, ProcessorMetrics.TAG_REASON, reason.wireName()).increment();
    }

    /**
     * Counts a rejection. Nothing is said here: the responder sees REJECTED on call-state and says the busy line
     * with end_call on the call's latest response id, which only it knows (one writer per answer).
     */
    private void rejected(String callId, String reason) {
        LOG.info("call {} rejected on partition {}: {}", callId, partition(), reason);
        meters.counter(ProcessorMetrics.CALLS_REJECTED, ProcessorMetrics.TAG_REASON, reason).increment();
    }

    private void dropDuplicate(CallEvent event, CallState state) {
        if (state != null) {
            // Counted on the state for the archive, but not forwarded: a duplicate is not a change of the call.
            CallState counted = state.toBuilder().duplicatesDropped(state.duplicatesDropped() + 1).build();
            states.put(state.callId(), counted);
            unpublished.computeIfPresent(state.callId(), (id, held) -> counted);
        }
        meters.counter(ProcessorMetrics.DUPLICATES_DROPPED, ProcessorMetrics.TAG_KIND,
                ProcessorMetrics.kindTag(event.type())).increment();
    }

    private void deadLetter(Record<String, byte[]> record, String reason, String detail, long nowMs) {
        RecordMetadata where = context.recordMetadata().orElse(null);
        String topic = where == null ? null : where.topic();
        int partition = where == null ? 0 : where.partition();
        long offset = where == null ? 0 : where.offset();
        LOG.warn("dead-lettering record {}-{}@{} (call {}): {}: {}", topic, partition, offset, record.key(), reason,
                detail);
        DeadLetter letter = where == null
                ? DeadLetter.atEdge(DEAD_LETTER_SOURCE, reason, detail, record.key(), nowMs, record.value())
                : DeadLetter.fromRecord(DEAD_LETTER_SOURCE, reason, detail, record.key(), topic, partition, offset,
                        nowMs, record.value());
        context.forward(new Record<String, Object>(DEAD_LETTER_SOURCE, letter, record.timestamp()),
                CallTopologyNames.DEAD_LETTER_SINK);
        meters.counter(ProcessorMetrics.DEAD_LETTERS, ProcessorMetrics.TAG_SOURCE, DEAD_LETTER_SOURCE,
                ProcessorMetrics.TAG_REASON, reason).increment();
    }

    private int partition() {
        return context.taskId().partition();
    }

    private void registerGauges(String partition) {
        gauges.add(Gauge.builder(ProcessorMetrics.CALLS_ACTIVE, capacity.activeCount(), Number::doubleValue)
                .tag(ProcessorMetrics.TAG_PARTITION, partition).strongReference(true).register(meters));
        gauges.add(Gauge.builder(ProcessorMetrics.CALLS_QUEUED, capacity.queuedCount(), Number::doubleValue)
                .tag(ProcessorMetrics.TAG_PARTITION, partition).strongReference(true).register(meters));
        gauges.add(Gauge.builder(ProcessorMetrics.CAPACITY, capacity, c -> c.capacity())
                .tag(ProcessorMetrics.TAG_PARTITION, partition).strongReference(true).register(meters));
        gauges.add(Gauge.builder(ProcessorMetrics.CAPACITY_UTILIZATION, capacity,
                        c -> c.capacity() > 0 ? c.activeCount().doubleValue() / c.capacity() : 0.0)
                .tag(ProcessorMetrics.TAG_PARTITION, partition).strongReference(true).register(meters));
    }

    private static boolean isLive(CallStatus status) {
        return status == CallStatus.ACTIVE || status == CallStatus.QUEUED;
    }

    private static ArchiveReason archiveReason(CallStatus status) {
        return switch (status) {
            case ENDED -> ArchiveReason.ENDED;
            case EXPIRED -> ArchiveReason.EXPIRED;
            case REJECTED -> ArchiveReason.REJECTED;
            default -> throw new IllegalArgumentException("a " + status + " call is not archived");
        };
    }
}
