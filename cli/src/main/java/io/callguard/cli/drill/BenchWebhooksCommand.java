package io.callguard.cli.drill;

import io.callguard.app.Gateway;
import io.callguard.cli.tools.PrometheusText;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookEvent;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    private static final long PROGRESS_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long BACKLOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);

    @Spec
    CommandSpec spec;

    @Option(names = "--target", required = true, paramLabel = "URL", description = "Gateway base URL, e.g. "
            + "http://127.0.0.1:8080/; the processor's backlog and the gateway's CPU are read from its admin listener "
            + "(--admin-url).")
    URI target;

    @Mixin
    AdminOptions admin;

    @Option(names = "--retell-api-key", paramLabel = "KEY", description = "Key to sign with (default: RETELL_API_KEY).")
    String apiKey;

    @Option(names = "--count", defaultValue = "20000", description = "Webhooks to send (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--concurrency", defaultValue = "32", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--warmup", defaultValue = "2000", description = "Webhooks sent first and not measured (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--rate", defaultValue = "0", paramLabel = "PER_SECOND",
            description = "Offer this many webhooks a second on a fixed schedule (open loop; at most --concurrency in "
                    + "flight): latency counts from when each was due, so a gateway that stalls shows as latency, not "
                    + "as a slower load. 0 (default): as fast as --concurrency allows (closed loop).")
    double rate;

    @Option(names = "--drain-timeout", defaultValue = "120s", paramLabel = "DURATION",
            description = "After the last ack, how long to wait for the gateway's processor to take every acknowledged "
                    + "webhook (default ${DEFAULT-VALUE}); only when the target runs the processor.")
    String drainTimeout;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("RETELL_API_KEY");
        if (key == null || key.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give --retell-api-key or set RETELL_API_KEY");
        }
        if (count < 1 || concurrency < 1 || warmup < 0 || rate < 0 || Double.isNaN(rate)) {
            throw new ParameterException(spec.commandLine(),
                    "--count and --concurrency must be >= 1, --warmup and --rate >= 0");
        }
        Duration drain;
        try {
            drain = DrillCommand.parse(drainTimeout);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--drain-timeout: " + e.getMessage());
        }
        GatewayAdmin gatewayAdmin;
        try {
            gatewayAdmin = admin.resolve(target);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        // Jetty's client (see SignedWebhooks), with a connection per request in flight.
        HttpClient client = new HttpClient();
        QueuedThreadPool threads = new QueuedThreadPool(8);
        threads.setName("bench-webhooks");
        threads.setDaemon(true);
        client.setExecutor(threads);
        client.setMaxConnectionsPerDestination(concurrency + 1);
        client.setConnectTimeout(5_000);
        client.start();
        try {
            return run(client, key, drain, gatewayAdmin);
        } finally {
            client.stop();
        }
    }

    private int run(HttpClient client, String key, Duration drain, GatewayAdmin gatewayAdmin)
            throws InterruptedException {
        SignedWebhooks webhooks = new SignedWebhooks(client,
                new RetellSignature(key, Clock.systemUTC(), RetellSignature.DEFAULT_TOLERANCE_MS), target);
        String run = Long.toString(System.currentTimeMillis(), 36);
        PrintWriter out = spec.commandLine().getOut();

        send(webhooks, "warm-" + run, warmup, new Recorder(3), new ConcurrentHashMap<>(), "warm-up", null);
        GatewayMetrics processor = new GatewayMetrics(client, gatewayAdmin);
        BacklogWatch watch = new BacklogWatch(processor);
        Recorder recorder = new Recorder(3);
        ConcurrentHashMap<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
        Optional<PrometheusText> gatewayAtStart = processor.scrape();
        double ownCpuAtStart = Drill.processCpuSeconds();
        long started = System.nanoTime();
        watch.start(started);
        send(webhooks, run, count, recorder, statuses, "measured", watch);
        long lastAck = System.nanoTime();
        double ownCpu = Drill.processCpuSeconds() - ownCpuAtStart;
        double gatewayCpu = GatewayMetrics.cpuSecondsBetween(gatewayAtStart, processor.scrape());
        watch.stop();
        double seconds = (lastAck - started) / 1e9;
        Histogram h = recorder.getIntervalHistogram();
        out.printf("webhooks: %d in %.2f s = %.0f/s%s, concurrency %d, statuses %s%n", count, seconds, count / seconds,
                rate > 0 ? String.format(" (offered %.0f/s)", rate) : "", concurrency, statuses);
        out.printf("ack latency ms%s: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n",
                rate > 0 ? " (from when each was due)" : "",
                ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)),
                ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()));
        if (!Double.isNaN(gatewayCpu)) {
            out.printf("cpu: gateway process %.2f cores, this load generator %.2f cores%n", gatewayCpu / seconds,
                    ownCpu / seconds);
        }
        out.flush();
        OptionalLong atLastAck = processor.processorBacklog();
        if (atLastAck.isEmpty()) {
            out.println("processor backlog: not measured (the target does not run the processor, or its metrics "
                    + "cannot be read: " + processor.lastFailure() + ")");
        } else {
            long drainedAfter = waitDrained(processor, lastAck, drain);
            boolean maxAtEnd = atLastAck.getAsLong() >= watch.max;
            out.printf("processor backlog (acknowledged, not yet taken by the processor): max %d at %.0f s, %d at "
                            + "the last ack, %s%n",
                    maxAtEnd ? atLastAck.getAsLong() : watch.max, maxAtEnd ? seconds : watch.maxAtSeconds,
                    atLastAck.getAsLong(),
                    drainedAfter >= 0 ? String.format("all taken %.1f s after it", drainedAfter / 1e9)
                            : "NOT all taken within " + drainTimeout + " after it");
        }
        out.flush();
        return statuses.keySet().stream().allMatch(s -> s == 200) ? 0 : 1;
    }

    /** Nanoseconds from the last ack until the backlog was 0, or -1 when it was not within the timeout. */
    private static long waitDrained(GatewayMetrics processor, long lastAck, Duration timeout)
            throws InterruptedException {
        long deadline = lastAck + timeout.toNanos();
        while (true) {
            OptionalLong backlog = processor.processorBacklog();
            long now = System.nanoTime();
            if (backlog.isPresent() && backlog.getAsLong() == 0) {
                return now - lastAck;
            }
            if (now >= deadline) {
                return -1;
            }
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    /**
     * Sends {@code n} webhooks and waits for every answer, printing progress on stderr every
     * {@link #PROGRESS_EVERY_NANOS} (with the processor's backlog when {@code watch} has one).
     */
    private void send(SignedWebhooks webhooks, String run, int n, Recorder recorder,
                      ConcurrentHashMap<Integer, AtomicLong> statuses, String phase, BacklogWatch watch)
            throws InterruptedException {
        Semaphore inFlight = new Semaphore(concurrency);
        CountDownLatch done = new CountDownLatch(n);
        long intervalNanos = rate > 0 ? Math.round(1e9 / rate) : 0;
        long first = System.nanoTime();
        long nextProgress = first + PROGRESS_EVERY_NANOS;
        for (int i = 0; i < n; i++) {
            if (System.nanoTime() >= nextProgress) {
                progress(phase, first, n - done.getCount(), n, watch);
                nextProgress += PROGRESS_EVERY_NANOS;
            }
            // Two events per call, so half of the traffic is a lifecycle change of an existing call.
            String event = i % 2 == 0 ? WebhookEvent.CALL_STARTED : WebhookEvent.CALL_ENDED;
            String body = "{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"bench-" + run + "-" + (i / 2)
                    + "\",\"agent_id\":\"bench\",\"call_status\":\"ongoing\",\"start_timestamp\":1700000000000}}";
            long due = first + i * intervalNanos;
            if (intervalNanos > 0) {
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
            }
            inFlight.acquire();
            webhooks.post(body.getBytes(StandardCharsets.UTF_8)).thenAccept(outcome -> {
                // Open loop: from when it was due, which includes any wait for a free connection (coordinated
                // omission); closed loop: from when it was sent.
                long latency = intervalNanos > 0 ? System.nanoTime() - due : outcome.latencyNanos();
                recorder.recordValue(Math.max(1, latency));
                statuses.computeIfAbsent(outcome.status(), s -> new AtomicLong()).incrementAndGet();
                inFlight.release();
                done.countDown();
            });
        }
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (!done.await(PROGRESS_EVERY_NANOS, TimeUnit.NANOSECONDS)) {
            if (System.nanoTime() >= deadline) {
                throw new IllegalStateException("requests still in flight after 10 minutes");
            }
            progress(phase, first, n - done.getCount(), n, watch);
        }
    }

    private void progress(String phase, long first, long answered, int n, BacklogWatch watch) {
        PrintWriter err = spec.commandLine().getErr();
        err.printf("bench-webhooks: %s, %.0f s, %d of %d answered%s%n", phase, (System.nanoTime() - first) / 1e9,
                answered, n, watch != null && watch.latest >= 0 ? ", processor backlog " + watch.latest : "");
        err.flush();
    }

    /**
     * Samples the processor backlog every {@link #BACKLOG_EVERY_NANOS} while the measured webhooks are sent, keeping
     * the largest. Not more often: a scrape of a busy gateway's {@code /metrics} (about 1,500 series, 200 KB) costs
     * it tens of milliseconds of CPU, which a once-a-second sampler took from what it measured.
     */
    private static final class BacklogWatch {
        private final GatewayMetrics processor;
        private final Thread thread;
        private volatile boolean running = true;
        private volatile long started;
        volatile long max;
        volatile double maxAtSeconds;
        /** The last backlog read, -1 before the first or when there is none. */
        volatile long latest = -1;

        BacklogWatch(GatewayMetrics processor) {
            this.processor = processor;
            this.thread = new Thread(this::loop, "bench-webhooks-backlog");
            this.thread.setDaemon(true);
        }

        void start(long startedNanos) {
            started = startedNanos;
            thread.start();
        }

        void stop() throws InterruptedException {
            running = false;
            thread.interrupt();
            thread.join(10_000);
        }

        private void loop() {
            while (running) {
                OptionalLong backlog = processor.processorBacklog();
                latest = backlog.orElse(-1);
                if (backlog.isPresent() && backlog.getAsLong() > max) {
                    max = backlog.getAsLong();
                    maxAtSeconds = (System.nanoTime() - started) / 1e9;
                }
                try {
                    TimeUnit.NANOSECONDS.sleep(BACKLOG_EVERY_NANOS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
