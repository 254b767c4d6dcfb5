package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.ResponderRole;
import io.callguard.processor.responder.Turn;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.CallStatus;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.schemas.Topics;
import io.callguard.testkit.TopicReader;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The responder on a real broker: it reads call-state with call-events, co-partitioned, and rebuilds each call's
 * context from call-state on assignment, so a responder restarted mid-call still gives the backend the call's agent
 * and dynamic variables.
 */
@Tag("integration")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ResponderContextIT {

    private static final int PARTITIONS = 2;
    private static final Duration WAIT = Duration.ofSeconds(45);

    @TempDir
    Path dir;

    private final Topics topics = Topics.defaults();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<Turn> seen = new CopyOnWriteArrayList<>();
    private final List<ResponderRole> roles = new ArrayList<>();
    private EmbeddedKafka broker;
    private KafkaProducer<String, byte[]> producer;

    /** Answers every turn at once with "ok", remembering what it was given. */
    private final AgentBackend backend = new AgentBackend() {
        @Override
        public CompletableFuture<Void> generate(Turn turn, Consumer<AgentEvent> sink) {
            seen.add(turn);
            sink.accept(AgentEvent.text("ok"));
            return CompletableFuture.completedFuture(null);
        }
    };

    @BeforeEach
    void startBroker() {
        broker = new EmbeddedKafka(dir, 0);
        broker.start();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
            TopicBootstrap.ensure(admin, topics, PARTITIONS, new io.callguard.common.TopicReplication((short) 1, -1),
                    300_000, new KafkaClients(broker.bootstrapServers(), "").maxRecordBytes(), java.util.List.of(),
                    30_000);
        }
        producer = new KafkaProducer<>(Map.of("bootstrap.servers", broker.bootstrapServers()), new StringSerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer());
    }

    @AfterEach
    void stopAll() throws InterruptedException {
        for (int i = roles.size() - 1; i >= 0; i--) {
            roles.get(i).close();
        }
        if (producer != null) {
            producer.close();
        }
        if (broker != null) {
            broker.close();
        }
        timer.shutdownNow();
        timer.awaitTermination(5, TimeUnit.SECONDS);
    }

    private ResponderRole startRole(String node) {
        return startRole(node, Map.of());
    }

    private ResponderRole startRole(String node, Map<String, Object> settings) {
        ResponderRole role = new ResponderRole(new ResponderConfig(settings), new CommonConfig(Map.of()),
                new KafkaClients(broker.bootstrapServers(), node), topics, new SimpleMeterRegistry(),
                Clock.systemUTC(), backend, timer);
        roles.add(role);
        role.start();
        return role;
    }

    private void activeState(String callId, String agentId, String name) throws Exception {
        ObjectNode variables = Json.mapper().createObjectNode().put("name", name);
        CallState state = CallState.builder(callId).status(CallStatus.ACTIVE).agentId(agentId).agentVersion(4)
                .dynamicVariables(variables).build();
        producer.send(new ProducerRecord<>(topics.callState().name(), callId,
                topics.callState().valueSerde().serializer().serialize(topics.callState().name(), state))).get();
    }

    private void turn(String callId, long responseId) throws Exception {
        ObjectNode frame = Json.mapper().createObjectNode()
                .put("interaction_type", "response_required").put("response_id", responseId);
        frame.putArray("transcript").addObject().put("role", "user").put("content", "hi " + responseId);
        CallEvent event = new CallEvent(CallEvent.SCHEMA_VERSION, "e-" + callId + "-" + responseId, callId,
                EventSource.SOCKET, "response_required",
                IdempotencyKeys.forSocket("response_required", callId, responseId), System.currentTimeMillis(),
                responseId, "node-a", frame);
        producer.send(new ProducerRecord<>(topics.callEvents().name(), callId,
                topics.callEvents().valueSerde().serializer().serialize(topics.callEvents().name(), event))).get();
    }

    private List<AgentResponse> completes(String callId, long responseId) {
        try (TopicReader<AgentResponse> reader = new TopicReader<>(broker.bootstrapServers(),
                topics.responses().name(), topics.responses().valueSerde().deserializer())) {
            return reader.valuesFor(callId).stream()
                    .filter(r -> r.responseId() == responseId && r.contentComplete()).toList();
        }
    }

    private List<Turn> seenFor(String callId, long responseId) {
        return seen.stream().filter(t -> t.callId().equals(callId) && t.responseId() == responseId).toList();
    }

    @Test
    void shouldStillSendTheCallsAgentAndDynamicVariablesAfterARestartMidCall() throws Exception {
        // Given an admitted call answered by a first responder
        activeState("call-alice", "agent-support", "Alice");
        ResponderRole first = startRole("first");
        await().atMost(WAIT).until(first::hasJoinedGroup);
        turn("call-alice", 1);
        await().atMost(WAIT).until(() -> !completes("call-alice", 1).isEmpty());
        assertThat(completes("call-alice", 1).get(0).kind()).isEqualTo(ResponseKind.GENERATED);

        // When the responder restarts mid-call (a new one, nothing in memory) and the caller speaks again
        first.close();
        ResponderRole second = startRole("second");
        await().atMost(WAIT).until(second::hasJoinedGroup);
        turn("call-alice", 2);

        // Then the Turn given to the backend still names the call's agent and carries its dynamic variables,
        // read back from call-state (nothing else told the new responder about the call)
        await().atMost(WAIT).until(() -> !completes("call-alice", 2).isEmpty());
        assertThat(completes("call-alice", 2)).singleElement()
                .satisfies(r -> assertThat(r.kind()).isEqualTo(ResponseKind.GENERATED));
        assertThat(seenFor("call-alice", 2)).singleElement().satisfies(t -> {
            assertThat(t.agentId()).isEqualTo("agent-support");
            assertThat(t.dynamicVariables()).containsEntry("name", "Alice");
        });
    }

    @Test
    void shouldGiveEachMemberTheSamePartitionsOfCallEventsAndCallState() throws Exception {
        // Given two responders in one group, and an admitted call on each partition
        ResponderRole a = startRole("a");
        ResponderRole b = startRole("b");
        await().atMost(WAIT).until(() -> a.hasJoinedGroup() && b.hasJoinedGroup()
                && a.assignedPartitions().size() == PARTITIONS && b.assignedPartitions().size() == PARTITIONS);

        // Then each holds partition n of both topics, and together all of them
        for (ResponderRole role : List.of(a, b)) {
            assertThat(numbers(role, topics.callEvents().name())).isEqualTo(numbers(role, topics.callState().name()))
                    .hasSize(1);
        }
        Set<Integer> all = new TreeSet<>(numbers(a, topics.callEvents().name()));
        all.addAll(numbers(b, topics.callEvents().name()));
        assertThat(all).containsExactly(0, 1);

        // And a call on either partition is answered with its own context by whichever member owns it
        for (int p = 0; p < PARTITIONS; p++) {
            String callId = callIdOn(p);
            activeState(callId, "agent-" + p, "caller-" + p);
            turn(callId, 1);
            await().atMost(WAIT).until(() -> !seenFor(callId, 1).isEmpty());
            int partition = p;
            assertThat(seenFor(callId, 1)).singleElement().satisfies(t -> {
                assertThat(t.agentId()).isEqualTo("agent-" + partition);
                assertThat(t.dynamicVariables()).containsEntry("name", "caller-" + partition);
            });
        }
    }

    private static final String GREETING = "Hello! How can I help you today?";

    /** A responder whose hold line names it, said again every second. */
    private ResponderRole holdingRole(String node) {
        return startRole(node, Map.of(ResponderConfig.CAPACITY_HOLD_MESSAGE_CONFIG, "Please hold (" + node + ").",
                ResponderConfig.CAPACITY_HOLD_REPEAT_MS_CONFIG, 1_000));
    }

    /** The call's state with its socket open (as the processor writes it once the socket_opened is applied). */
    /** Each call's first event, as the processor keeps it in every state of the call (interrupt ids count from it). */
    private final Map<String, Long> firstEventAtMs = new java.util.concurrent.ConcurrentHashMap<>();

    private void stateOnSocket(String callId, CallStatus status, String rejectionReason) throws Exception {
        long first = firstEventAtMs.computeIfAbsent(callId, id -> System.currentTimeMillis());
        CallState state = CallState.builder(callId).status(status).agentId("agent-1").connectionId("conn-" + callId)
                .socketOpenedAtMs(System.currentTimeMillis()).rejectionReason(rejectionReason)
                .firstEventAtMs(first).build();
        producer.send(new ProducerRecord<>(topics.callState().name(), callId,
                topics.callState().valueSerde().serializer().serialize(topics.callState().name(), state))).get();
    }

    private void socketOpened(String callId) throws Exception {
        ObjectNode payload = Json.mapper().createObjectNode().put("connection_id", "conn-" + callId)
                .put("begin", CallEvent.BEGIN_OWED);
        CallEvent event = new CallEvent(CallEvent.SCHEMA_VERSION, "o-" + callId, callId, EventSource.SOCKET,
                CallEvent.TYPE_SOCKET_OPENED, null, System.currentTimeMillis(), null, "node-a", payload);
        producer.send(new ProducerRecord<>(topics.callEvents().name(), callId,
                topics.callEvents().valueSerde().serializer().serialize(topics.callEvents().name(), event))).get();
    }

    private List<AgentResponse> responses(String callId) {
        try (TopicReader<AgentResponse> reader = new TopicReader<>(broker.bootstrapServers(),
                topics.responses().name(), topics.responses().valueSerde().deserializer())) {
            return reader.valuesFor(callId);
        }
    }

    private static List<AgentResponse> holds(List<AgentResponse> records, String line, boolean interrupts) {
        return records.stream().filter(r -> r.kind() == ResponseKind.HOLD && line.equals(r.content())
                && (r.interruptId() != null) == interrupts).toList();
    }

    private static long maxInterruptId(List<AgentResponse> records) {
        return records.stream().filter(r -> r.interruptId() != null).mapToLong(AgentResponse::interruptId).max()
                .orElse(-1);
    }

    @Test
    void shouldHandAQueuedCallsHoldToTheMemberThatTookItsPartitionThenAdmitOrRefuseItThere() throws Exception {
        // Given one responder holding two queued callers on each partition, each said the hold line and its repeats
        String firstHold = "Please hold (first).";
        String secondHold = "Please hold (second).";
        ResponderRole first = holdingRole("first");
        await().atMost(WAIT).until(() -> first.hasJoinedGroup() && first.assignedPartitions().size() == 2 * PARTITIONS);
        List<String> calls = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            for (String kind : List.of("admit", "refuse")) {
                String callId = callIdOn(p, kind);
                calls.add(callId);
                stateOnSocket(callId, CallStatus.QUEUED, null);
                socketOpened(callId);
            }
        }
        for (String callId : calls) {
            await().atMost(WAIT).until(() -> {
                List<AgentResponse> said = responses(callId);
                return holds(said, firstHold, false).size() == 1 && !holds(said, firstHold, true).isEmpty();
            });
        }

        // When a second member joins and takes one partition of each topic (the same number)
        ResponderRole second = holdingRole("second");
        await().atMost(WAIT).until(() -> second.hasJoinedGroup() && first.hasJoinedGroup()
                && second.assignedPartitions().size() == 2 && first.assignedPartitions().size() == 2);
        long movedAtMs = System.currentTimeMillis();
        int moved = numbers(second, topics.callEvents().name()).iterator().next();
        String admitted = callIdOn(moved, "admit");
        String refused = callIdOn(moved, "refuse");
        String stayed = callIdOn(1 - moved, "admit");

        // Then the new owner, rebuilding the calls from call-state (their sockets open), says the hold line again
        await().atMost(WAIT).until(() -> !holds(responses(admitted), secondHold, true).isEmpty()
                && !holds(responses(refused), secondHold, true).isEmpty());

        // When one moved call is admitted and the other times out in the queue
        long firstsAdmitted = maxInterruptId(holds(responses(admitted), firstHold, true));
        long firstsRefused = maxInterruptId(holds(responses(refused), firstHold, true));
        stateOnSocket(admitted, CallStatus.ACTIVE, null);
        stateOnSocket(refused, CallStatus.REJECTED, CallState.REJECTED_QUEUE_TIMEOUT);

        // Then the admitted caller hears the agent's begin message, the refused one the busy line with end_call,
        // both as agent interrupts above every interrupt id the old member sent (the edge drops a lower one)
        await().atMost(WAIT).until(() -> responses(admitted).stream()
                .anyMatch(r -> r.interruptId() != null && GREETING.equals(r.content())));
        assertThat(responses(admitted).stream().filter(r -> GREETING.equals(r.content())).toList()).singleElement()
                .satisfies(r -> {
                    assertThat(r.contentComplete()).isTrue();
                    assertThat(r.interruptId()).isGreaterThan(firstsAdmitted);
                });
        await().atMost(WAIT).until(() -> responses(refused).stream().anyMatch(r -> r.kind() == ResponseKind.BUSY));
        assertThat(responses(refused).stream().filter(r -> r.kind() == ResponseKind.BUSY).toList()).singleElement()
                .satisfies(r -> {
                    assertThat(r.endCall()).isTrue();
                    assertThat(r.contentComplete()).isTrue();
                    assertThat(r.reason()).isEqualTo(CallState.REJECTED_QUEUE_TIMEOUT);
                    assertThat(r.interruptId()).isGreaterThan(firstsRefused);
                });

        // And the old member said no hold line to the moved calls after the move, while it still holds its own
        long checkedFromMs = System.currentTimeMillis();
        await().atMost(WAIT).until(() -> holds(responses(stayed), firstHold, true).stream()
                .anyMatch(r -> r.createdAtMs() > checkedFromMs + 1_000));
        for (String callId : List.of(admitted, refused)) {
            assertThat(holds(responses(callId), firstHold, true)).allSatisfy(r ->
                    assertThat(r.createdAtMs()).isLessThanOrEqualTo(movedAtMs));
        }
        // nor did the new owner go on holding them once admitted or refused
        for (String callId : List.of(admitted, refused)) {
            assertThat(holds(responses(callId), secondHold, true)).allSatisfy(r ->
                    assertThat(r.createdAtMs()).isLessThan(checkedFromMs));
        }
    }

    /** A call id of the given kind on that partition. */
    private static String callIdOn(int partition, String kind) {
        for (int i = 0; ; i++) {
            String id = "call-" + kind + "-p" + partition + "-" + i;
            if (Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % PARTITIONS == partition) {
                return id;
            }
        }
    }

    private static Set<Integer> numbers(ResponderRole role, String topic) {
        Set<Integer> out = new TreeSet<>();
        for (TopicPartition p : role.assignedPartitions()) {
            if (p.topic().equals(topic)) {
                out.add(p.partition());
            }
        }
        return out;
    }

    /** A call id Kafka's default partitioner puts on that partition. */
    private static String callIdOn(int partition) {
        for (int i = 0; ; i++) {
            String id = "call-p" + partition + "-" + i;
            if (Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % PARTITIONS == partition) {
                return id;
            }
        }
    }
}
