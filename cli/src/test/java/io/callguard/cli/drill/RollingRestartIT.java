package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.Gateway;
import io.callguard.app.broker.EmbeddedKafka;
import io.callguard.app.config.GatewayConfig;
import io.callguard.testkit.LoopbackBalancer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling restart under drill load: one real broker, two gateways with every role behind a load balancer, the drill
 * playing 30 calls through the balancer (a turn 500 ms after each answer, a backend taking 300 ms). Gateway A is
 * stopped as SIGTERM stops it (its close: the drain, then the stop), started again on its data dir, then B the same
 * way: every socket moves to the other gateway between two turns, the processor's and responder's partitions move
 * with the restarts, and no caller hears silence or loses the call.
 */
@Tag("integration")
@Timeout(value = 420, unit = TimeUnit.SECONDS)
class RollingRestartIT {

    private static final String KEY = "rolling-key";
    private static final String TOKEN = "rolling-token";
    private static final int CALLS = 30;
    private static final Duration READY = Duration.ofSeconds(120);
    /** Turns answered between two steps of the roll, so each step happens under steady load. */
    private static final long STEADY_TURNS = CALLS * 4L;

    @TempDir
    Path dir;

    private EmbeddedKafka broker;
    private final Gateway[] gateways = new Gateway[2];
    private LoopbackBalancer balancer;

    @AfterEach
    void stopAll() {
        if (balancer != null) {
            balancer.close();
        }
        for (Gateway gateway : gateways) {
            if (gateway != null) {
                gateway.close();
            }
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void shouldRestartBothGatewaysOneAfterTheOtherWithNoTurnSilentAndNoCallDropped() throws Exception {
        // Given one broker and two gateways with every role, on fixed ports behind a round-robin balancer
        broker = new EmbeddedKafka(dir.resolve("broker"), 0);
        broker.start();
        int[] ports = {freePort(), freePort()};
        for (int i = 0; i < 2; i++) {
            gateways[i] = start(i, ports[i]);
        }
        awaitReady(gateways[0]);
        awaitReady(gateways[1]);
        balancer = new LoopbackBalancer(List.of(ports[0], ports[1])).start();

        // And the drill through the balancer: 30 calls, each for the whole roll (ended once it is over)
        DrillOptions options = new DrillOptions(balancer.uri(), KEY, TOKEN, CALLS, Duration.ofSeconds(240),
                Duration.ofMillis(500), Duration.ofMillis(1000), 1, 0, false, 0, 11, Duration.ofSeconds(3));
        CountDownLatch open = new CountDownLatch(1);
        Drill drill = new Drill(options, line -> {
            System.out.println(line);
            if (line.contains("calls open")) {
                open.countDown();
            }
        });
        CompletableFuture<DrillReport> run = CompletableFuture.supplyAsync(() -> {
            try {
                return drill.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(open.await(60, TimeUnit.SECONDS)).as("every call opened").isTrue();
        awaitSteadyTurns(drill);

        // When each gateway in turn is stopped as SIGTERM stops it (drain, then stop) and started again on its data dir
        long[] drainMs = new long[2];
        StringBuilder phases = new StringBuilder(phase(drill, "steady before the roll"));
        for (int i = 0; i < 2; i++) {
            long started = System.nanoTime();
            gateways[i].close();
            drainMs[i] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            phases.append(phase(drill, "stop of " + (char) ('A' + i)));
            gateways[i] = null;
            gateways[i] = start(i, ports[i]);
            awaitReady(gateways[i]);
            phases.append(phase(drill, "start of " + (char) ('A' + i)));
            awaitSteadyTurns(drill);
            phases.append(phase(drill, "steady after"));
        }
        boolean rolledBeforeTheEnd = !run.isDone();
        drill.endNow();
        DrillReport report = run.get(120, TimeUnit.SECONDS);
        System.out.printf("rolling restart: stop of A %d ms, of B %d ms; balancer: connections %d/%d, refused %d, "
                + "resent after 503 %d%nturns by phase (answered, bridged or worse: silent, closing-only):%s%n%s%n",
                drainMs[0], drainMs[1], balancer.connections(0), balancer.connections(1), balancer.refused(),
                balancer.resent(), phases, report.text());

        // Then the roll happened under load, every call moved between turns with a reconnect after 1006, and none saw
        // Jetty's shutdown close (1001)
        assertThat(rolledBeforeTheEnd).as("the roll finished while the drill still ran").isTrue();
        assertThat(report.count("socket_closes_1006", 0)).as(report.text()).isGreaterThanOrEqualTo(CALLS);
        assertThat(report.count("socket_closes_1001", 0)).as(report.text()).isZero();
        assertThat(report.count("reconnect_failures", 0)).as(report.text()).isZero();

        // And no turn was silent (one asked while its call was reconnecting included), no call dropped, and every turn
        // was answered
        assertThat(report.count(DrillReport.SILENT_TURNS, 0)).as(report.text()).isZero();
        assertThat(report.count(DrillReport.DROPPED_CALLS, 0)).as(report.text()).isZero();
        assertThat(report.count("connect_failures", 0)).as(report.text()).isZero();
        assertThat(report.count("turns_given_up", 0)).as(report.text()).isZero();
        assertThat(report.count("turns_answered", 0)).as(report.text()).isEqualTo(report.judgedTurns());
        assertThat(report.heard(Heard.SILENT)).isZero();
        // (an answer said again on the new socket, or one for a superseded turn, would be heard too)
        assertThat(report.count(DrillReport.DUPLICATE_ANSWERS, 0)).as(report.text()).isZero();
        assertThat(report.count(DrillReport.STALE_ANSWERS, 0)).as(report.text()).isZero();
        // (a call moved to the other gateway, whose processor may not own its partition, is not greeted again)
        assertThat(report.count(DrillReport.GREETED_AGAIN, 0)).as(report.text()).isZero();

        // And what the callers heard: the agent's whole answer (bridged by a filler at most), a closing line at most
        // for a handful of the thousands of turns
        assertThat(report.heard(Heard.TRUNCATED)).as(report.text()).isZero();
        assertThat(report.heard(Heard.CLOSING_ONLY)).as(report.text()).isLessThanOrEqualTo(3);
        assertThat(report.passed()).as(report.text()).isTrue();
    }

    /** What the drill counted so far, to tell afterwards in which step of the roll a turn went wrong. */
    private static String phase(Drill drill, String name) {
        DrillReport r = drill.report();
        return String.format("%n  %-24s answered %d, bridged %d, silent %d, closing-only %d", name,
                r.count("turns_answered", 0), r.heard(Heard.BRIDGED), r.heard(Heard.SILENT),
                r.heard(Heard.CLOSING_ONLY));
    }

    private Gateway start(int index, int port) {
        Map<String, String> values = new HashMap<>(Map.of("bootstrap.servers", broker.bootstrapServers(),
                "data.dir", dir.resolve("gateway-" + index).toString(), "http.port", String.valueOf(port),
                "node.id", "gateway-" + (char) ('a' + index), "retell.api-key", KEY, "socket.token", TOKEN,
                "topics.partitions", "4", "capacity.max-active-calls", "400", "agent.script.delay-ms", "300"));
        values.put("admin.port", "0");
        return new Gateway(GatewayConfig.of(values), Clock.systemUTC()).start();
    }

    private static void awaitReady(Gateway gateway) {
        await().atMost(READY).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
    }

    /** Waits until the drill had {@link #STEADY_TURNS} more turns answered. */
    private static void awaitSteadyTurns(Drill drill) {
        long from = drill.report().count("turns_answered", 0);
        await().atMost(Duration.ofSeconds(60))
                .until(() -> drill.report().count("turns_answered", 0) >= from + STEADY_TURNS);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
