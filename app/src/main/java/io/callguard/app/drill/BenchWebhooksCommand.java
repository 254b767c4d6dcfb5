package io.callguard.app.drill;

import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import io.callguard.ingress.RetellSignature;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code callguard bench-webhooks}: a load loop (beside the drill: both play Retell against a gateway) of signed webhooks against a running gateway, measuring
 * acknowledgement latency (request sent to 2xx received) with HdrHistogram.
 */
@Command(name = "bench-webhooks", mixinStandardHelpOptions = true,
        description = "Send signed call_started/call_ended webhooks to a running gateway and report ack latency.")
public final class BenchWebhooksCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--target", required = true, paramLabel = "URL", description = "Gateway base URL, e.g. http://127.0.0.1:8080/")
    URI target;

    @Option(names = "--retell-api-key", paramLabel = "KEY", description = "Key to sign with (default: RETELL_API_KEY).")
    String apiKey;

    @Option(names = "--count", defaultValue = "20000", description = "Webhooks to send (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--concurrency", defaultValue = "32", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--warmup", defaultValue = "2000", description = "Webhooks sent first and not measured (default ${DEFAULT-VALUE}).")
    int warmup;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("RETELL_API_KEY");
        if (key == null || key.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give --retell-api-key or set RETELL_API_KEY");
        }
        if (count < 1 || concurrency < 1 || warmup < 0) {
            throw new ParameterException(spec.commandLine(), "--count and --concurrency must be >= 1, --warmup >= 0");
        }
        // Jetty's client (see SignedWebhooks), with a connection per request in flight.
        HttpClient client = new HttpClient();
        QueuedThreadPool threads = new QueuedThreadPool(8);
        threads.setName("bench-webhooks");
        threads.setDaemon(true);
        client.setExecutor(threads);
        client.setMaxConnectionsPerDestination(concurrency);
        client.setConnectTimeout(5_000);
        client.start();
        try {
            return run(client, key);
        } finally {
            client.stop();
        }
    }

    private int run(HttpClient client, String key) throws InterruptedException {
        SignedWebhooks webhooks = new SignedWebhooks(client,
                new RetellSignature(key, Clock.systemUTC(), RetellSignature.DEFAULT_TOLERANCE_MS), target);
        String run = Long.toString(System.currentTimeMillis(), 36);
        PrintWriter out = spec.commandLine().getOut();

        send(webhooks, "warm-" + run, warmup, new Recorder(3), new ConcurrentHashMap<>());
        Recorder recorder = new Recorder(3);
        ConcurrentHashMap<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
        long started = System.nanoTime();
        send(webhooks, run, count, recorder, statuses);
        double seconds = (System.nanoTime() - started) / 1e9;
        Histogram h = recorder.getIntervalHistogram();
        out.printf("webhooks: %d in %.2f s = %.0f/s, concurrency %d, statuses %s%n", count, seconds, count / seconds,
                concurrency, statuses);
        out.printf("ack latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n",
                ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)),
                ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()));
        out.flush();
        return statuses.keySet().stream().allMatch(s -> s == 200) ? 0 : 1;
    }

    private void send(SignedWebhooks webhooks, String run, int n, Recorder recorder,
                      ConcurrentHashMap<Integer, AtomicLong> statuses) throws InterruptedException {
        Semaphore inFlight = new Semaphore(concurrency);
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            // Two events per call, so half of the traffic is a lifecycle change of an existing call.
            String event = i % 2 == 0 ? "call_started" : "call_ended";
            String body = "{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"bench-" + run + "-" + (i / 2)
                    + "\",\"agent_id\":\"bench\",\"call_status\":\"ongoing\",\"start_timestamp\":1700000000000}}";
            inFlight.acquire();
            webhooks.post(body.getBytes(StandardCharsets.UTF_8)).thenAccept(outcome -> {
                recorder.recordValue(Math.max(1, outcome.latencyNanos()));
                statuses.computeIfAbsent(outcome.status(), s -> new AtomicLong()).incrementAndGet();
                inFlight.release();
                done.countDown();
            });
        }
        if (!done.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("requests still in flight after 10 minutes");
        }
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
