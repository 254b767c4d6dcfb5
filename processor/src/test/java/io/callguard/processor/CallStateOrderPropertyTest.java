package io.callguard.processor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;

/**
 * Whatever order a call's events arrive in, and however often the deduplicated ones are redelivered, the
 * call ends in the same state, as long as its turns keep the order Retell asks them in on a socket (a turn below the
 * call's latest response id is dropped as superseded: {@code CallLifecycleTopologyTest}).
 *
 * <p>Order-independent: every field except the ones normalised below. Flags are or-ed, counters added,
 * event times and transcript length are min/max, response ids max, and call-object fields come from the
 * latest lifecycle source that reported them (call_details &lt; call_started &lt; call_ended &lt; call_analyzed),
 * which each event reports at most once. Not compared: the call id (two calls are compared),
 * {@code duplicatesDropped} (checked separately: it equals the redeliveries injected), and
 * {@code admittedAtMs}/{@code queuedAtMs}, which record when a slot was taken and so depend on which event
 * came first (a call whose first event is call_ended never takes a slot).
 */
class CallStateOrderPropertyTest {

    private static final List<String> CALL_FIELDS = List.of("agent_id", "agent_version", "call_type", "direction",
            "from_number", "to_number", "call_status", "start_timestamp", "end_timestamp", "duration_ms",
            "disconnection_reason", "metadata", "retell_llm_dynamic_variables");

    private Path stateDir;
    private TopologyFixture fixture;
    private int calls;

    @BeforeProperty
    void startDriver() throws IOException {
        stateDir = Files.createTempDirectory("order-properties");
        // One driver for every try (each try uses fresh call ids); capacity never gets in the way.
        fixture = new TopologyFixture(stateDir, Map.of(
                ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_PER_PARTITION_CONFIG, 1_000_000));
    }

    @AfterProperty
    void closeDriver() throws IOException {
        fixture.close();
        try (Stream<Path> paths = Files.walk(stateDir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    @Property(tries = 300)
    void anyArrivalOrderWithRedeliveriesGivesTheSameFinalState(@ForAll("scripts") Script script) {
        // Given
        calls++;
        String inOrder = "in-order-" + calls;
        String shuffled = "shuffled-" + calls;

        // When
        script.canonical().forEach(template -> fixture.send(template.toEvent(inOrder)));
        script.arrival().forEach(template -> fixture.send(template.toEvent(shuffled)));

        // Then
        CallState expected = fixture.storedState(inOrder);
        CallState actual = fixture.storedState(shuffled);
        assertThat(normalised(actual)).isEqualTo(normalised(expected));
        assertThat(actual.duplicatesDropped()).isEqualTo(script.redeliveries());
        fixture.stateChanges();
    }

    private static CallState normalised(CallState state) {
        return state.toBuilder().callId("call").duplicatesDropped(0).admittedAtMs(null).queuedAtMs(null).build();
    }

    /** One event of a call, without its call id. */
    record EventTemplate(String type, EventSource source, Long responseId, int transcriptEntries, long receivedAtMs,
                         ObjectNode callObject) {

        boolean deduplicated() {
            return toEvent("any").idempotencyKey() != null;
        }

        CallEvent toEvent(String callId) {
            ObjectNode body = Json.mapper().createObjectNode();
            if (callObject != null) {
                body.set("call", callObject.deepCopy().put("call_id", callId));
            }
            if (transcriptEntries >= 0) {
                var transcript = source == EventSource.SOCKET ? body.putArray("transcript")
                        : body.withObject("call").putArray("transcript_object");
                for (int i = 0; i < transcriptEntries; i++) {
                    transcript.addObject().put("role", "user").put("content", "line " + i);
                }
            }
            String key;
            if (source == EventSource.SOCKET) {
                body.put("interaction_type", type);
                if (responseId != null) {
                    body.put("response_id", responseId);
                }
                key = IdempotencyKeys.forSocket(type, callId, responseId);
            } else {
                body.put("event", type);
                key = IdempotencyKeys.forWebhook(type, callId, body);
            }
            return new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId, source, type, key,
                    receivedAtMs, responseId, "edge-a", body);
        }
    }

    /** A call's events in their natural order, and the order they arrive in, redeliveries included. */
    record Script(List<EventTemplate> canonical, List<EventTemplate> arrival, int redeliveries) {
    }

    @Provide
    Arbitrary<Script> scripts() {
        Arbitrary<List<EventTemplate>> turns = Arbitraries.integers().between(0, 4).map(n -> {
            List<EventTemplate> list = new ArrayList<>();
            for (long id = 1; id <= n; id++) {
                String type = id % 3 == 0 ? "reminder_required" : "response_required";
                list.add(new EventTemplate(type, EventSource.SOCKET, id, (int) (2 * id), at(5, id), null));
            }
            return list;
        });
        Arbitrary<List<EventTemplate>> updates = Arbitraries.integers().between(0, 12).list().ofMaxSize(3)
                .map(lengths -> indexed(lengths, (i, length) -> new EventTemplate("update_only", EventSource.SOCKET,
                        null, length, at(6, i), null)));
        Arbitrary<List<EventTemplate>> transcripts = Arbitraries.integers().between(0, 12).list().ofMaxSize(2)
                .map(lengths -> indexed(lengths, (i, length) -> new EventTemplate("transcript_updated",
                        EventSource.WEBHOOK, null, length, at(7, i), null)));
        return Combinators.combine(
                        lifecycle("call_details", EventSource.SOCKET, 1),
                        lifecycle("call_started", EventSource.WEBHOOK, 2),
                        lifecycle("call_ended", EventSource.WEBHOOK, 3),
                        lifecycle("call_analyzed", EventSource.WEBHOOK, 4),
                        turns, updates, transcripts)
                .as((details, started, ended, analyzed, turnList, updateList, transcriptList) -> {
                    List<EventTemplate> all = new ArrayList<>();
                    Stream.of(details, started).flatMap(Optional::stream).forEach(all::add);
                    all.addAll(turnList);
                    all.addAll(updateList);
                    all.addAll(transcriptList);
                    Stream.of(ended, analyzed).flatMap(Optional::stream).forEach(all::add);
                    return all;
                })
                .filter(list -> !list.isEmpty())
                .flatMap(canonical -> {
                    List<Integer> deduplicated = new ArrayList<>();
                    for (int i = 0; i < canonical.size(); i++) {
                        if (canonical.get(i).deduplicated()) {
                            deduplicated.add(i);
                        }
                    }
                    return Arbitraries.subsetOf(deduplicated).flatMap(redelivered -> {
                        List<EventTemplate> arrivals = new ArrayList<>(canonical);
                        redelivered.forEach(i -> arrivals.add(canonical.get(i)));
                        return Arbitraries.shuffle(arrivals)
                                .map(order -> new Script(canonical, turnsInOrder(order), redelivered.size()));
                    });
                });
    }

    /**
     * The arrival order with its turns (redeliveries included) put back in response-id order in the places turns
     * hold: Retell asks them in order on a socket, and a turn below the call's latest is dropped as superseded.
     */
    private static List<EventTemplate> turnsInOrder(List<EventTemplate> order) {
        List<EventTemplate> turns = order.stream().filter(t -> t.responseId() != null)
                .sorted(Comparator.comparingLong(EventTemplate::responseId)).toList();
        List<EventTemplate> arranged = new ArrayList<>(order);
        int next = 0;
        for (int i = 0; i < arranged.size(); i++) {
            if (arranged.get(i).responseId() != null) {
                arranged.set(i, turns.get(next++));
            }
        }
        return arranged;
    }

    /** A lifecycle event present three times in four, reporting a random subset of call-object fields. */
    private static Arbitrary<Optional<EventTemplate>> lifecycle(String type, EventSource source, int rank) {
        return Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.subsetOf(CALL_FIELDS),
                        Arbitraries.integers().between(-1, 12))
                .as((presence, fields, transcript) -> presence == 0 ? Optional.<EventTemplate>empty()
                        : Optional.of(new EventTemplate(type, source, null, transcript, at(rank, 0),
                                callObject(type, rank, fields))));
    }

    private static ObjectNode callObject(String tag, int rank, Set<String> fields) {
        ObjectNode call = Json.mapper().createObjectNode();
        for (String field : fields) {
            switch (field) {
                case "agent_version" -> call.put(field, rank);
                case "start_timestamp", "end_timestamp", "duration_ms" -> call.put(field, 1_700_000_000_000L + rank);
                case "metadata", "retell_llm_dynamic_variables" -> call.putObject(field).put("from", tag);
                default -> call.put(field, tag + "-" + field);
            }
        }
        return call;
    }

    private static long at(int group, long index) {
        return TopologyFixture.T0 + group * 1_000L + index;
    }

    private static List<EventTemplate> indexed(List<Integer> values,
                                               java.util.function.BiFunction<Integer, Integer, EventTemplate> make) {
        List<EventTemplate> list = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) {
            list.add(make.apply(i, values.get(i)));
        }
        return list;
    }
}
