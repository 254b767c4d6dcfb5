package io.callguard.cli.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.app.config.ConfigSources;
import io.callguard.app.config.GatewayConfig;
import io.callguard.cli.tools.AnswerText;
import io.callguard.cli.tools.KafkaSource;
import io.callguard.cli.tools.TimeArg;
import io.callguard.retell.frames.InteractionType;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard replay --call-id ID}: finds a call's events on call-events, re-runs them through the processor's
 * topology offline and prints a timeline of what each did, with the call's answers from the responses topic.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Replay one call: read its events from <prefix>call-events (its partition only), re-run them "
                + "through the processor's topology offline (nothing is written to the live topics), and print a "
                + "timeline: each event as received, the state transition it caused, the decisions made, and the "
                + "answers the call got (from <prefix>responses) with their kind, reason and latency, and what they "
                + "did besides words (tool calls and results, agent updates, metadata, end_call, transfers, digits, "
                + "agent interrupts).",
            "Exit codes: 0 replayed; 2 bad usage; 3 the call's events are not on the topic (never there, or deleted "
                    + "by retention); 1 other errors."})
public final class ReplayCommand implements Callable<Integer> {

    /** The call's events are not (or no longer all) on the topic. */
    public static final int EXIT_NOT_FOUND = 3;

    @Spec
    CommandSpec spec;

    @Option(names = "--call-id", required = true, paramLabel = "ID", description = "The call to replay.")
    String callId;

    @Option(names = "--since", paramLabel = "TIME", description = "Only events at or after TIME (ISO time, date, "
            + "epoch ms, or a duration back from now: 30s, 10m, 2h, 1d); bounds the scan by timestamp.")
    String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Only events at or before TIME (same forms).")
    String until;

    @Option(names = "--json", description = "Print the timeline as JSON.")
    boolean json;

    @Option(names = "--into", paramLabel = "PREFIX", description = "Also re-publish the call's events (same key, "
            + "value bytes, timestamps and headers) to <PREFIX>call-events, created when missing, for a staging "
            + "pipeline. Refused when PREFIX is the live prefix.")
    String into;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...",
            description = "Kafka to read. Default: bootstrap.servers of the configuration, CALLGUARD_BOOTSTRAP_SERVERS, "
                    + "else the embedded broker running on --data-dir.")
    String bootstrapServers;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "./data",
            description = "Data dir of a gateway running an embedded broker (default ./data).")
    Path dataDir;

    @Option(names = "--config", paramLabel = "FILE", description = "The gateway's properties file: the replay uses "
            + "its topic prefix and processor settings (dedupe, capacity, TTLs).")
    Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a configuration key, as for run "
            + "(repeatable), e.g. --set call.ttl-ms=60000 to see what a shorter TTL would have done.")
    Map<String, String> sets = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        GatewayConfig config = GatewayConfig.load(new ConfigSources(configFile, System.getenv(), sets, Map.of()));
        Topics live = config.common().topics();
        Long sinceMs;
        Long untilMs;
        String servers;
        try {
            Instant now = Instant.now();
            sinceMs = since == null ? null : TimeArg.parse(since, now).toEpochMilli();
            untilMs = until == null ? null : TimeArg.parse(until, now).toEpochMilli();
            String configured = config.common().bootstrapServers();
            servers = KafkaSource.servers(bootstrapServers != null ? bootstrapServers
                    : configured.isBlank() ? null : configured, dataDir);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (sinceMs != null && untilMs != null && untilMs < sinceMs) {
            throw new ParameterException(spec.commandLine(), "--until is before --since");
        }
        Topics target = null;
        if (into != null) {
            try {
                target = Topics.withPrefix(into);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--into: " + e.getMessage());
            }
            if (target.callEvents().name().equals(live.callEvents().name())) {
                throw new ParameterException(spec.commandLine(), "--into " + into + " is the live prefix: replay never "
                        + "writes into the live topics; give a staging prefix such as staging.");
            }
        }

        PartitionScan events;
        PartitionScan responses;
        PartitionScan states;
        PartitionScan archives;
        try (KafkaConsumer<String, byte[]> consumer = KafkaSource.consumer(servers, "callguard-replay")) {
            events = PartitionScan.of(consumer, servers, live.callEvents().name(), callId, sinceMs, untilMs, err::println);
            responses = PartitionScan.of(consumer, servers, live.responses().name(), callId, sinceMs, untilMs,
                    err::println);
            states = PartitionScan.of(consumer, servers, live.callState().name(), callId, null, null, err::println);
            archives = PartitionScan.of(consumer, servers, live.callArchive().name(), callId, sinceMs, null,
                    err::println);
        } catch (IllegalArgumentException e) {
            err.println("callguard replay: " + e.getMessage());
            return 1;
        }
        err.flush();

        LiveView liveView = LiveView.of(states, archives);
        String missing = missingEvents(events, liveView, sinceMs);
        if (events.records().isEmpty()) {
            err.println("callguard replay: " + missing);
            return EXIT_NOT_FOUND;
        }
        Long endMs = untilMs != null ? untilMs : Long.valueOf(System.currentTimeMillis());
        CallReplay.Result result = CallReplay.run(live, config.processor(), callId, events.records(), endMs);
        attachAnswers(result.entries(), responses.records());
        ArrayNode liveAdmissions = CallReplay.liveAdmissions(liveView.history());
        boolean admissionDiffers = CallReplay.annotateLive(result.entries(), liveAdmissions);

        ObjectNode timeline = Json.mapper().createObjectNode().put("call_id", callId)
                .put("topic", events.partition().topic()).put("partition", events.partition().partition());
        timeline.putObject("scan").put("from_offset", events.fromOffset()).put("to_offset", events.toOffset())
                .put("earliest_offset", events.earliestOffset())
                .put("earliest_timestamp", events.earliestTimestamp() < 0 ? null
                        : Instant.ofEpochMilli(events.earliestTimestamp()).toString())
                .put("events", events.records().size()).put("answers", responses.records().size());
        timeline.set("timeline", result.entries());
        ObjectNode replayed = timeline.putObject("replayed");
        replayed.set("final_state", Json.mapper().valueToTree(result.finalState()));
        replayed.put("archived", result.archiveReason());
        ObjectNode liveJson = liveView.json();
        liveJson.set("admission", liveAdmissions);
        liveJson.put("admission_differs", admissionDiffers);
        timeline.set("live", liveJson);
        timeline.put("matches_live", liveView.matches(result.finalState()));
        if (missing != null) {
            timeline.put("warning", missing);
        }

        if (target != null) {
            int published = republish(servers, target, events);
            timeline.putObject("republished").put("topic", target.callEvents().name()).put("events", published);
        }
        out.print(json ? timeline.toPrettyString() + "\n" : TimelineText.render(timeline));
        out.flush();
        if (missing != null) {
            err.println("callguard replay: " + missing);
            return EXIT_NOT_FOUND;
        }
        return 0;
    }

    /**
     * Why the call's events are missing or incomplete, or null when nothing points to it. Incomplete means the
     * live state knows of an event older than the oldest record still on the partition.
     */
    private String missingEvents(PartitionScan events, LiveView liveView, Long sinceMs) {
        String where = events.partition() + " (earliest retained offset " + events.earliestOffset()
                + (events.earliestTimestamp() < 0 ? ", partition empty" : ", at "
                + Instant.ofEpochMilli(events.earliestTimestamp())) + "; scanned offsets " + events.fromOffset() + ".."
                + events.toOffset() + ")";
        Long firstKnown = liveView.firstEventAtMs();
        boolean truncated = firstKnown != null && events.earliestTimestamp() > firstKnown
                && (sinceMs == null || sinceMs < events.earliestTimestamp());
        if (events.records().isEmpty()) {
            String cause = truncated ? "the call's first event was at " + Instant.ofEpochMilli(firstKnown)
                    + ", before the earliest record still there: retention has deleted its events"
                    : "if the call is older than the earliest record, retention has deleted its events; else check the "
                    + "call id" + (sinceMs != null ? " and --since/--until" : "");
            return "no events of call " + callId + " on " + where + ": " + cause;
        }
        long firstFound = CallReplay.parse(events.records().get(0)) == null ? events.records().get(0).timestamp()
                : CallReplay.parse(events.records().get(0)).receivedAtMs();
        if (truncated && firstKnown < firstFound && events.records().get(0).offset() == events.earliestOffset()) {
            return "the call's earlier events are no longer on " + where + ": its first event was at "
                    + Instant.ofEpochMilli(firstKnown) + ", retention deleted what came before offset "
                    + events.earliestOffset() + "; the timeline starts mid-call";
        }
        return null;
    }

    /** Puts each answer under the request it answers (by response_id); answers with no request go at the end. */
    static void attachAnswers(ArrayNode entries, List<ConsumerRecord<String, byte[]>> answers) {
        List<AgentResponse> unmatched = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : answers) {
            AgentResponse a;
            try {
                a = Topics.defaults().responses().valueSerde().deserializer().deserialize(r.topic(), r.value());
            } catch (RuntimeException e) {
                continue;
            }
            if (a == null) {
                continue;
            }
            ObjectNode owner = null;
            for (JsonNode e : entries) {
                boolean asks = InteractionType.isTurn(e.path("type").asText());
                if (a.responseId() == 0 && "event".equals(e.path("kind").asText())) {
                    owner = (ObjectNode) e;
                    break;
                }
                if (asks && e.path("response_id").asLong(-1) == a.responseId()) {
                    owner = (ObjectNode) e;
                    break;
                }
            }
            if (owner == null) {
                unmatched.add(a);
                continue;
            }
            addAnswer(owner.withArray("answers"), a);
        }
        if (!unmatched.isEmpty()) {
            ObjectNode rest = entries.addObject().put("kind", "answers_without_request");
            unmatched.forEach(a -> addAnswer(rest.withArray("answers"), a));
        }
    }

    /** One answer record: the turn's id, kind, chunk and words; its scope, frames and actions ({@link AnswerText}). */
    static void addAnswer(ArrayNode answers, AgentResponse a) {
        ObjectNode answer = answers.addObject().put("response_id", a.responseId()).put("kind", a.kind().wireName())
                .put("reason", a.reason()).put("chunk", a.chunkIndex()).put("complete", a.contentComplete())
                .put("latency_ms", a.createdAtMs() - a.requestReceivedAtMs())
                .put("time", Instant.ofEpochMilli(a.createdAtMs()).toString())
                .put("content", a.content().length() > 80 ? a.content().substring(0, 77) + "..." : a.content());
        if (!a.inTurn()) {
            answer.put("scope", a.scope());
        }
        if (a.interruptId() != null) {
            answer.put("interrupt_id", a.interruptId());
        }
        List<String> effects = AnswerText.effects(a);
        if (!effects.isEmpty()) {
            ArrayNode shown = answer.putArray("effects");
            effects.forEach(shown::add);
        }
    }

    private int republish(String servers, Topics target, PartitionScan events) throws Exception {
        String name = target.callEvents().name();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
            int partitions;
            try (KafkaConsumer<String, byte[]> c = KafkaSource.consumer(servers, "callguard-replay-into")) {
                partitions = KafkaSource.partitions(c, events.partition().topic(), servers).size();
            }
            try {
                // Same partition count as the live topic, so the call lands on the same partition number.
                admin.createTopics(List.of(new NewTopic(name, java.util.Optional.of(partitions), java.util.Optional.empty()))).all().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }
        Map<String, Object> props = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers,
                ProducerConfig.CLIENT_ID_CONFIG, "callguard-replay-into", ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r : events.records()) {
                sent.add(producer.send(new ProducerRecord<>(name, null, r.timestamp(), r.key(), r.value(), r.headers())));
            }
            for (var f : sent) {
                f.get(30, TimeUnit.SECONDS);
            }
            producer.flush();
        }
        return events.records().size();
    }

    /**
     * What the live processor recorded for the call: its latest state on call-state, every state it wrote there
     * (oldest first, null for a tombstone) and its archive record.
     */
    record LiveView(CallState state, boolean removed, CallArchive archive, List<CallState> history) {

        static LiveView of(PartitionScan states, PartitionScan archives) {
            CallState state = null;
            boolean removed = false;
            List<CallState> history = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r : states.records()) {
                if (r.value() == null) {
                    removed = true;
                    history.add(null);
                    continue;
                }
                try {
                    state = Topics.defaults().callState().valueSerde().deserializer().deserialize(r.topic(), r.value());
                    removed = false;
                    history.add(state);
                } catch (RuntimeException e) {
                    // An unreadable state record tells nothing; the archive may.
                }
            }
            CallArchive archive = null;
            for (ConsumerRecord<String, byte[]> r : archives.records()) {
                try {
                    archive = Topics.defaults().callArchive().valueSerde().deserializer().deserialize(r.topic(), r.value());
                } catch (RuntimeException e) {
                    // idem
                }
            }
            return new LiveView(state, removed, archive, java.util.Collections.unmodifiableList(history));
        }

        /** The live final state: the latest call-state value, else the archive's. */
        CallState finalState() {
            return state != null ? state : archive != null ? archive.finalState() : null;
        }

        Long firstEventAtMs() {
            CallState s = finalState();
            return s == null || s.firstEventAtMs() <= 0 ? null : s.firstEventAtMs();
        }

        /** Null when nothing live is known; else whether the fields that events decide agree. */
        Boolean matches(CallState replayed) {
            CallState s = finalState();
            if (s == null || replayed == null) {
                return null;
            }
            return s.status() == replayed.status() && s.turnCount() == replayed.turnCount()
                    && java.util.Objects.equals(s.latestResponseId(), replayed.latestResponseId())
                    && s.eventsApplied() == replayed.eventsApplied()
                    && s.duplicatesDropped() == replayed.duplicatesDropped()
                    && s.started() == replayed.started() && s.ended() == replayed.ended()
                    && s.analyzed() == replayed.analyzed();
        }

        ObjectNode json() {
            ObjectNode node = Json.mapper().createObjectNode();
            CallState s = finalState();
            node.set("final_state", s == null ? null : Json.mapper().valueToTree(s));
            node.put("removed_from_call_state", removed);
            node.put("archived", archive == null ? null : archive.reason().wireName());
            return node;
        }
    }
}
