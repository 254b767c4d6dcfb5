package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The processor's Node test upstream ({@code processor/src/test/node/upstream-server.js}, a team's custom-LLM server
 * written with {@code ws} against Retell's protocol, installed by the processor build) as a child process of an
 * app integration test. Its stdout's JSON lines (what it received) are collected.
 */
final class NodeUpstreamServer implements AutoCloseable {

    private static final Path SERVER = Path.of("..", "processor", "src", "test", "node", "upstream-server.js");

    private final Process process;
    private final int port;
    private final List<JsonNode> lines = new CopyOnWriteArrayList<>();

    private NodeUpstreamServer(int port, String... flags) throws Exception {
        assertThat(SERVER).as("the Node upstream (run the processor build first)").exists();
        assertThat(SERVER.resolveSibling("node_modules")).as("its npm packages").exists();
        List<String> command = new ArrayList<>(List.of("node", SERVER.toString(), String.valueOf(port)));
        command.addAll(List.of(flags));
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        this.port = listeningPort();
    }

    /** Starts the server on {@code port} (0: a free one) with the server's flags. */
    static NodeUpstreamServer start(int port, String... flags) throws Exception {
        return new NodeUpstreamServer(port, flags);
    }

    int port() {
        return port;
    }

    /** The {@code agent.upstream.url-template} for this server. */
    String urlTemplate() {
        return "ws://127.0.0.1:" + port + "/llm-websocket/{call_id}";
    }

    /** The frames the server received, in order, of one interaction type (null: all). */
    List<JsonNode> received(String interactionType) {
        List<JsonNode> frames = new ArrayList<>();
        for (JsonNode line : lines) {
            JsonNode frame = line.path("frame");
            if ("received".equals(line.path("event").asText()) && (interactionType == null
                    || interactionType.equals(frame.path("interaction_type").asText()))) {
                frames.add(frame);
            }
        }
        return frames;
    }

    /** The server dies at once, as in a crash: no close handshake, its sockets reset. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            kill();
        }
    }

    /** The port the server prints on its first line, {@code {"event":"listening","port":N}}; the rest is kept. */
    private int listeningPort() throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
        JsonNode first = CompletableFuture.supplyAsync(() -> {
            try {
                return Json.mapper().readTree(out.readLine());
            } catch (Exception e) {
                throw new IllegalStateException("the upstream printed no listening line", e);
            }
        }).get(20, TimeUnit.SECONDS);
        Thread reader = new Thread(() -> {
            try {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("{")) {
                        lines.add(Json.mapper().readTree(line));
                    }
                }
            } catch (Exception ignored) {
                // The process ended.
            }
        }, "upstream-stdout");
        reader.setDaemon(true);
        reader.start();
        assertThat(first.path("event").asText()).isEqualTo("listening");
        return first.path("port").asInt();
    }
}
