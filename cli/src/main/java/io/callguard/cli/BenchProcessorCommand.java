package io.callguard.cli;

import io.callguard.app.TopicBootstrap;
import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.common.CommonConfig;
import io.callguard.common.KafkaClients;
import io.callguard.processor.CapacityView;
import io.callguard.processor.PartitionCapacity;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.ProcessorRole;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard bench-processor}: the processor on a real broker, with topics and an application id of
 * its own so it disturbs nothing else. Pre-builds one {@code call_started} CallEvent per call and produces
 * them all, then (1) starts a processor and times how fast the call-state records of every call come out
 * (events/s through the topology), (2) reports the process RSS with all those calls active, (3) stops the
 * processor, wipes its state dir, starts a fresh one and times restore from the changelogs until every
 * call's state is queryable again.
 */
@Command(name = "bench-processor", mixinStandardHelpOptions = true,
        description = "Processor throughput, RSS with N active calls, and restore time from the changelogs on a wiped state dir.")
public final class BenchProcessorCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...",
            description = "Kafka to use; absent: start an embedded broker under a temporary dir (its memory then counts in the RSS).")
    String bootstrapServers;

    @Option(names = "--calls", defaultValue = "10000", description = "Calls, one call_started each (default ${DEFAULT-VALUE}).")
    int calls;

    @Option(names = "--partitions", defaultValue = "6", description = "Partitions of the bench topics (default ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--processing-guarantee", defaultValue = ProcessorConfig.EXACTLY_ONCE_V2,
            description = "at_least_once or exactly_once_v2 (default ${DEFAULT-VALUE}).")
    String guarantee;

    @Option(names = "--keep-topics", description = "Leave the bench topics and changelogs on the broker.")
    boolean keepTopics;

    @Option(names = "--timeout-s", defaultValue = "300", description = "Give up on a phase after this long (default ${DEFAULT-VALUE}).")
    long timeoutS;

    @Override
    public Integer call() throws Exception {
        if (calls < 1 || partitions < 1) {
            throw new ParameterException(spec.commandLine(), "--calls and --partitions must be >= 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        Path work = Files.createTempDirectory("callguard-bench-processor");
        EmbeddedKafka broker = null;
        String servers = bootstrapServers;
        String run = "bench-" + Long.toString(System.currentTimeMillis(), 36);
        Topics topics = Topics.withPrefix(run + ".");
        try {
            if (servers == null || servers.isBlank()) {
                broker = new EmbeddedKafka(work.resolve("broker"), 0);
                broker.start();
                servers = broker.bootstrapServers();
            }
            Map<String, Object> settings = new HashMap<>();
            settings.put(CommonConfig.TOPICS_PARTITIONS_CONFIG, String.valueOf(partitions));
            settings.put(ProcessorConfig.APPLICATION_ID_CONFIG, run);
            settings.put(ProcessorConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
            settings.put(ProcessorConfig.CAPACITY_MAX_ACTIVE_CALLS_CONFIG, String.valueOf(Math.max(1, calls) * 2));
            settings.put(ProcessorConfig.CAPACITY_QUEUE_SIZE_CONFIG, "0");
            ProcessorConfig config = new ProcessorConfig(settings);
            KafkaClients clients = new KafkaClients(servers, "");
            try (Admin admin = Admin.create(clients.admin("callguard-bench-processor"))) {
                TopicBootstrap.ensure(admin, topics, partitions, io.callguard.common.TopicReplication.BROKER_DEFAULT,
                        new ResponderConfig(Map.of()).cacheTtlMs(), clients.maxRecordBytes(), java.util.List.of(),
                        30_000);
                try {
                    return measure(out, servers, topics, config, work);
                } finally {
                    if (!keepTopics) {
                        deleteBenchTopics(admin, run);
                    }
                }
            }
        } finally {
            if (broker != null) {
                broker.close();
            }
            deleteTree(work);
        }
    }

    private int measure(PrintWriter out, String servers, Topics topics, ProcessorConfig config, Path work)
            throws Exception {
        List<String> callIds = new ArrayList<>(calls);
        for (int i = 0; i < calls; i++) {
            callIds.add("bench-call-" + i);
        }
        long produceStart = System.nanoTime();
        produce(servers, topics, callIds);
        double produceS = seconds(produceStart);
        out.printf("produced %d call_started events in %.2f s (%.0f/s)%n", calls, produceS, calls / produceS);
        out.flush();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
        ProcessorRole first = new ProcessorRole(config, new KafkaClients(servers, ""), topics, work.resolve("state-1"), new SimpleMeterRegistry());
        long startedAt = System.nanoTime();
        long[] firstAndLast;
        try (KafkaConsumer<String, CallState> states = stateReader(servers, topics)) {
            first.start();
            firstAndLast = awaitStates(states, new HashSet<>(callIds), deadline);
        }
        double fromStartS = (firstAndLast[1] - startedAt) / 1e9;
        double steadyS = (firstAndLast[1] - firstAndLast[0]) / 1e9;
        out.printf("processing (%s): all %d states on call-state %.2f s after start; first to last state %.2f s = "
                        + "%.0f events/s%n", config.processingGuarantee(), calls, fromStartS, steadyS,
                calls / Math.max(steadyS, 1e-9));
        long active = awaitActive(first, calls, deadline);
        System.gc();
        out.printf("memory with %d active calls (local capacity counters: %d active): RSS %d MiB, heap used %d MiB "
                        + "after GC, state dir %d MiB (RocksDB memtables not yet flushed are not in it)%n", calls, active,
                rssKiB() / 1024, (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20,
                directoryBytes(work.resolve("state-1")) >> 20);
        out.flush();
        first.stop();
        deleteTree(work.resolve("state-1"));

        ProcessorRole second = new ProcessorRole(config, new KafkaClients(servers, ""), topics, work.resolve("state-2"), new SimpleMeterRegistry());
        long restoreStart = System.nanoTime();
        second.start();
        try {
            // isRunning() also counts REBALANCING; restore ends with the state RUNNING, when the role is ready.
            while (!second.health().ready()) {
                check(deadline, "the restoring processor to reach RUNNING");
                TimeUnit.MILLISECONDS.sleep(5);
            }
            double runningS = seconds(restoreStart);
            List<String> missing = new ArrayList<>(callIds);
            while (!missing.isEmpty()) {
                check(deadline, "every call to be queryable after restore");
                missing.removeIf(id -> second.callState(id).isPresent());
                if (!missing.isEmpty()) {
                    TimeUnit.MILLISECONDS.sleep(5);
                }
            }
            out.printf("restore on a wiped state dir: RUNNING after %.2f s, all %d calls queryable after %.2f s%n",
                    runningS, calls, seconds(restoreStart));
            out.flush();
        } finally {
            second.stop();
        }
        return 0;
    }

    private void produce(String servers, Topics topics, List<String> callIds) throws Exception {
        Map<String, Object> p = new KafkaClients(servers, "").producer("callguard-bench-processor");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        var serializer = topics.callEvents().valueSerde().serializer();
        long now = System.currentTimeMillis();
        List<byte[]> values = new ArrayList<>(callIds.size());
        for (String callId : callIds) {
            var payload = Json.mapper().readTree(BenchStateLatencyCommand.body(WebhookEvent.CALL_STARTED, callId));
            values.add(serializer.serialize(topics.callEvents().name(), new CallEvent(CallEvent.SCHEMA_VERSION,
                    "evt-" + callId, callId, EventSource.WEBHOOK, WebhookEvent.CALL_STARTED,
                    IdempotencyKeys.forWebhook(WebhookEvent.CALL_STARTED, callId, payload), now, null, "bench",
                    payload)));
        }
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < callIds.size(); i++) {
                producer.send(new ProducerRecord<>(topics.callEvents().name(), callIds.get(i), values.get(i)));
            }
            producer.flush();
        }
    }

    private static KafkaConsumer<String, CallState> stateReader(String servers, Topics topics) {
        Map<String, Object> props = new KafkaClients(servers, "").consumer("callguard-bench-processor-states");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<String, CallState> consumer = new KafkaConsumer<>(props,
                new StringDeserializer(), topics.callState().valueSerde().deserializer());
        String name = topics.callState().name();
        List<TopicPartition> partitions = consumer.partitionsFor(name, Duration.ofSeconds(15)).stream()
                .map(i -> new TopicPartition(name, i.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }

    /** Waits for a state of every call; returns when the first and the last arrived (nanoTime). */
    private long[] awaitStates(KafkaConsumer<String, CallState> states, Set<String> missing, long deadline) {
        long firstAt = 0;
        long lastAt = 0;
        while (!missing.isEmpty()) {
            check(deadline, "call-state records of every call");
            for (ConsumerRecord<String, CallState> r : states.poll(Duration.ofMillis(100))) {
                if (missing.remove(r.key())) {
                    lastAt = System.nanoTime();
                    if (firstAt == 0) {
                        firstAt = lastAt;
                    }
                }
            }
        }
        return new long[] {firstAt, lastAt};
    }

    private static long awaitActive(ProcessorRole role, int expected, long deadline) throws InterruptedException {
        while (true) {
            CapacityView view = role.localCapacity();
            long active = view.partitions().stream().mapToLong(PartitionCapacity::active).sum();
            if (active >= expected || System.nanoTime() > deadline) {
                return active;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    private static void deleteBenchTopics(Admin admin, String run) {
        try {
            Set<String> names = new HashSet<>(admin.listTopics().names().get(30, TimeUnit.SECONDS));
            names.removeIf(n -> !n.startsWith(run));
            admin.deleteTopics(names).all().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            // Best effort: a bench must not fail on cleanup.
        }
    }

    private static long rssKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static long directoryBytes(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private static void check(long deadline, String what) {
        if (System.nanoTime() > deadline) {
            throw new IllegalStateException("timed out waiting for " + what);
        }
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }
}
