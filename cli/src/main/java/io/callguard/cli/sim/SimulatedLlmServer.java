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
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 * <p>Tool calls, for drills and benches of function calling: when the request offers tools and the last message is
 * the caller's, {@code bye} or {@code goodbye} calls {@code end_call}, {@code transfer} calls {@code transfer_call}
 * and {@code order} calls {@code lookup_order} (else the first tool that is neither), each only when offered, with
 * arguments made from the tool's schema. They stream as OpenAI streams them: the id and name first, the arguments
 * in three pieces, {@code finish_reason: tool_calls}. After a {@code tool} message the answer is
 * {@value #TOOL_FOLLOW_UP} and the result.
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
    /** What the answer after a tool's result starts with, then the result (at most 200 characters). */
    public static final String TOOL_FOLLOW_UP = "Here is what I found: ";
    static final String END_CALL = "end_call";
    static final String TRANSFER_CALL = "transfer_call";
    static final String LOOKUP_ORDER = "lookup_order";
    private static final Pattern BYE = Pattern.compile("\\b(good)?bye\\b", Pattern.CASE_INSENSITIVE);
    private static final Pattern TRANSFER = Pattern.compile("\\btransfer\\b", Pattern.CASE_INSENSITIVE);
    private static final Pattern ORDER = Pattern.compile("\\border\\b", Pattern.CASE_INSENSITIVE);
    private static final Pattern DIGITS = Pattern.compile("\\d+");

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
        ToolCall toolCall = toolCallFor(request);
        SimulatedStream.Plan plan;
        synchronized (random) {
            plan = stream.plan(toolCall != null ? toolCall.arguments() : answerTo(request), random);
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
                    if (toolCall != null) {
                        streamEvents(exchange, toolCallEvents(toolCall, plan, id, model), 0, 0);
                    } else {
                        streamEvents(exchange, textEvents(plan, id, model), 0, 0);
                    }
                } else {
                    long last = plan.atMs().isEmpty() ? 0 : plan.atMs().get(plan.atMs().size() - 1);
                    writers.schedule(() -> whole(exchange, plan, toolCall, id, model), last, TimeUnit.MILLISECONDS);
                }
        }
    }

    /** An SSE event to write at a time after the request. */
    private record Timed(long atMs, byte[] bytes) {
    }

    private static List<Timed> textEvents(SimulatedStream.Plan plan, String id, String model) {
        List<Timed> events = new ArrayList<>();
        for (int i = 0; i < plan.chunks().size(); i++) {
            ObjectNode chunk = chunk(id, model, null);
            delta(chunk, i == 0).put("content", plan.chunks().get(i));
            events.add(new Timed(plan.atMs().get(i), event(chunk)));
        }
        long end = events.isEmpty() ? 0 : events.get(events.size() - 1).atMs();
        events.add(new Timed(end, finish(id, model, "stop")));
        return events;
    }

    /**
     * A tool call as OpenAI streams it: the id and name (arguments empty) at the first chunk's time, then the
     * arguments in three pieces a chunk gap apart, then {@code finish_reason: tool_calls}.
     */
    private List<Timed> toolCallEvents(ToolCall call, SimulatedStream.Plan plan, String id, String model) {
        List<Timed> events = new ArrayList<>();
        long t = plan.atMs().isEmpty() ? 0 : plan.atMs().get(0);
        ObjectNode first = chunk(id, model, null);
        ObjectNode item = delta(first, true).putNull("content").putArray("tool_calls").addObject().put("index", 0)
                .put("id", llmCallId()).put("type", "function");
        item.putObject("function").put("name", call.name()).put("arguments", "");
        events.add(new Timed(t, event(first)));
        String arguments = call.arguments();
        int third = Math.max(1, arguments.length() / 3);
        int[] cuts = {0, Math.min(third, arguments.length()), Math.min(2 * third, arguments.length()),
            arguments.length()};
        for (int i = 0; i < 3; i++) {
            t += stream.chunkGapMs();
            ObjectNode next = chunk(id, model, null);
            delta(next, false).putArray("tool_calls").addObject().put("index", 0).putObject("function")
                    .put("arguments", arguments.substring(cuts[i], cuts[i + 1]));
            events.add(new Timed(t, event(next)));
        }
        events.add(new Timed(t, finish(id, model, "tool_calls")));
        return events;
    }

    private void streamEvents(HttpExchange exchange, List<Timed> events, int i, long elapsedMs) {
        long delay = events.get(i).atMs() - elapsedMs;
        writers.schedule(() -> {
            try {
                OutputStream out = exchange.getResponseBody();
                out.write(events.get(i).bytes());
                if (i + 1 < events.size()) {
                    out.flush();
                    streamEvents(exchange, events, i + 1, events.get(i).atMs());
                    return;
                }
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

    private void whole(HttpExchange exchange, SimulatedStream.Plan plan, ToolCall toolCall, String id,
            String model) {
        try {
            ObjectNode reply = Json.mapper().createObjectNode().put("id", id).put("object", "chat.completion")
                    .put("created", System.currentTimeMillis() / 1000).put("model", model);
            ObjectNode choice = reply.putArray("choices").addObject();
            choice.put("index", 0);
            ObjectNode message = choice.putObject("message").put("role", "assistant");
            if (toolCall == null) {
                message.put("content", plan.text());
                choice.put("finish_reason", "stop");
            } else {
                message.putNull("content");
                ObjectNode item = message.putArray("tool_calls").addObject()
                        .put("id", llmCallId()).put("type", "function");
                item.putObject("function").put("name", toolCall.name()).put("arguments", toolCall.arguments());
                choice.put("finish_reason", "tool_calls");
            }
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
        JsonNode messages = request.path("messages");
        JsonNode lastMessage = messages.size() == 0 ? null : messages.get(messages.size() - 1);
        if (lastMessage != null && "tool".equals(lastMessage.path("role").asText())) {
            String result = lastMessage.path("content").asText("");
            return TOOL_FOLLOW_UP + (result.length() <= 200 ? result : result.substring(0, 200));
        }
        String last = lastUserMessage(request);
        return last == null ? greeting : ScriptBackend.ECHO_PREFIX + last;
    }

    private static String lastUserMessage(JsonNode request) {
        String last = null;
        for (JsonNode message : request.path("messages")) {
            if ("user".equals(message.path("role").asText())) {
                last = message.path("content").asText("");
            }
        }
        return last;
    }

    /** A tool call the simulator makes in place of words. */
    record ToolCall(String name, String arguments) {
    }

    /**
     * The tool call a request asks for, or null for words: only when the last message is the caller's and it
     * triggers a tool the request offers ({@code bye}/{@code goodbye}: end_call; {@code transfer}: transfer_call;
     * {@code order}: {@code lookup_order}, else the first tool that is neither).
     */
    ToolCall toolCallFor(JsonNode request) {
        JsonNode messages = request.path("messages");
        if (messages.size() == 0 || !"user".equals(messages.get(messages.size() - 1).path("role").asText())) {
            return null;
        }
        Map<String, JsonNode> offered = new LinkedHashMap<>();
        for (JsonNode tool : request.path("tools")) {
            JsonNode function = tool.path("function");
            if (function.path("name").isTextual()) {
                offered.put(function.path("name").asText(), function.path("parameters"));
            }
        }
        if (offered.isEmpty()) {
            return null;
        }
        String said = messages.get(messages.size() - 1).path("content").asText("");
        if (BYE.matcher(said).find() && offered.containsKey(END_CALL)) {
            return new ToolCall(END_CALL, message("Thanks for calling. Goodbye!"));
        }
        if (TRANSFER.matcher(said).find() && offered.containsKey(TRANSFER_CALL)) {
            return new ToolCall(TRANSFER_CALL, message("Let me transfer you now."));
        }
        if (ORDER.matcher(said).find()) {
            String name = offered.containsKey(LOOKUP_ORDER) ? LOOKUP_ORDER : offered.keySet().stream()
                    .filter(n -> !END_CALL.equals(n) && !TRANSFER_CALL.equals(n)).findFirst().orElse(null);
            if (name != null) {
                return new ToolCall(name, argumentsFor(offered.get(name), said));
            }
        }
        return null;
    }

    /** A random id, as an LLM makes one for each tool call. */
    private String llmCallId() {
        synchronized (random) {
            return "call_" + Long.toHexString(random.nextLong());
        }
    }

    private static String message(String text) {
        return Json.mapper().createObjectNode().put("message", text).toString();
    }

    /**
     * Arguments that fit the tool's schema well enough: each declared property gets the digits in the utterance
     * (or {@code 12345}) when its name says id or number, a number or a boolean by its type, else the utterance.
     */
    private static String argumentsFor(JsonNode parameters, String said) {
        Matcher digits = DIGITS.matcher(said);
        String number = digits.find() ? digits.group() : "12345";
        ObjectNode arguments = Json.mapper().createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = parameters.path("properties").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> property = it.next();
            String type = property.getValue().path("type").asText("string");
            String name = property.getKey().toLowerCase(Locale.ROOT);
            switch (type) {
                case "integer", "number" -> arguments.put(property.getKey(), Long.parseLong(number));
                case "boolean" -> arguments.put(property.getKey(), true);
                default -> arguments.put(property.getKey(),
                        name.contains("id") || name.contains("number") ? number : said);
            }
        }
        return arguments.toString();
    }

    private static ObjectNode chunk(String id, String model, String finishReason) {
        ObjectNode chunk = Json.mapper().createObjectNode().put("id", id).put("object", "chat.completion.chunk")
                .put("created", System.currentTimeMillis() / 1000).put("model", model);
        ObjectNode choice = chunk.putArray("choices").addObject();
        choice.put("index", 0);
        choice.putObject("delta");
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        return chunk;
    }

    private static ObjectNode delta(ObjectNode chunk, boolean first) {
        ObjectNode delta = (ObjectNode) chunk.path("choices").get(0).path("delta");
        return first ? delta.put("role", "assistant") : delta;
    }

    private static byte[] finish(String id, String model, String reason) {
        return event(chunk(id, model, reason));
    }

    private static byte[] event(ObjectNode chunk) {
        try {
            return event(Json.mapper().writeValueAsBytes(chunk));
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
