package io.callguard.app.warmup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.callguard.schemas.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * An instant OpenAI-compatible chat-completions server on a loopback port, for the warm-up only: the warm-up's
 * {@code openai} backend streams from it exactly as from a hosted LLM (SSE {@code chat.completion.chunk} objects,
 * a last chunk with {@code finish_reason}, then {@code data: [DONE]}), so the backend's HTTP client and stream
 * parser are compiled without one request reaching the real, billed backend. It answers
 * {@code You said: <last user message>} in a few chunks. The JDK's own HTTP server: nothing here is public, and
 * Jetty's server belongs to the ingress.
 */
public final class LoopbackLlm implements AutoCloseable {

    /** Path of the endpoint, as OpenAI's. */
    public static final String PATH = "/v1/chat/completions";
    private static final int CHUNKS = 6;

    private final HttpServer server;
    private final ExecutorService threads;
    private final Function<JsonNode, String> answerer;
    private final AtomicInteger requests = new AtomicInteger();

    private LoopbackLlm(HttpServer server, ExecutorService threads, Function<JsonNode, String> answerer) {
        this.server = server;
        this.threads = threads;
        this.answerer = answerer;
    }

    /** Starts it on a free loopback port, answering {@code You said: <last user message>}. */
    public static LoopbackLlm start() throws IOException {
        return start(request -> "You said: " + lastUserMessage(request));
    }

    /**
     * Starts it on a free loopback port, answering each request (the chat-completions JSON as received) with what
     * {@code answerer} says, streamed the same way: a stand-in LLM for tests that must see what reached it.
     */
    public static LoopbackLlm start(Function<JsonNode, String> answerer) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        ExecutorService threads = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "callguard-warmup-llm");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        LoopbackLlm llm = new LoopbackLlm(server, threads, answerer);
        server.createContext(PATH, llm::answer);
        server.start();
        return llm;
    }

    /** Requests received so far. */
    public int requests() {
        return requests.get();
    }

    /** The content of the request's last {@code user} message; empty when there is none. */
    public static String lastUserMessage(JsonNode request) {
        String said = "";
        for (JsonNode message : request.path("messages")) {
            if ("user".equals(message.path("role").asText())) {
                said = message.path("content").asText("");
            }
        }
        return said;
    }

    /** The endpoint's URL, for {@code agent.openai.url}. */
    public URI url() {
        return URI.create("http://" + server.getAddress().getAddress().getHostAddress() + ":"
                + server.getAddress().getPort() + PATH);
    }

    private void answer(HttpExchange exchange) throws IOException {
        try (exchange) {
            requests.incrementAndGet();
            JsonNode request = Json.mapper().readTree(exchange.getRequestBody());
            String model = request.path("model").asText("warmup");
            String answer = answerer.apply(request);
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            String[] words = answer.split(" ");
            int per = Math.max(1, (words.length + CHUNKS - 1) / CHUNKS);
            for (int i = 0; i < words.length; i += per) {
                StringBuilder piece = new StringBuilder();
                for (int j = i; j < Math.min(words.length, i + per); j++) {
                    piece.append(words[j]).append(' ');
                }
                write(out, chunk(model, piece.toString(), null));
            }
            write(out, chunk(model, null, "stop"));
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private static ObjectNode chunk(String model, String content, String finishReason) {
        ObjectNode chunk = Json.mapper().createObjectNode().put("id", "chatcmpl-warmup")
                .put("object", "chat.completion.chunk").put("created", 0).put("model", model);
        ObjectNode choice = chunk.putArray("choices").addObject().put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (content != null) {
            delta.put("content", content);
        }
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        return chunk;
    }

    private static void write(OutputStream out, ObjectNode chunk) throws IOException {
        out.write(("data: " + chunk + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
        try {
            threads.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
