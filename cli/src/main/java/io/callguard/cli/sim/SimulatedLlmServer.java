package io.callguard.cli.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.callguard.processor.responder.ScriptBackend;
import io.callguard.processor.responder.SimulatedStream;
import io.callguard.schemas.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A simulated LLM behind an OpenAI-compatible {@code POST /v1/chat/completions}: it answers as the {@code script}
 * backend does (the greeting with no user message, else {@code You said: <last user message>}) and streams it as a
 * {@link SimulatedStream} plans it, with Server-Sent Events as OpenAI streams ({@code chat.completion.chunk}
 * objects, a last chunk with {@code finish_reason}, then {@code data: [DONE]}). A hang sends the headers and then only an SSE
 * keep-alive comment every 5 s until the client gives up; an error answers HTTP 500 at the first-chunk time; {@code "stream": false}
 * gets one {@code chat.completion} at the time of the last chunk.
 *
 * <p>Uses the JDK's HTTP server (Jetty server code stays in ingress). Bodies over 1 MiB get 413, other paths 404,
 * other methods 405, a body that is not a JSON object with {@code messages} 400. Timing runs on real time: this is
 * a stand-in for a remote server, measured from outside.
 */
public final class SimulatedLlmServer implements AutoCloseable {

    /** Where the completions endpoint is served. */
    public static final String PATH = "/v1/chat/completions";
    static final int MAX_BODY_BYTES = 1 << 20;
    static final long KEEP_ALIVE_MS = 5_000;
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8);

    private static final Logger LOG = LoggerFactory.getLogger(SimulatedLlmServer.class);

    private final long keepAliveMs;
    private final SimulatedStream stream;
    private final String greeting;
    private final RandomGenerator random;
    private final HttpServer server;
    private final ExecutorService handlers;
    private final ScheduledExecutorService writers;
    private final Set<HttpExchange> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();

    /**
     * Binds the server; {@link #start()} serves.
     *
     * @param port 0 for any free port
     * @throws IOException when the address cannot be bound
     */
    public SimulatedLlmServer(String host, int port, SimulatedStream stream, String greeting, RandomGenerator random)
            throws IOException {
        this(host, port, stream, greeting, random, KEEP_ALIVE_MS);
    }

    SimulatedLlmServer(String host, int port, SimulatedStream stream, String greeting, RandomGenerator random,
            long keepAliveMs) throws IOException {
        this.keepAliveMs = keepAliveMs;
        this.stream = Objects.requireNonNull(stream, "stream");
        this.greeting = Objects.requireNonNull(greeting, "greeting");
        this.random = Objects.requireNonNull(random, "random");
        this.server = HttpServer.create(new InetSocketAddress(host, port), 1024);
        this.handlers = Executors.newFixedThreadPool(4, daemon("callguard-sim-llm-http"));
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(4, daemon("callguard-sim-llm-stream"));
        timers.setRemoveOnCancelPolicy(true);
        this.writers = timers;
        server.setExecutor(handlers);
        server.createContext("/", this::handle);
    }

    public SimulatedLlmServer start() {
        server.start();
        LOG.info("sim-llm serving {}", uri());
        return this;
    }

    /** The completions endpoint's URL. */
    public URI uri() {
        InetSocketAddress address = server.getAddress();
        return URI.create("http://" + address.getHostString() + ":" + address.getPort() + PATH);
    }

    /** Requests taken so far. */
    public long requests() {
        return requests.get();
    }

    /** Streams still open (answers under way and hangs). */
    public int openStreams() {
        return open.size();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            if (!PATH.equals(exchange.getRequestURI().getPath())) {
                error(exchange, 404, "no such endpoint: use POST " + PATH);
                return;
            }
            if (!"POST".equals(exchange.getRequestMethod())) {
                exchange.getResponseHeaders().add("Allow", "POST");
                error(exchange, 405, "use POST");
                return;
            }
            byte[] body = readBounded(exchange.getRequestBody());
            if (body == null) {
                error(exchange, 413, "body over " + MAX_BODY_BYTES + " bytes");
                return;
            }
            JsonNode request;
            try {
                request = Json.mapper().readTree(body);
            } catch (IOException e) {
                error(exchange, 400, "body is not JSON");
                return;
            }
            if (request == null || !request.isObject() || !request.path("messages").isArray()) {
                error(exchange, 400, "body must be a JSON object with a 'messages' array");
                return;
            }
            requests.incrementAndGet();
            serve(exchange, request);
        } catch (IOException | RuntimeException e) {
            LOG.debug("sim-llm request failed: {}", e.toString());
            exchange.close();
        }
    }

    private void serve(HttpExchange exchange, JsonNode request) throws IOException {
        SimulatedStream.Plan plan;
        synchronized (random) {
            plan = stream.plan(answerTo(request), random);
        }
        String model = request.path("model").asText("sim-llm");
        boolean streamed = request.path("stream").asBoolean(false);
        String id = "chatcmpl-sim-" + ids.incrementAndGet();
        switch (plan.outcome()) {
            case HANG:
                // Headers, then nothing: what a browned-out provider does. The client's time limit ends it.
                open.add(exchange);
                exchange.getResponseHeaders().add("Content-Type", streamed ? "text/event-stream" : "application/json");
                exchange.sendResponseHeaders(200, 0);
                exchange.getResponseBody().flush();
                keepAlive(exchange);
                return;
            case ERROR:
                open.add(exchange);
                writers.schedule(() -> {
                    try {
                        error(exchange, 500, "simulated server error");
                    } catch (IOException e) {
                        LOG.debug("sim-llm error reply not sent: {}", e.toString());
                    } finally {
                        open.remove(exchange);
                    }
                }, plan.atMs().get(0), TimeUnit.MILLISECONDS);
                return;
            default:
                open.add(exchange);
                if (streamed) {
                    exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
                    exchange.getResponseHeaders().add("Cache-Control", "no-cache");
                    exchange.sendResponseHeaders(200, 0);
                    exchange.getResponseBody().flush();
                    streamChunk(exchange, plan, 0, 0, id, model);
                } else {
                    long last = plan.atMs().isEmpty() ? 0 : plan.atMs().get(plan.atMs().size() - 1);
                    writers.schedule(() -> whole(exchange, plan, id, model), last, TimeUnit.MILLISECONDS);
                }
        }
    }

    private void streamChunk(HttpExchange exchange, SimulatedStream.Plan plan, int i, long elapsedMs, String id,
            String model) {
        long delay = i < plan.atMs().size() ? plan.atMs().get(i) - elapsedMs : 0;
        writers.schedule(() -> {
            try {
                OutputStream out = exchange.getResponseBody();
                if (i < plan.chunks().size()) {
                    out.write(event(chunk(id, model, plan.chunks().get(i), i == 0, null)));
                    out.flush();
                    streamChunk(exchange, plan, i + 1, plan.atMs().get(i), id, model);
                    return;
                }
                out.write(event(chunk(id, model, null, false, "stop")));
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                finish(exchange);
            } catch (IOException e) {
                // The client went away (a cancelled turn): stop streaming to it.
                finish(exchange);
            }
        }, Math.max(0, delay), TimeUnit.MILLISECONDS);
    }

    /** An SSE comment now and then, as providers send while they think: it also finds a client that left. */
    private void keepAlive(HttpExchange exchange) {
        writers.schedule(() -> {
            try {
                exchange.getResponseBody().write(KEEP_ALIVE);
                exchange.getResponseBody().flush();
                keepAlive(exchange);
            } catch (IOException e) {
                finish(exchange);
            }
        }, keepAliveMs, TimeUnit.MILLISECONDS);
    }

    private void whole(HttpExchange exchange, SimulatedStream.Plan plan, String id, String model) {
        try {
            ObjectNode reply = Json.mapper().createObjectNode().put("id", id).put("object", "chat.completion")
                    .put("created", System.currentTimeMillis() / 1000).put("model", model);
            ObjectNode choice = reply.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("message").put("role", "assistant").put("content", plan.text());
            choice.put("finish_reason", "stop");
            byte[] bytes = Json.mapper().writeValueAsBytes(reply);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, bytes.length);
            exchange.getResponseBody().write(bytes);
        } catch (IOException e) {
            LOG.debug("sim-llm answer not sent: {}", e.toString());
        } finally {
            finish(exchange);
        }
    }

    private void finish(HttpExchange exchange) {
        open.remove(exchange);
        exchange.close();
    }

    private String answerTo(JsonNode request) {
        String last = null;
        for (JsonNode message : request.path("messages")) {
            if ("user".equals(message.path("role").asText())) {
                last = message.path("content").asText("");
            }
        }
        return last == null ? greeting : ScriptBackend.ECHO_PREFIX + last;
    }

    private static byte[] chunk(String id, String model, String content, boolean first, String finishReason) {
        ObjectNode chunk = Json.mapper().createObjectNode().put("id", id).put("object", "chat.completion.chunk")
                .put("created", System.currentTimeMillis() / 1000).put("model", model);
        ObjectNode choice = chunk.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (first) {
            delta.put("role", "assistant");
        }
        if (content != null) {
            delta.put("content", content);
        }
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        try {
            return Json.mapper().writeValueAsBytes(chunk);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write a completion chunk", e);
        }
    }

    private static byte[] event(byte[] json) {
        byte[] out = new byte[json.length + 8];
        System.arraycopy("data: ".getBytes(StandardCharsets.UTF_8), 0, out, 0, 6);
        System.arraycopy(json, 0, out, 6, json.length);
        out[out.length - 2] = '\n';
        out[out.length - 1] = '\n';
        return out;
    }

    private static void error(HttpExchange exchange, int status, String message) throws IOException {
        ObjectNode body = Json.mapper().createObjectNode();
        body.putObject("error").put("message", message).put("type", status >= 500 ? "server_error" : "invalid_request");
        byte[] bytes = Json.mapper().writeValueAsBytes(body);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    /** The body, or null when it is over {@link #MAX_BODY_BYTES}. */
    private static byte[] readBounded(InputStream in) throws IOException {
        byte[] bytes = in.readNBytes(MAX_BODY_BYTES + 1);
        return bytes.length > MAX_BODY_BYTES ? null : bytes;
    }

    /** Stops serving at once: open streams and hangs are cut. */
    @Override
    public void close() {
        server.stop(0);
        for (HttpExchange exchange : open) {
            exchange.close();
        }
        open.clear();
        writers.shutdownNow();
        handlers.shutdownNow();
    }

    private static java.util.concurrent.ThreadFactory daemon(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
