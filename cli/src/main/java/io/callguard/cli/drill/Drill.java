package io.callguard.cli.drill;

import io.callguard.cli.tools.PrometheusText;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookEvent;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;

/**
 * Plays Retell against a running gateway: for each call a signed {@code call_started}, the LLM WebSocket
 * with a turn the interval after each whole answer, pings, then {@code call_ended} and {@code call_analyzed}; with the faults
 * and agent endings asked for. Without webhooks it plays the sockets alone, against an upstream custom-LLM server
 * reached directly. Everything it sees goes into a {@link DrillReport}.
 */
public final class Drill {

    /** How long the drill waits, at its end, for answers whose words already flow to complete. */
    static final Duration ANSWER_DRAIN = Duration.ofSeconds(15);
    /** Retell retries a failed webhook up to 3 times (../shared/retell-protocol.md); the gap is not documented. */
    static final int WEBHOOK_RETRIES = 3;
    static final Duration WEBHOOK_RETRY_GAP = Duration.ofSeconds(1);

    private final DrillOptions options;
    private final Consumer<String> progress;
    private final DrillReport report;
    private Faults faults = new Faults(List.of());
    /** Where to audit the gateway's topics after the drill; null: no audit. */
    private String auditBootstrapServers;
    private io.callguard.schemas.Topics auditTopics;
    /** The webhook sender, over the same Jetty client as the sockets; set while {@link #run} runs. */
    private volatile SignedWebhooks webhooks;
    private final CountDownLatch ended = new CountDownLatch(1);

    public Drill(DrillOptions options, Consumer<String> progress) {
        this.options = options;
        this.progress = progress;
        this.report = new DrillReport(options.minWholeAnswers());
    }

    /**
     * Ends the calls now rather than at their duration (the turns already asked still get their answers): for a test
     * that plays a scenario beside the drill and knows when it is over.
     */
    void endNow() {
        ended.countDown();
    }

    /** The report being filled in: its counts may be read while the drill runs (its histograms only after). */
    DrillReport report() {
        return report;
    }

    /** Kills these processes (SIGKILL) at their times into the run, and reports what each did to the turns. */
    public Drill withFaults(List<Faults.Kill> kills) {
        return withFaults(kills, Faults.HealOn.WHOLE);
    }

    /** As {@link #withFaults(List)}, judging each fault's time to heal by {@code healOn}. */
    public Drill withFaults(List<Faults.Kill> kills, Faults.HealOn healOn) {
        this.faults = new Faults(kills, healOn);
        return this;
    }

    /**
     * After the run, reads {@code topics} on the gateway's Kafka: every acknowledged webhook must be on call-events
     * and every ended call archived once as ended.
     */
    public Drill withAudit(String bootstrapServers, io.callguard.schemas.Topics topics) {
        this.auditBootstrapServers = bootstrapServers;
        this.auditTopics = topics;
        return this;
    }

    /** Runs the drill to its end and returns what it measured. */
    public DrillReport run() throws Exception {
        SplittableRandom random = new SplittableRandom(options.seed());
        String run = Long.toString(System.currentTimeMillis(), 36);
        ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(
                Math.max(2, Runtime.getRuntime().availableProcessors()), r -> {
                    Thread t = new Thread(r, "drill");
                    t.setDaemon(true);
                    return t;
                });
        // One Jetty HTTP client for webhooks and sockets: the drill shares the machine with the gateway it measures,
        // and the JDK's client cost about a millisecond of CPU per webhook there.
        HttpClient httpClient = new HttpClient();
        httpClient.setConnectTimeout(5_000);
        httpClient.start();
        if (options.webhooks()) {
            webhooks = new SignedWebhooks(httpClient, new RetellSignature(options.apiKey(), Clock.systemUTC(),
                    RetellSignature.DEFAULT_TOLERANCE_MS), options.target());
        }
        WebSocketClient client = new WebSocketClient(httpClient);
        client.setIdleTimeout(Duration.ofSeconds(30));
        client.start();
        GatewayMetrics gateway = options.admin() == null ? null : new GatewayMetrics(httpClient, options.admin());
        Optional<PrometheusText> gatewayAtStart = gateway == null ? Optional.empty() : gateway.scrape();
        if (gateway != null && gatewayAtStart.isEmpty()) {
            progress.accept("drill: cannot read the gateway's metrics at " + gateway.lastFailure()
                    + "; its CPU and fallbacks go unreported (see --admin-url, --admin-token)");
        }
        long started = System.nanoTime();
        double cpuAtStart = processCpuSeconds();
        TurnClassifier classifier = new TurnClassifier(options.fillerLines(), options.closingLines());
        faults.schedule(scheduler, started);
        java.util.Set<String> endedCalls = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try {
            List<SimulatedCall> calls = new ArrayList<>();
            java.util.Set<String> lateStarts = new java.util.HashSet<>();
            List<CompletableFuture<Void>> opened = new ArrayList<>();
            for (int i = 0; i < options.calls(); i++) {
                String callId = "drill-" + run + "-" + i;
                boolean outOfOrder = options.outOfOrder() && random.nextInt(5) == 0;
                boolean badInput = random.nextDouble() < options.badInput();
                boolean drop = random.nextDouble() < options.dropSockets();
                // Drawn only when asked for, so a seed plays the same calls as before endings existed.
                Ending ending = options.endCallRate() + options.transferRate() > 0
                        ? Ending.pick(random.nextDouble(), options.endCallRate(), options.transferRate()) : Ending.NONE;
                SimulatedCall call = new SimulatedCall(callId, options, report, client, scheduler, classifier,
                        random.split(), ending);
                calls.add(call);
                // Not joined: a slow acknowledgement must not delay the next call's start (and shorten every call).
                CompletableFuture<Void> ready = outOfOrder || !options.webhooks()
                        ? CompletableFuture.completedFuture(null) : webhook(WebhookEvent.CALL_STARTED, callId, null);
                // Phases spread evenly over the interval: one turn per call per interval, not all at once.
                long phaseMs = options.turnInterval().toMillis() * i / options.calls();
                opened.add(ready.thenCompose(x -> call.start(started, phaseMs)).exceptionally(e -> {
                    report.count("connect_failures");
                    return null;
                }));
                if (badInput) {
                    badInput(client, callId);
                }
                if (drop) {
                    // Cut just after a turn was sent, in the call's first half, so the reconnect happens mid-turn.
                    long turns = Math.max(1, options.duration().toMillis() / options.turnInterval().toMillis());
                    call.dropAfterTurn(1 + random.nextLong(Math.max(1, turns / 2)));
                }
                if (outOfOrder) {
                    lateStarts.add(callId);
                    report.count("out_of_order_calls");
                }
                // The next call starts at its even share of the ramp-up, counted from the start (no drift).
                long nextAt = started + options.rampUp().toNanos() * (i + 1) / options.calls();
                while (System.nanoTime() < nextAt) {
                    LockSupport.parkNanos(nextAt - System.nanoTime());
                }
            }
            CompletableFuture.allOf(opened.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            progress.accept(String.format("drill: %d calls open, running for %d s", calls.size(),
                    options.duration().toSeconds()));
            // Each call lasts the whole duration from its own start; the drill ends with the last one.
            long endAt = calls.stream().mapToLong(SimulatedCall::startedAtNanos).max().orElse(started)
                    + options.duration().toNanos();
            while (System.nanoTime() < endAt && !ended.await(Math.min(5_000,
                    Math.max(1, (endAt - System.nanoTime()) / 1_000_000)), TimeUnit.MILLISECONDS)) {
                progress.accept(String.format("drill: %.0f s, %d turns sent, %d answered", (System.nanoTime() - started)
                        / 1e9, report.count("turns_sent", 0), report.count("turns_answered", 0)));
            }
            calls.forEach(SimulatedCall::stopTurns);
            // Turns already asked get their budget, and answers already speaking their end, before the calls end.
            long drainUntil = System.nanoTime() + options.budget().plus(ANSWER_DRAIN).toNanos();
            Thread.sleep(50);
            while (System.nanoTime() < drainUntil && calls.stream().anyMatch(SimulatedCall::answering)) {
                Thread.sleep(20);
            }
            List<CompletableFuture<?>> endings = new ArrayList<>();
            for (SimulatedCall call : calls) {
                call.finish();
                if (!options.webhooks()) {
                    continue;
                }
                String reason = call.disconnectionReason();
                endedCalls.add(call.callId());
                CompletableFuture<Void> callEnded = webhook(WebhookEvent.CALL_ENDED, call.callId(), reason);
                if (lateStarts.contains(call.callId())) {
                    callEnded = callEnded.thenCompose(x -> webhook(WebhookEvent.CALL_STARTED, call.callId(), null));
                }
                endings.add(callEnded.thenCompose(x -> webhook(WebhookEvent.CALL_ANALYZED, call.callId(), reason)));
            }
            CompletableFuture.allOf(endings.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        } finally {
            double ownCpu = processCpuSeconds() - cpuAtStart;
            Optional<PrometheusText> gatewayAtEnd = gatewayAtStart.isPresent() ? gateway.scrape() : Optional.empty();
            // The gateway's counters say why it fell back; the drill hears only what was said.
            if (!faults.isEmpty()) {
                report.faults(faults.outcomes(report.turnMarks(), report.cuts(), started));
            }
            if (auditBootstrapServers != null) {
                // Only calls whose call_ended was acknowledged must be archived as ended.
                java.util.Set<String> endedAcked = new java.util.HashSet<>();
                for (EventAudit.Acked a : report.acked()) {
                    if (WebhookEvent.CALL_ENDED.equals(a.event()) && endedCalls.contains(a.callId())) {
                        endedAcked.add(a.callId());
                    }
                }
                report.audit(EventAudit.audit(auditBootstrapServers, auditTopics, report.acked(), endedAcked,
                        Duration.ofSeconds(60)));
            }
            report.finish((System.nanoTime() - started) / 1e9, ownCpu,
                    GatewayMetrics.cpuSecondsBetween(gatewayAtStart, gatewayAtEnd),
                    GatewayMetrics.fallbacksBetween(gatewayAtStart, gatewayAtEnd));
            client.stop();
            httpClient.stop();
            scheduler.shutdownNow();
        }
        return report;
    }

    /** CPU time this process has used, in seconds; NaN where the JVM does not tell. */
    static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long nanos = os.getProcessCpuTime();
            return nanos < 0 ? Double.NaN : nanos / 1e9;
        }
        return Double.NaN;
    }

    /**
     * Sends one webhook (as many times as duplicates are asked for) and records each acknowledgement.
     *
     * @param disconnectionReason the ended call's {@code disconnection_reason}; unused for {@code call_started}
     */
    private CompletableFuture<Void> webhook(String event, String callId, String disconnectionReason) {
        String body = "{\"event\":\"" + event + "\",\"call\":{\"call_id\":\"" + callId + "\",\"agent_id\":\"drill\","
                + "\"call_type\":\"web_call\",\"call_status\":\"" + (WebhookEvent.CALL_STARTED.equals(event) ? "ongoing" : "ended")
                + "\",\"start_timestamp\":1700000000000" + (WebhookEvent.CALL_STARTED.equals(event) ? ""
                : ",\"end_timestamp\":1700000060000,\"disconnection_reason\":\"" + disconnectionReason + "\"") + "}}";
        List<CompletableFuture<?>> sends = new ArrayList<>();
        for (int i = 0; i < options.duplicateWebhooks(); i++) {
            sends.add(deliver(body.getBytes(StandardCharsets.UTF_8), 0).thenAccept(status -> {
                if (status / 100 != 2) {
                    report.count(DrillReport.WEBHOOK_FAILURES);
                } else {
                    report.recordAcked(callId, event);
                }
            }));
        }
        return CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new));
    }

    /**
     * Posts a webhook as Retell delivers one: a failed delivery (no answer, 5xx, 429) is retried up to
     * {@value #WEBHOOK_RETRIES} times, {@link #WEBHOOK_RETRY_GAP} apart (a gateway killed or draining behind a load
     * balancer is skipped by the retry); a 4xx other than 429 is final.
     */
    private CompletableFuture<Integer> deliver(byte[] body, int retry) {
        return post(body, true).thenCompose(status -> {
            boolean retryable = status < 0 || status >= 500 || status == 429;
            if (!retryable || retry >= WEBHOOK_RETRIES) {
                return CompletableFuture.completedFuture(status);
            }
            report.count("webhook_retries");
            return CompletableFuture.supplyAsync(() -> null,
                    CompletableFuture.delayedExecutor(WEBHOOK_RETRY_GAP.toMillis(), TimeUnit.MILLISECONDS))
                    .thenCompose(x -> deliver(body, retry + 1));
        });
    }

    private CompletableFuture<Integer> post(byte[] body, boolean measure) {
        return webhooks.post(body).thenApply(outcome -> {
            if (measure && outcome.answered()) {
                report.recordWebhook(outcome.latencyNanos());
            }
            return outcome.status();
        });
    }

    /** A malformed webhook body (must get 400) and a malformed frame on a throw-away socket (must be closed). */
    private void badInput(WebSocketClient client, String callId) {
        post("{\"event\":\"call_started\",\"call\":{\"call_id\":".getBytes(StandardCharsets.UTF_8), false)
                .thenAccept(status -> report.count(status == 400 ? "bad_input_rejected" : DrillReport.BAD_INPUT_ACCEPTED));
        BadFrameProbe probe = new BadFrameProbe();
        try {
            client.connect(probe, options.socketUri(callId + "-bad")).thenAccept(s ->
                    s.sendText("this is not json {", Callback.NOOP)).exceptionally(e -> {
                        report.count("bad_input_connect_failures");
                        return null;
                    });
        } catch (java.io.IOException e) {
            report.count("bad_input_connect_failures");
        }
    }

    /** Expects the gateway to close a socket that sent a frame that is not JSON. */
    public final class BadFrameProbe implements Session.Listener.AutoDemanding {
        @Override
        public void onWebSocketClose(int statusCode, String reason) {
            report.count(statusCode == 1007 || statusCode == 1003 || statusCode == 1008 ? "bad_input_rejected"
                    : DrillReport.BAD_INPUT_ACCEPTED);
        }
    }
}
