package io.callguard.cli.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.ProcessorMetrics;
import io.callguard.processor.replay.OfflineReplay;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Describes a call's replay: runs its recorded events through the processor's own topology offline
 * ({@link OfflineReplay}: no broker, nothing written anywhere) and turns what each event did into a timeline
 * entry: the state transition and the decisions, read from the topology's outputs and metrics rather than
 * re-derived.
 *
 * <p>Capacity decisions are made for this call alone: the other calls that shared its partition live are not
 * re-run, so a call that was queued or refused live may be admitted here. {@link #annotateLive} reads the
 * admission decisions the live processor made from the call's call-state history and, where they differ from the
 * re-made ones, puts them next to them on the timeline, so the replay never passes off a re-made decision as what
 * happened.
 */
final class CallReplay {

    private CallReplay() {
    }

    /** What the replay produced: one entry per event (and one for timers fired after the last), and the final state. */
    record Result(ArrayNode entries, CallState finalState, String archiveReason) {
    }

    /**
     * @param records the call's call-events records, in offset order
     * @param endMs   wall-clock time to advance to after the last event (fires TTL and grace timers); null for none
     */
    static Result run(Topics topics, ProcessorConfig config, String callId, List<ConsumerRecord<String, byte[]>> records,
                      Long endMs) {
        List<OfflineReplay.Event> events = records.stream().map(r -> new OfflineReplay.Event(r.key(), r.value(),
                r.headers(), r.timestamp(), receivedAt(r))).toList();
        OfflineReplay.Result replay = OfflineReplay.run(topics, config, callId, events, endMs);
        ArrayNode entries = Json.mapper().createArrayNode();
        CallState lastState = null;
        String archiveReason = null;
        long graceMs = config.socketLostGraceMs();
        for (int i = 0; i < records.size(); i++) {
            OfflineReplay.Step timersStep = replay.timersBefore().get(i);
            if (timersStep != null) {
                ObjectNode timers = Json.mapper().createObjectNode().put("kind", "timers")
                        .put("time", Instant.ofEpochMilli(events.get(i).atMs()).toString());
                Outcome outcome = describe(timers, timersStep, graceMs);
                entries.add(timers);
                lastState = outcome.lastState != null ? outcome.lastState : lastState;
                archiveReason = outcome.archiveReason != null ? outcome.archiveReason : archiveReason;
            }
            ObjectNode entry = eventEntry(records.get(i));
            OfflineReplay.Step step = replay.events().get(i);
            if (step.processingError() != null) {
                entry.withArray("decisions").add("processing_error: " + step.processingError());
            }
            Outcome outcome = describe(entry, step, graceMs);
            lastState = outcome.lastState != null ? outcome.lastState : lastState;
            archiveReason = outcome.archiveReason != null ? outcome.archiveReason : archiveReason;
            entries.add(entry);
        }
        if (replay.timers().isPresent()) {
            ObjectNode entry = Json.mapper().createObjectNode().put("kind", "timers")
                    .put("time", Instant.ofEpochMilli(endMs).toString());
            Outcome outcome = describe(entry, replay.timers().get(), graceMs);
            if (!entry.withArray("decisions").isEmpty() || entry.has("transition")) {
                entries.add(entry);
            }
            lastState = outcome.lastState != null ? outcome.lastState : lastState;
            archiveReason = outcome.archiveReason != null ? outcome.archiveReason : archiveReason;
        }
        return new Result(entries, lastState, archiveReason);
    }

    private record Outcome(CallState lastState, String archiveReason) {
    }

    /** Timeline decisions that are admission decisions (the rest: applied, duplicates, socket grace, archive). */
    static boolean isAdmission(String decision) {
        return decision.equals(ADMITTED) || decision.equals(QUEUED) || decision.equals(ADMITTED_FROM_QUEUE)
                || decision.startsWith(REJECTED + " (");
    }

    static final String ADMITTED = "admitted";
    static final String QUEUED = "queued";
    static final String ADMITTED_FROM_QUEUE = "admitted from queue";
    static final String REJECTED = "rejected";

    /**
     * The admission decisions the live processor made for the call, read from its call-state history (oldest first):
     * {@code admitted}, {@code queued}, {@code admitted from queue}, {@code rejected (reason)}, each with its time,
     * as status changes. A null element (a tombstone) ends a call's history; what follows is a new life of the id.
     */
    static ArrayNode liveAdmissions(List<CallState> history) {
        ArrayNode out = Json.mapper().createArrayNode();
        CallStatus previous = null;
        for (CallState s : history) {
            if (s == null) {
                previous = null;
                continue;
            }
            CallStatus now = s.status();
            String decision = null;
            Long at = null;
            if (previous == null && now == CallStatus.ACTIVE) {
                decision = ADMITTED;
                at = s.admittedAtMs();
            } else if (previous == null && now == CallStatus.QUEUED) {
                decision = QUEUED;
                at = s.queuedAtMs();
            } else if (previous == CallStatus.QUEUED && now == CallStatus.ACTIVE) {
                decision = ADMITTED_FROM_QUEUE;
                at = s.admittedAtMs();
            } else if (previous != CallStatus.REJECTED && now == CallStatus.REJECTED) {
                decision = REJECTED + " (" + (s.rejectionReason() == null ? "unknown" : s.rejectionReason()) + ")";
            }
            if (decision != null) {
                long atMs = at != null ? at : s.updatedAtMs();
                out.addObject().put("decision", decision).put("time", Instant.ofEpochMilli(atMs).toString());
            }
            previous = now;
        }
        return out;
    }

    /**
     * Puts the live admission decisions next to the re-made ones when the two differ: on the entry of the replay's
     * first admission decision (else the first event), {@code live_admission} lists the live decisions with their
     * times and {@code admission_remade} says what the replay, for the call alone, decided instead.
     *
     * @return whether they differ (false when no live decision is known)
     */
    static boolean annotateLive(ArrayNode entries, ArrayNode liveAdmissions) {
        List<String> live = new ArrayList<>();
        liveAdmissions.forEach(d -> live.add(d.path("decision").asText()));
        List<String> remade = new ArrayList<>();
        ObjectNode first = null;
        for (JsonNode entry : entries) {
            for (JsonNode d : entry.path("decisions")) {
                if (isAdmission(d.asText())) {
                    remade.add(d.asText());
                    first = first == null ? (ObjectNode) entry : first;
                }
            }
        }
        if (live.isEmpty() || live.equals(remade)) {
            return false;
        }
        if (first == null) {
            for (JsonNode entry : entries) {
                if ("event".equals(entry.path("kind").asText())) {
                    first = (ObjectNode) entry;
                    break;
                }
            }
        }
        if (first == null) {
            return false;
        }
        first.set("live_admission", liveAdmissions.deepCopy());
        ArrayNode shown = first.putArray("admission_remade");
        remade.forEach(shown::add);
        return true;
    }

    private static Outcome describe(ObjectNode entry, OfflineReplay.Step step, long graceMs) {
        ArrayNode decisions = entry.withArray("decisions");
        CallState before = step.before();
        CallState after = step.after();
        CallState lastState = null;
        String archiveReason = null;
        String statusBefore = before == null ? null : before.status().wireName();
        for (CallState written : step.states()) {
            if (written == null) {
                decisions.add("removed (grace period over; tombstone written)");
                continue;
            }
            lastState = written;
        }
        String statusAfter = after != null ? after.status().wireName()
                : lastState != null ? lastState.status().wireName() : null;
        if (statusBefore == null && "active".equals(statusAfter)) {
            decisions.add(ADMITTED);
        } else if (statusBefore == null && "queued".equals(statusAfter)) {
            decisions.add(QUEUED);
        } else if ("queued".equals(statusBefore) && "active".equals(statusAfter)) {
            decisions.add(ADMITTED_FROM_QUEUE);
        }
        step.counterIncrements().forEach((id, delta) -> {
            String name = id.substring(0, id.indexOf('|'));
            String tag = id.substring(id.indexOf('|') + 1);
            String decision = switch (name) {
                case ProcessorMetrics.DUPLICATES_DROPPED -> "duplicate dropped";
                case ProcessorMetrics.EVENTS_DROPPED -> "dropped (" + tag + ")";
                case ProcessorMetrics.DEAD_LETTERS -> "dead-lettered (" + tag + ")";
                case ProcessorMetrics.CALLS_REJECTED -> REJECTED + " (" + tag + ")";
                case ProcessorMetrics.CALLS_ARCHIVED -> "archived (" + tag + ")";
                case ProcessorMetrics.EVENTS_APPLIED -> "applied";
                case ProcessorMetrics.SOCKET_GRACE -> graceDecision(tag, statusBefore, statusAfter, graceMs);
                default -> null;
            };
            if (decision != null) {
                decisions.add(decision);
            }
        });
        for (CallArchive archive : step.archives()) {
            archiveReason = archive.reason().wireName();
            if (lastState == null) {
                lastState = archive.finalState();
            }
        }
        if (!java.util.Objects.equals(statusBefore, statusAfter) || before != null && after != null) {
            ObjectNode transition = entry.putObject("transition");
            transition.put("status_before", statusBefore).put("status_after", statusAfter);
            transition.set("changed", changedFields(before, after));
        }
        return new Outcome(lastState, archiveReason);
    }

    /** A socket-lost grace decision, by the outcome tag of {@link ProcessorMetrics#SOCKET_GRACE}. */
    private static String graceDecision(String outcome, String statusBefore, String statusAfter, long graceMs) {
        String held = ProcessorMetrics.GRACE_RELEASED.equals(outcome) ? statusBefore : statusAfter;
        String place = "queued".equals(held) ? "queue place" : "slot";
        return switch (outcome) {
            case ProcessorMetrics.GRACE_STARTED -> "socket lost: " + place + " kept for the grace of " + graceMs + " ms";
            case ProcessorMetrics.GRACE_RECONNECTED -> "socket back within the grace: " + place + " kept";
            case ProcessorMetrics.GRACE_RELEASED -> "socket lost past the grace with no call_ended: " + place
                    + " released (socket_lost)";
            default -> "socket grace (" + outcome + ")";
        };
    }

    /** Fields that differ between two states, each as {@code [before, after]}; bookkeeping times left out. */
    static ObjectNode changedFields(CallState before, CallState after) {
        ObjectNode changed = Json.mapper().createObjectNode();
        JsonNode a = before == null ? Json.mapper().createObjectNode() : Json.mapper().valueToTree(before);
        JsonNode b = after == null ? Json.mapper().createObjectNode() : Json.mapper().valueToTree(after);
        List<String> names = new ArrayList<>();
        b.fieldNames().forEachRemaining(names::add);
        a.fieldNames().forEachRemaining(n -> {
            if (!names.contains(n)) {
                names.add(n);
            }
        });
        for (String name : names) {
            if (name.equals("schema_version") || name.equals("updated_at_ms") || name.equals("last_event_at_ms")
                    || name.equals("call_id")) {
                continue;
            }
            JsonNode x = a.path(name);
            JsonNode y = b.path(name);
            if (!x.equals(y) && !(x.isMissingNode() && y.isNull()) && !(x.isNull() && y.isMissingNode())) {
                ArrayNode pair = changed.putArray(name);
                pair.add(x.isMissingNode() ? Json.mapper().nullNode() : x);
                pair.add(y.isMissingNode() ? Json.mapper().nullNode() : y);
            }
        }
        return changed;
    }

    /** The event as received: time, source, type, response id, idempotency key (or why it could not be read). */
    static ObjectNode eventEntry(ConsumerRecord<String, byte[]> r) {
        ObjectNode entry = Json.mapper().createObjectNode().put("kind", "event").put("offset", r.offset());
        CallEvent event = parse(r);
        if (event == null) {
            entry.put("time", Instant.ofEpochMilli(r.timestamp()).toString()).put("type", "(unreadable record)");
            return entry;
        }
        entry.put("time", Instant.ofEpochMilli(event.receivedAtMs()).toString())
                .put("received_at_ms", event.receivedAtMs()).put("source", event.source().wireName())
                .put("type", event.type());
        if (event.responseId() != null) {
            entry.put("response_id", event.responseId());
        }
        entry.put("idempotency_key", event.idempotencyKey()).put("edge_node", event.edgeNode());
        return entry;
    }

    static CallEvent parse(ConsumerRecord<String, byte[]> r) {
        try {
            return r.value() == null ? null
                    : Topics.defaults().callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value());
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static long receivedAt(ConsumerRecord<String, byte[]> r) {
        CallEvent event = parse(r);
        return event != null && event.receivedAtMs() > 0 ? event.receivedAtMs() : r.timestamp();
    }
}
