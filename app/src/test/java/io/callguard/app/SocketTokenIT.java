package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import io.callguard.app.config.GatewayConfig;
import io.callguard.testkit.RetellSocketClient;
import io.callguard.testkit.RetellWebhooks;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The socket token without {@code socket.token}: made once, kept owner-only in the data dir, the same after a restart
 * on it, printed on the ready line and in no log line, callguard's own at every level included; and no dial-out
 * URL's secret either, in the lines that name the URL or in the errors of a refused dial.
 */
@Tag("integration")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SocketTokenIT {

    private static final String API_KEY = "token-it-api-key";
    /** The agent side's secret in the dial-out URL. */
    private static final String DIAL_SECRET = "dial-secret-7f3e91c2a4";
    private static final Pattern READY_TOKEN = Pattern.compile(" socket=ws://\\S+/llm-websocket/\\{call_id}\\?token=(\\S+)$");
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;

    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final Logger callguard = (Logger) LoggerFactory.getLogger("io.callguard");
    private final Logger jetty = (Logger) LoggerFactory.getLogger("org.eclipse.jetty");
    private Level callguardLevel;
    private Level jettyLevel;
    private final Server platform = new Server();
    private final List<Session> dialled = new CopyOnWriteArrayList<>();
    private final WebSocketClient retell = new WebSocketClient();
    private final List<Gateway> gateways = new ArrayList<>();

    /** The agent side of a dialled socket: records the session so the test can speak on it. */
    public final class PlatformSide implements Session.Listener.AutoDemanding {
        final List<String> received = new CopyOnWriteArrayList<>();

        @Override
        public void onWebSocketOpen(Session session) {
            dialled.add(session);
        }

        @Override
        public void onWebSocketText(String message) {
            received.add(message);
        }
    }

    @BeforeEach
    void captureEveryLogLine() throws Exception {
        // Every line callguard writes, debug included, and Jetty's from info up
        callguardLevel = callguard.getLevel();
        jettyLevel = jetty.getLevel();
        callguard.setLevel(Level.DEBUG);
        jetty.setLevel(Level.INFO);
        logs.start();
        root.addAppender(logs);
        retell.start();
    }

    @AfterEach
    void stop() throws Exception {
        retell.stop();
        for (int i = gateways.size() - 1; i >= 0; i--) {
            gateways.get(i).close();
        }
        platform.stop();
        root.detachAppender(logs);
        callguard.setLevel(callguardLevel);
        jetty.setLevel(jettyLevel);
    }

    @Test
    void shouldKeepOneTokenPerDataDirPrintItOnTheReadyLineOnlyAndLogNoSecret() throws Exception {
        // Given an agent platform that refuses the first dial of each call (403) and accepts the next,
        // except for one call it always refuses
        int platformPort = startPlatform();
        Map<String, String> settings = new HashMap<>(Map.of("data.dir", dataDir.toString(), "broker.port", "0",
                "http.port", "0", "retell.api-key", API_KEY, "topics.partitions", "2", "dialout.enabled", "true",
                "dialout.url-template", "ws://127.0.0.1:" + platformPort + "/agent/{call_id}?token=" + DIAL_SECRET,
                "dialout.initial-backoff-ms", "50", "dialout.max-attempts", "2"));
        settings.put("admin.port", "0");

        // When a gateway with no socket.token starts on an empty data dir
        Gateway first = start(settings);

        // Then its ready line carries a URL-safe token, which is the one kept owner-only in the data dir
        String token = readyToken(first);
        assertThat(token).matches("[A-Za-z0-9_-]{32}").isEqualTo(first.socketToken());
        Path file = dataDir.resolve(SocketTokenFile.FILE_NAME);
        assertThat(Files.readString(file).trim()).isEqualTo(token);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

        // And the token opens the socket, which gets its begin message; a wrong one is refused
        assertThat(refusedWith401(first, "not-the-token-at-all")).isTrue();
        RetellSocketClient call = RetellSocketClient.connect(retell, first.httpUri(), "call-in", token);
        call.next("response", WAIT);
        call.cut();

        // And a dial-out refused once is redialled and answered, one refused every time is given up on
        assertThat(webhook(first, "call_started", "call-out")).isEqualTo(200);
        assertThat(webhook(first, "call_started", "call-refused")).isEqualTo(200);
        // (the dial-in call is dialled too, admitted like any other: dial-out works besides dial-in)
        await().atMost(WAIT).until(() -> dialled.size() == 2);
        await().atMost(WAIT).until(() -> logged("call call-refused: dial-out to ") != null);
        await().atMost(WAIT).until(() -> logged("call call-out: dial-out attempt 1 failed") != null);

        // When the gateway stops and another starts on the same data dir
        first.close();
        gateways.remove(first);
        Gateway second = start(settings);

        // Then it has the same token, and the URL set in Retell's agent still opens the socket
        assertThat(readyToken(second)).isEqualTo(token);
        RetellSocketClient again = RetellSocketClient.connect(retell, second.httpUri(), "call-in", token);
        again.next("response", WAIT);
        again.close();

        // And no line logged by either carries the socket token or the dial-out secret, while the lines that name
        // the dial-out URL are there, redacted
        assertThat(logged("call call-refused: dial-out to ")).contains("?token=<redacted>")
                .contains("/agent/call-refused");
        List<String> lines = lines();
        assertThat(lines).hasSizeGreaterThan(50);
        assertThat(lines).noneMatch(l -> l.contains(token)).noneMatch(l -> l.contains(DIAL_SECRET))
                .noneMatch(l -> l.contains(API_KEY));
    }

    private Gateway start(Map<String, String> settings) {
        Gateway gateway = new Gateway(GatewayConfig.of(settings), Clock.systemUTC()).start();
        gateways.add(gateway);
        await().atMost(Duration.ofSeconds(90)).until(() -> Boolean.TRUE.equals(gateway.readiness().get("ready")));
        return gateway;
    }

    private static String readyToken(Gateway gateway) {
        Matcher m = READY_TOKEN.matcher(gateway.readyLine());
        assertThat(m.find()).as("a token on the ready line").isTrue();
        return m.group(1);
    }

    private int startPlatform() throws Exception {
        ServerConnector connector = new ServerConnector(platform);
        connector.setHost("127.0.0.1");
        platform.addConnector(connector);
        Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
        platform.setHandler(WebSocketUpgradeHandler.from(platform, container -> container.addMapping("/agent/*",
                (request, response, callback) -> {
                    String path = request.getHttpURI().getPath();
                    int attempt = attempts.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
                    if (attempt == 1 || path.endsWith("call-refused")) {
                        Response.writeError(request, response, callback, 403);
                        return null;
                    }
                    return new PlatformSide();
                })));
        platform.start();
        return connector.getLocalPort();
    }

    private boolean refusedWith401(Gateway gateway, String wrongToken) throws Exception {
        URI uri = URI.create(gateway.httpUri().toString().replaceFirst("^http", "ws") + "llm-websocket/call-x?token="
                + wrongToken);
        try {
            retell.connect(new PlatformSide(), uri).get(10, TimeUnit.SECONDS);
            return false;
        } catch (ExecutionException e) {
            return String.valueOf(e.getCause()).contains("401");
        }
    }

    private static int webhook(Gateway gateway, String event, String callId) throws Exception {
        byte[] raw = RetellWebhooks.body(event, callId).getBytes(StandardCharsets.UTF_8);
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(gateway.httpUri() + "webhook"))
                .header(RetellWebhooks.HEADER, RetellWebhooks.sign(API_KEY, raw, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(raw)).build(), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** The first captured line containing {@code text}, or null. */
    private String logged(String text) {
        return lines().stream().filter(l -> l.contains(text)).findFirst().orElse(null);
    }

    /** Every captured line as written: the message, and each cause's class and message with its stack frames. */
    private List<String> lines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : List.copyOf(logs.list)) {
            StringBuilder line = new StringBuilder(e.getLoggerName()).append(' ').append(e.getFormattedMessage());
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
                for (var frame : t.getStackTraceElementProxyArray()) {
                    line.append(' ').append(frame.getSTEAsString());
                }
            }
            out.add(line.toString());
        }
        return out;
    }
}
