package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.callguard.app.config.GatewayConfig;
import io.callguard.common.RecordLimits;
import io.callguard.ingress.IngressMetrics;
import io.callguard.processor.ProcessorMetrics;
import io.callguard.schemas.ArchiveReason;
import io.callguard.schemas.CallArchive;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.CallState;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topics;
import io.callguard.testkit.GeneratedCalls;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import io.callguard.testkit.TopicReader;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway under abuse and under Retell's largest webhooks: real broker, real Jetty, real Kafka Streams, raw
 * trickling TCP clients and real WebSocket clients over loopback, in this test's JVM.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GatewayUnderAbuseIT {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayUnderAbuseIT.class);
    private static final String API_KEY = "abuse-secret-key";
    private static final String TOKEN = "abuse-socket-token";
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Bodies and headers held for this long before they are judged, so that every trickler is open at once. */
    private static final long DEADLINE_MS = 15_000;
    private static final int BODY_TRICKLERS = 2_500;
    private static final int HEADER_TRICKLERS = 500;
    private static final int IDLE_SOCKETS = 200;
    private static final int DECLARED_BODY = 1_048_576;

    @TempDir
    static Path dataDir;

    private Gateway gateway;
    private Topics topics;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final WebSocketClient sockets = new WebSocketClient();

    @BeforeAll
    void startGateway() throws Exception {
        // Default limits, but for the trickling deadlines (long enough to hold 3,000 connections at once and
        // measure them) and socket idle time (the test's idle sockets stay silent throughout).
        GatewayConfig config = GatewayConfig.of(Map.ofEntries(Map.entry("data.dir", dataDir.toString()),
                Map.entry("broker.port", "0"), Map.entry("http.port", "0"), Map.entry("admin.port", "0"), Map.entry("retell.api-key", API_KEY),
                Map.entry("socket.token", TOKEN), Map.entry("topics.partitions", "2"),
                Map.entry("socket.begin-message", "greeting"), Map.entry("capacity.max-active-calls", "1000"),
                Map.entry("socket.idle-timeout-ms", "60000"),
                Map.entry("webhook.body-rate-grace-ms", String.valueOf(DEADLINE_MS)),
                Map.entry("http.header-timeout-ms", String.valueOf(DEADLINE_MS))));
        topics = config.common().topics();
        gateway = new Gateway(config, Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        // Retell's side of a socket has no idle timeout of its own; Jetty's client would close a silent one at 30 s.
        sockets.setIdleTimeout(Duration.ofMinutes(5));
        sockets.start();
    }

    @AfterAll
    void stopGateway() throws Exception {
        sockets.stop();
        if (gateway != null) {
            gateway.close();
        }
    }

    @Test
    void shouldTakeAThreeHourCallsEndOfCallWebhooksWholeAndArchiveTheCall() throws Exception {
        // Given a call, and its call_ended and call_analyzed after three hours: the whole transcript three times
        String callId = "call-3h";
        String started = RetellWebhooks.body("call_started", callId);
        String ended = GeneratedCalls.callEnded(callId, Duration.ofHours(3), 11);
        String analyzed = GeneratedCalls.callAnalyzed(callId, Duration.ofHours(3), 11);
        LOG.info("generated 3-hour call_ended: {} bytes", utf8(ended).length);
        assertThat(utf8(ended).length).isGreaterThan(2_000_000);

        // When Retell delivers them, signed
        assertThat(post(started).statusCode()).isEqualTo(200);
        assertThat(post(ended).statusCode()).isEqualTo(200);
        assertThat(post(analyzed).statusCode()).isEqualTo(200);

        // Then both are on call-events whole, byte for byte the JSON Retell sent
        try (TopicReader<CallEvent> events = reader(topics.callEvents().name(), topics.callEvents());
             TopicReader<CallArchive> archive = reader(topics.callArchive().name(), topics.callArchive())) {
            await().atMost(WAIT).until(() -> events.valuesFor(callId).size() == 3);
            List<CallEvent> onTopic = events.valuesFor(callId);
            assertThat(onTopic.get(1).payload()).isEqualTo(Json.mapper().readTree(ended));
            assertThat(onTopic.get(2).payload()).isEqualTo(Json.mapper().readTree(analyzed));

            // And the processor folded them: the call ended, analyzed and archived, no output record skipped
            await().atMost(WAIT).until(() -> gateway.processor().callState(callId)
                    .map(s -> s.ended() && s.analyzed()).orElse(false));
            // (the state keeps the transcript's length, not the transcript: its changelog record stays small)
            CallState state = gateway.processor().callState(callId).orElseThrow();
            assertThat(state.transcriptLength()).isEqualTo(Json.mapper().readTree(ended).path("call")
                    .path("transcript_object").size());
            assertThat(topics.callState().valueSerde().serializer().serialize(topics.callState().name(), state))
                    .hasSizeLessThan(16 * 1024);
            await().atMost(WAIT).until(() -> !archive.valuesFor(callId).isEmpty());
            assertThat(archive.valuesFor(callId)).extracting(CallArchive::reason).containsExactly(ArchiveReason.ENDED);
        }
        assertThat(meters().find(ProcessorMetrics.PRODUCTION_ERRORS_SKIPPED).counters()).isEmpty();
    }

    @Test
    void shouldCreateTopicsForTheLargestRecordAndRefuseAnExistingOneThatIsTooSmallNamingIt() throws Exception {
        int maxRecord = RecordLimits.maxRecordBytes(RecordLimits.DEFAULT_MAX_BODY_BYTES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", gateway.bootstrapServers()))) {
            // Given the gateway's own topics, and another deployment's call-events made with Kafka's 1 MB limit
            ConfigResource ours = new ConfigResource(ConfigResource.Type.TOPIC, topics.callEvents().name());
            Topics small = Topics.withPrefix("small.");
            ConfigResource smallEvents = new ConfigResource(ConfigResource.Type.TOPIC, small.callEvents().name());
            admin.createTopics(List.of(new NewTopic(small.callEvents().name(), 1, (short) 1)
                    .configs(Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, "1048588")))).all().get(30, TimeUnit.SECONDS);
            io.callguard.common.TopicReplication one = new io.callguard.common.TopicReplication((short) 1, -1);

            // Then ours take the largest record
            assertThat(maxMessageBytes(admin, ours)).isEqualTo(String.valueOf(maxRecord));

            // When that deployment's topics are ensured on a cluster callguard does not run, its start is refused,
            // naming the topic, its limit, the one needed, the command that raises it and the body limit that fits
            int fits = RecordLimits.maxBodyBytesFor(1048588);
            assertThatThrownBy(() -> TopicBootstrap.ensure(admin, small, 1, one, 60_000, maxRecord, List.of(), 30_000))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("topic " + small.callEvents().name() + " has max.message.bytes=1048588")
                    .hasMessageContaining(String.valueOf(maxRecord))
                    .hasMessageContaining("--entity-name " + small.callEvents().name() + " --add-config "
                            + "max.message.bytes=" + maxRecord)
                    .hasMessageContaining("webhook.max-body-bytes=" + fits);
            assertThat(RecordLimits.maxRecordBytes(fits)).isLessThanOrEqualTo(1048588);
            assertThat(RecordLimits.maxRecordBytes(fits + 1)).isGreaterThan(1048588);
            assertThat(maxMessageBytes(admin, smallEvents)).as("left as it was").isEqualTo("1048588");

            // And on a cluster callguard runs itself (the embedded broker), the topic's limit is raised instead
            TopicBootstrap.ensure(admin, small, 1, one, 60_000, maxRecord, List.of(), 30_000, true);
            await().atMost(WAIT).untilAsserted(() -> assertThat(maxMessageBytes(admin, smallEvents))
                    .isEqualTo(String.valueOf(maxRecord)));
        }
    }

    private static String maxMessageBytes(Admin admin, ConfigResource topic) throws Exception {
        return admin.describeConfigs(List.of(topic)).all().get(30, TimeUnit.SECONDS).get(topic)
                .get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value();
    }

    @Test
    void shouldStayBoundedUnderThousandsOfTricklingConnectionsAndKeepAnsweringALiveCall() throws Exception {
        // Given a live call whose turns are answered
        RetellSocketClient live = RetellSocketClient.connect(sockets, gateway.httpUri(), "call-live", TOKEN);
        live.nextComplete(0, WAIT);
        long turn = 1;
        live.sendResponseRequired(turn, "warm up");
        live.nextComplete(turn++, WAIT);
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long heapBefore = usedHeapAfterGc(memory);

        // When 200 LLM WebSockets open and stay silent, 2,500 clients send a 1 MiB webhook's headers and one byte of
        // its body, and 500 send half a request's headers
        List<RetellSocketClient> idle = new ArrayList<>();
        for (int i = 0; i < IDLE_SOCKETS; i++) {
            idle.add(RetellSocketClient.connect(sockets, gateway.httpUri(), "call-idle-" + i, TOKEN));
        }
        InetSocketAddress address = new InetSocketAddress(gateway.httpUri().getHost(), gateway.httpUri().getPort());
        long openingStarted = System.nanoTime();
        try (Tricklers bodies = Tricklers.open(address, BODY_TRICKLERS, ("POST /webhook HTTP/1.1\r\nHost: gateway\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + DECLARED_BODY + "\r\n\r\n{"));
             Tricklers headers = Tricklers.open(address, HEADER_TRICKLERS,
                     "POST /webhook HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")) {
            long openedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - openingStarted);
            // Every body's first byte is held by the server, and every connection is open.
            await().atMost(WAIT).until(() -> gauge(IngressMetrics.WEBHOOK_BODY_IN_FLIGHT) >= BODY_TRICKLERS);
            double connections = gauge(IngressMetrics.HTTP_CONNECTIONS);
            long heapHeld = usedHeapAfterGc(memory);
            long growth = heapHeld - heapBefore;
            LOG.info("abuse: {} body + {} header tricklers opened in {} ms, {} idle sockets; public connections {}; "
                    + "used heap after GC {} MB before, {} MB with them held: +{} MB ({} KB a connection, both ends)",
                    BODY_TRICKLERS, HEADER_TRICKLERS, openedMs, IDLE_SOCKETS, (long) connections, mb(heapBefore),
                    mb(heapHeld), mb(growth), growth / 1024 / (BODY_TRICKLERS + HEADER_TRICKLERS + IDLE_SOCKETS));

            // Then the heap holds them at a small, bounded cost: buffers sized from Content-Length would have taken
            // 2,500 MiB for the bodies alone (more than this JVM's 1 GiB heap)
            assertThat(connections).isGreaterThanOrEqualTo(BODY_TRICKLERS + HEADER_TRICKLERS + IDLE_SOCKETS);
            assertThat(growth).as("heap growth, bytes").isLessThan(100L * 1024 * 1024);

            // And while they trickle a byte now and then, the live call's turns keep being answered, until the
            // deadlines have cut every trickler
            long cutStarted = System.nanoTime();
            long deadline = cutStarted + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS) + WAIT.toNanos();
            Map<Long, Long> askedAt = new java.util.LinkedHashMap<>();
            while ((bodies.closedByServer() < BODY_TRICKLERS || headers.closedByServer() < HEADER_TRICKLERS)
                    && System.nanoTime() < deadline) {
                bodies.trickle();
                headers.trickle();
                askedAt.put(turn, live.sendResponseRequired(turn, "question " + turn));
                live.nextComplete(turn++, WAIT);
            }
            long cutMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutStarted);
            assertThat(bodies.closedByServer()).as("body tricklers cut").isEqualTo(BODY_TRICKLERS);
            assertThat(headers.closedByServer()).as("header tricklers cut").isEqualTo(HEADER_TRICKLERS);

            // And every one of those turns was answered whole: one complete frame, the backend's answer to it (a
            // filler before it at most, never the closing line), its first words within the first-words deadline
            // (the watchdog's closing line would come then; the budget is not asserted on a loaded CI host)
            long firstWordsDeadlineMs = gateway.config().common().turnFirstWordsDeadlineMs();
            String closingLine = gateway.config().common().turnFallbackMessage();
            long slowestFirstWordsMs = 0;
            for (Map.Entry<Long, Long> asked : askedAt.entrySet()) {
                long id = asked.getKey();
                List<RetellSocketClient.Frame> frames = live.received().stream()
                        .filter(f -> "response".equals(f.json().path("response_type").asText())
                                && f.json().path("response_id").asLong() == id).toList();
                String heard = frames.stream().map(f -> f.json().path("content").asText()).reduce("", String::concat);
                assertThat(frames).as("turn %d: %s", id, heard)
                        .filteredOn(f -> f.json().path("content_complete").asBoolean()).hasSize(1);
                assertThat(heard).as("turn %d", id).contains("You said: question " + id).doesNotContain(closingLine);
                long firstWordsMs = frames.stream().filter(f -> !f.json().path("content").asText().isEmpty())
                        .findFirst().map(f -> TimeUnit.NANOSECONDS.toMillis(f.atNanos() - asked.getValue()))
                        .orElseThrow();
                slowestFirstWordsMs = Math.max(slowestFirstWordsMs, firstWordsMs);
            }
            LOG.info("abuse: every trickler cut {} ms after the measurement; {} turns of the live call answered whole "
                    + "meanwhile, first words in {} ms at the slowest", cutMs, askedAt.size(), slowestFirstWordsMs);
            assertThat(askedAt).as("turns asked while the tricklers were held").isNotEmpty();
            assertThat(slowestFirstWordsMs).as("the slowest turn's first words, ms")
                    .isLessThan(firstWordsDeadlineMs);
        }

        // And the cuts were the deadlines', counted; the idle sockets and the live call are still open
        assertThat(rejected("body_too_slow")).isGreaterThanOrEqualTo(BODY_TRICKLERS);
        assertThat(meters().find(IngressMetrics.HTTP_HEADER_TIMEOUTS).functionCounter())
                .extracting(FunctionCounter::count).isEqualTo((double) HEADER_TRICKLERS);
        await().atMost(WAIT).until(() -> gauge(IngressMetrics.WEBHOOK_BODY_IN_FLIGHT) == 0);
        assertThat(idle).allMatch(RetellSocketClient::isOpen);
        live.sendResponseRequired(turn, "still there?");
        live.nextComplete(turn, WAIT);
        idle.forEach(RetellSocketClient::close);
        live.close();
    }

    /**
     * Raw TCP clients that sent a prefix and then trickle: one byte each now and then, never the rest. Reads what the
     * server sends them, to count the connections the server closed.
     */
    private static final class Tricklers implements AutoCloseable {
        private final Selector selector;
        private final List<SocketChannel> open = new ArrayList<>();
        private final ByteBuffer sink = ByteBuffer.allocate(4_096);
        private int closedByServer;

        private Tricklers(Selector selector) {
            this.selector = selector;
        }

        static Tricklers open(InetSocketAddress address, int count, String prefix) throws IOException {
            Tricklers tricklers = new Tricklers(Selector.open());
            byte[] bytes = prefix.getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < count; i++) {
                SocketChannel channel = SocketChannel.open(address);
                channel.write(ByteBuffer.wrap(bytes));
                channel.configureBlocking(false);
                channel.register(tricklers.selector, SelectionKey.OP_READ);
                tricklers.open.add(channel);
            }
            return tricklers;
        }

        /** One more byte on every connection still open. */
        void trickle() {
            for (SocketChannel channel : open) {
                try {
                    channel.write(ByteBuffer.wrap(new byte[] {'x'}));
                } catch (IOException e) {
                    // Closed by the server; counted when read.
                }
            }
        }

        /** Connections the server closed so far (their stream ended or was reset). */
        int closedByServer() throws IOException {
            selector.selectNow();
            Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
            while (keys.hasNext()) {
                SelectionKey key = keys.next();
                keys.remove();
                SocketChannel channel = (SocketChannel) key.channel();
                if (ended(channel)) {
                    key.cancel();
                    channel.close();
                    open.remove(channel);
                    closedByServer++;
                }
            }
            return closedByServer;
        }

        private boolean ended(SocketChannel channel) {
            try {
                int read;
                do {
                    sink.clear();
                    read = channel.read(sink);
                } while (read > 0);
                return read < 0;
            } catch (IOException e) {
                return true;
            }
        }

        @Override
        public void close() throws IOException {
            for (SocketChannel channel : open) {
                channel.close();
            }
            selector.close();
        }
    }

    private static long usedHeapAfterGc(MemoryMXBean memory) {
        memory.gc();
        memory.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }

    private static long mb(long bytes) {
        return bytes / (1024 * 1024);
    }

    private MeterRegistry meters() {
        return gateway.meters();
    }

    private double gauge(String name) {
        return meters().find(name).gauge().value();
    }

    private double rejected(String reason) {
        Counter counter = meters().find(IngressMetrics.WEBHOOKS_REJECTED).tag(IngressMetrics.TAG_REASON, reason)
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private HttpResponse<String> post(String body) throws Exception {
        return http.send(HttpRequest.newBuilder(gateway.httpUri().resolve("/webhook"))
                .timeout(Duration.ofSeconds(15)).header("content-type", "application/json")
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, utf8(body), System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(utf8(body))).build(), HttpResponse.BodyHandlers.ofString());
    }

    private <V> TopicReader<V> reader(String topic, io.callguard.schemas.Topic<String, V> descriptor) {
        return new TopicReader<>(gateway.bootstrapServers(), topic, descriptor.valueSerde().deserializer());
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
