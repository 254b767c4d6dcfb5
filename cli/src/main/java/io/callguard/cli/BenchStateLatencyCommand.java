package io.callguard.cli;

import io.callguard.app.Gateway;
import io.callguard.common.KafkaClients;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Topics;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard bench-state-latency}: the webhook-to-state path of a running gateway. Each call gets a
 * signed {@code call_started} and then a {@code call_ended}; every webhook's latency is from the moment its
 * request is sent until the call's state showing that event is read from {@code call-state} by a
 * {@code read_committed} consumer, as a tap or a dashboard would see it.
 */
@Command(name = "bench-state-latency", mixinStandardHelpOptions = true,
        description = "Measure webhook POST -> CallState visible on call-state (read_committed) of a running gateway.")
public final class BenchStateLatencyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--target", required = true, paramLabel = "URL", description = "Gateway base URL, e.g. http://127.0.0.1:8080/")
    URI target;

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT,...",
            description = "Kafka of that gateway (its ready line prints broker=...).")
    String bootstrapServers;

    @Option(names = "--prefix", paramLabel = "PREFIX", defaultValue = Topics.DEFAULT_PREFIX,
            description = "Topic prefix (default ${DEFAULT-VALUE}).")
    String prefix;

    @Option(names = "--retell-api-key", paramLabel = "KEY", description = "Key to sign with (default: RETELL_API_KEY).")
    String apiKey;

    @Option(names = "--count", defaultValue = "4000", description = "Webhooks measured, half call_started, half "
            + "call_ended (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--concurrency", defaultValue = "4", description = "Calls in flight; each call's two webhooks "
            + "are sent one after the other (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--warmup", defaultValue = "400", description = "Webhooks sent first and not measured (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--no-end", description = "Send only call_started, so every call stays active (for memory "
            + "measurements with many live calls; needs capacity.max-active-calls large enough).")
    boolean noEnd;

    @Option(names = "--timeout-ms", defaultValue = "30000", description = "Give up on one webhook's state after this long (default ${DEFAULT-VALUE}).")
    long timeoutMs;

    private final Map<String, Waiter> waiting = new ConcurrentHashMap<>();

    /** A webhook waiting for its state: done when a state of its call passes the test. */
    private record Waiter(Predicate<CallState> test, CountDownLatch seen) {
    }

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("RETELL_API_KEY");
        if (key == null || key.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give --retell-api-key or set RETELL_API_KEY");
        }
        if (count < 2 || concurrency < 1 || warmup < 0 || timeoutMs < 1) {
            throw new ParameterException(spec.commandLine(), "--count must be >= 2, --concurrency and --timeout-ms >= 1, "
                    + "--warmup >= 0");
        }
        Topics topics = Topics.withPrefix(prefix);
        PrintWriter out = spec.commandLine().getOut();
        AtomicBoolean running = new AtomicBoolean(true);
        CountDownLatch assigned = new CountDownLatch(1);
        Thread reader = new Thread(() -> readStates(topics, running, assigned), "bench-state-reader");
        reader.start();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        ExecutorService workers = Executors.newFixedThreadPool(concurrency);
        try {
            if (!assigned.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no call-state topic " + topics.callState().name() + " at "
                        + bootstrapServers);
            }
            RetellSignature signer = new RetellSignature(key, Clock.systemUTC(), RetellSignature.DEFAULT_TOLERANCE_MS);
            String run = Long.toString(System.currentTimeMillis(), 36);
            URI url = target.resolve("webhook");
            Stats warm = send(client, signer, url, workers, "lat-warm-" + run, warmup, new Recorder(3));
            Recorder recorder = new Recorder(3);
            long started = System.nanoTime();
            Stats measured = send(client, signer, url, workers, "lat-" + run, count, recorder);
            double seconds = (System.nanoTime() - started) / 1e9;
            Histogram h = recorder.getIntervalHistogram();
            out.printf("webhook -> call-state (read_committed): %d webhooks in %.2f s, concurrency %d, "
                            + "timed out %d, non-2xx %d (warmup %d)%n", measured.sent(), seconds, concurrency,
                    measured.timedOut(), measured.refused(), warm.sent());
            out.printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n",
                    ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)),
                    ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()));
            out.flush();
            return measured.timedOut() == 0 && measured.refused() == 0 ? 0 : 1;
        } finally {
            workers.shutdownNow();
            running.set(false);
            reader.join(5_000);
        }
    }

    private record Stats(long sent, long timedOut, long refused) {
    }

    private Stats send(HttpClient client, RetellSignature signer, URI url, ExecutorService workers, String run, int n,
                       Recorder recorder) throws InterruptedException {
        int perCall = noEnd ? 1 : 2;
        int calls = (n + perCall - 1) / perCall;
        Semaphore inFlight = new Semaphore(concurrency);
        CountDownLatch done = new CountDownLatch(calls);
        AtomicLong timedOut = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong sent = new AtomicLong();
        for (int i = 0; i < calls; i++) {
            String callId = run + "-" + i;
            inFlight.acquire();
            workers.execute(() -> {
                try {
                    measure(client, signer, url, callId, WebhookEvent.CALL_STARTED, s -> s.started(), recorder, sent, timedOut, refused);
                    if (!noEnd) {
                        measure(client, signer, url, callId, WebhookEvent.CALL_ENDED, s -> s.ended(), recorder, sent, timedOut, refused);
                    }
                } finally {
                    inFlight.release();
                    done.countDown();
                }
            });
        }
        done.await();
        return new Stats(sent.get(), timedOut.get(), refused.get());
    }

    private void measure(HttpClient client, RetellSignature signer, URI url, String callId, String event,
                         Predicate<CallState> shows, Recorder recorder, AtomicLong sent, AtomicLong timedOut,
                         AtomicLong refused) {
        byte[] raw = body(event, callId).getBytes(StandardCharsets.UTF_8);
        Waiter waiter = new Waiter(shows, new CountDownLatch(1));
        waiting.put(callId, waiter);
        long sentAt = System.nanoTime();
        try {
            HttpResponse<Void> response = client.send(HttpRequest.newBuilder(url)
                    .header("x-retell-signature", signer.sign(raw, System.currentTimeMillis()))
                    .header("content-type", "application/json").timeout(Duration.ofSeconds(15))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.discarding());
            sent.incrementAndGet();
            if (response.statusCode() / 100 != 2) {
                refused.incrementAndGet();
                return;
            }
            if (waiter.seen().await(timeoutMs, TimeUnit.MILLISECONDS)) {
                recorder.recordValue(Math.max(1, System.nanoTime() - sentAt));
            } else {
                timedOut.incrementAndGet();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            refused.incrementAndGet();
        } finally {
            waiting.remove(callId, waiter);
        }
    }

    private void readStates(Topics topics, AtomicBoolean running, CountDownLatch assigned) {
        String name = topics.callState().name();
        Map<String, Object> props = new KafkaClients(bootstrapServers, "").consumer("callguard-bench-state");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 5);
        try (KafkaConsumer<String, CallState> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                topics.callState().valueSerde().deserializer())) {
            var infos = consumer.partitionsFor(name, Duration.ofSeconds(15));
            if (infos == null || infos.isEmpty()) {
                return;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(name, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position);
            assigned.countDown();
            while (running.get()) {
                for (ConsumerRecord<String, CallState> r : consumer.poll(Duration.ofMillis(50))) {
                    Waiter waiter = r.value() == null ? null : waiting.get(r.key());
                    if (waiter != null && waiter.test().test(r.value())) {
                        waiter.seen().countDown();
                    }
                }
            }
        }
    }

    static String body(String event, String callId) {
        boolean start = WebhookEvent.CALL_STARTED.equals(event);
        return "{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"" + callId + "\",\"agent_id\":\"bench\","
                + "\"call_type\":\"phone_call\",\"direction\":\"inbound\",\"call_status\":\""
                + (start ? "ongoing" : "ended") + "\",\"start_timestamp\":1700000000000"
                + (start ? "" : ",\"end_timestamp\":1700000060000,\"duration_ms\":60000,"
                        + "\"disconnection_reason\":\"user_hangup\"")
                + "}}";
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
