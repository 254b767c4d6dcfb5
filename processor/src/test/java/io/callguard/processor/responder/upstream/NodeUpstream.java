package io.callguard.processor.responder.upstream;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The Node test upstream ({@code src/test/node/upstream-server.js}, a team's server written against Retell's
 * protocol) as a child process: started on a port (0: a free one), its stdout's JSON lines collected.
 */
final class NodeUpstream implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START_TIMEOUT = Duration.ofSeconds(15);

    private final Process process;
    private final List<JsonNode> lines = new CopyOnWriteArrayList<>();
    private final int port;

    private NodeUpstream(int port, String... flags) {
        Path dir = nodeDir();
        List<String> command = new ArrayList<>(List.of("node", "upstream-server.js", Integer.toString(port)));
        command.addAll(List.of(flags));
        try {
            process = new ProcessBuilder(command).directory(dir.toFile())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node (node 18+ must be on the PATH)", e);
        }
        Thread reader = new Thread(this::read, "node-upstream-stdout");
        reader.setDaemon(true);
        reader.start();
        await().atMost(START_TIMEOUT).until(() -> !events("listening").isEmpty() || !process.isAlive());
        if (!process.isAlive()) {
            throw new IllegalStateException("the node upstream exited with " + process.exitValue()
                    + " (did `npm ci` run in " + dir + "?)");
        }
        this.port = events("listening").get(0).path("port").asInt();
    }

    /** Starts the server on {@code port} (0: any free one) with the given flags (e.g. {@code --no-hang}). */
    static NodeUpstream start(int port, String... flags) {
        return new NodeUpstream(port, flags);
    }

    int port() {
        return port;
    }

    /** The backend's URL template for this server. */
    String urlTemplate() {
        return "ws://127.0.0.1:" + port + "/llm-websocket/{call_id}";
    }

    /** Every line of one event kind ({@code listening}, {@code connected}, {@code received}, {@code closed}). */
    List<JsonNode> events(String event) {
        List<JsonNode> matching = new ArrayList<>();
        for (JsonNode line : lines) {
            if (event.equals(line.path("event").asText())) {
                matching.add(line);
            }
        }
        return matching;
    }

    /** The frames the server received, in order, of one interaction type (null: all). */
    List<JsonNode> received(String interactionType) {
        List<JsonNode> frames = new ArrayList<>();
        for (JsonNode line : events("received")) {
            JsonNode frame = line.path("frame");
            if (interactionType == null || interactionType.equals(frame.path("interaction_type").asText())) {
                frames.add(frame);
            }
        }
        return frames;
    }

    /** The server process dies at once, as in a crash: its sockets are reset. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        kill();
    }

    private void read() {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                try {
                    lines.add(JSON.readTree(line));
                } catch (IOException e) {
                    // Not one of the server's JSON lines (a node warning): not part of what it recorded.
                }
            }
        } catch (IOException e) {
            // The process was killed.
        }
    }

    private static Path nodeDir() {
        Path base = Path.of(System.getProperty("basedir", "."));
        Path dir = base.resolve("src/test/node");
        if (!Files.isRegularFile(dir.resolve("upstream-server.js"))) {
            dir = Path.of("processor/src/test/node");
        }
        return dir.toAbsolutePath();
    }
}
