package io.callguard.app.warmup;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.frames.Utterance;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Plays Retell against the warm-up pipeline over loopback, as the drill does against a gateway: per call a signed
 * {@code call_started}, the LLM WebSocket (config, the begin message, {@code call_details}), turns with the whole
 * growing transcript (an {@code update_only} and a {@code ping_pong} now and then), a {@code call_ended} carrying
 * the transcript, and the socket closed with 1000. Each call asks its next turn as soon as the previous one
 * completed, so the warm-up runs as many turns a second as the pipeline takes. The JDK's HTTP and WebSocket
 * clients: the app module has no Jetty client.
 */
public final class WarmupCalls {

    /** Turns per call before it ends and a new one starts: transcripts grow to realistic sizes, then restart. */
    static final int TURNS_PER_CALL = 24;
    private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(6);
    private static final String[] SENTENCES = {
        "Hi, I'd like to check the status of my order, it was supposed to arrive on Tuesday.",
        "The order number is 4 8 1 5 1 6 2 3 and it's under my name.",
        "Can you tell me when the next delivery window is?",
        "Actually could I change the address to my office instead of my home?",
        "That's 221 Baker Street, suite 4, and please leave it with reception.",
        "Also, is there a way to get a text message when it's out for delivery?"};

    private final URI base;
    private final RetellSignature signer;
    private final String token;
    private final int calls;
    private final int turns;
    private final long deadlineNanos;
    private final AtomicInteger completed = new AtomicInteger();
    private final AtomicInteger missed = new AtomicInteger();
    private final AtomicReference<Exception> firstError = new AtomicReference<>();

    /**
     * @param base          the warm-up gateway's base URL
     * @param apiKey        its {@code retell.api-key}, to sign the webhooks
     * @param token         its {@code socket.token}
     * @param calls         calls played at once
     * @param turns         turns to complete before stopping
     * @param deadlineNanos {@link System#nanoTime()} after which no new turn is asked
     */
    public WarmupCalls(URI base, String apiKey, String token, int calls, int turns, long deadlineNanos) {
        this.base = base;
        this.signer = new RetellSignature(apiKey, Clock.systemUTC(), RetellSignature.DEFAULT_TOLERANCE_MS);
        this.token = token;
        this.calls = calls;
        this.turns = turns;
        this.deadlineNanos = deadlineNanos;
    }

    /** Turns answered with a complete so far. */
    public int completed() {
        return completed.get();
    }

    /** Turns asked that got no complete within {@link #ANSWER_TIMEOUT}. */
    public int missed() {
        return missed.get();
    }

    /**
     * Plays calls until {@code turns} turns completed or the deadline passed.
     *
     * @throws IOException when no turn at all could be played (the first error is the cause)
     */
    public void run() throws IOException, InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(calls + 2, r -> {
            Thread t = new Thread(r, "callguard-warmup-calls");
            t.setDaemon(true);
            return t;
        });
        HttpClient http = HttpClient.newBuilder().executor(pool).connectTimeout(Duration.ofSeconds(5)).build();
        try {
            List<java.util.concurrent.Future<?>> players = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                players.add(pool.submit(() -> {
                    while (more()) {
                        try {
                            playCall(http);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        } catch (Exception e) {
                            firstError.compareAndSet(null, e);
                            missed.incrementAndGet();
                        }
                    }
                }));
            }
            for (java.util.concurrent.Future<?> player : players) {
                try {
                    player.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    firstError.compareAndSet(null, new IOException(e.getCause()));
                }
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (completed.get() == 0 && firstError.get() != null) {
            throw new IOException("no warm-up turn completed: " + firstError.get(), firstError.get());
        }
    }

    private boolean more() {
        return completed.get() < turns && System.nanoTime() < deadlineNanos && !Thread.currentThread().isInterrupted();
    }

    private void playCall(HttpClient http) throws Exception {
        String callId = "warmup-" + UUID.randomUUID();
        post(http, webhook(WebhookEvent.CALL_STARTED, callId, null));
        CallSocket socket = new CallSocket();
        WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                .buildAsync(base.resolve("llm-websocket/" + callId + "?token=" + token)
                        .toString().replaceFirst("^http", "ws").transform(URI::create), socket)
                .get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        List<Utterance> transcript = new ArrayList<>();
        try {
            String begin = socket.answer(0);
            transcript.add(new Utterance(Utterance.AGENT, begin));
            send(ws, new RetellFrame.CallDetails(callObject(callId, "ongoing")));
            for (int k = 1; k <= TURNS_PER_CALL && more(); k++) {
                transcript.add(new Utterance(Utterance.USER, "turn " + k + ": " + SENTENCES[k % SENTENCES.length]));
                if (k % 3 == 0) {
                    send(ws, new RetellFrame.UpdateOnly(transcript, null, "user_turn"));
                }
                if (k % 4 == 0) {
                    send(ws, new RetellFrame.PingPong(System.currentTimeMillis()));
                }
                send(ws, new RetellFrame.ResponseRequired(k, transcript));
                try {
                    transcript.add(new Utterance(Utterance.AGENT, socket.answer(k)));
                    completed.incrementAndGet();
                } catch (TimeoutException e) {
                    missed.incrementAndGet();
                    break;
                }
            }
        } finally {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "warm-up call over");
            ObjectNode ended = webhook(WebhookEvent.CALL_ENDED, callId, transcript);
            post(http, ended);
        }
    }

    private static void send(WebSocket ws, RetellFrame frame) throws Exception {
        ws.sendText(FrameWriter.write(frame), true).get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void post(HttpClient http, ObjectNode body) throws IOException, InterruptedException {
        byte[] bytes = Json.mapper().writeValueAsBytes(body);
        HttpRequest request = HttpRequest.newBuilder(base.resolve("webhook")).timeout(ANSWER_TIMEOUT)
                .header("Content-Type", "application/json")
                .header(RetellSignature.HEADER, signer.sign(bytes, System.currentTimeMillis()))
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build();
        HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
        if (response.statusCode() / 100 != 2) {
            throw new IOException("warm-up webhook answered HTTP " + response.statusCode());
        }
    }

    /** A webhook as Retell sends it; {@code call_ended} with the transcript, as an hour-long call's would be. */
    private static ObjectNode webhook(String event, String callId, List<Utterance> transcript) {
        ObjectNode body = Json.mapper().createObjectNode().put("event", event);
        ObjectNode call = callObject(callId, transcript == null ? "ongoing" : "ended");
        if (transcript != null) {
            call.put("end_timestamp", System.currentTimeMillis()).put("disconnection_reason", "user_hangup");
            StringBuilder text = new StringBuilder();
            ArrayNode object = call.putArray("transcript_object");
            for (Utterance u : transcript) {
                text.append(u.role().equals(Utterance.AGENT) ? "Agent: " : "User: ").append(u.content()).append('\n');
                object.addObject().put("role", u.role()).put("content", u.content());
            }
            call.put("transcript", text.toString());
        }
        body.set("call", call);
        return body;
    }

    private static ObjectNode callObject(String callId, String status) {
        ObjectNode call = Json.mapper().createObjectNode().put("call_id", callId).put("agent_id", "warmup")
                .put("call_type", "phone_call").put("call_status", status)
                .put("from_number", "+15550000000").put("to_number", "+15550000001")
                .put("direction", "inbound").put("start_timestamp", System.currentTimeMillis());
        call.putObject("retell_llm_dynamic_variables").put("customer_name", "Warm Up");
        call.putObject("metadata").put("source", "callguard-warmup");
        return call;
    }

    /** One socket's listener: collects each response id's content until its {@code content_complete}. */
    private static final class CallSocket implements WebSocket.Listener {
        private final Map<Long, StringBuilder> content = new ConcurrentHashMap<>();
        private final Map<Long, CompletableFuture<String>> complete = new ConcurrentHashMap<>();
        private final StringBuilder partial = new StringBuilder();

        String answer(long responseId) throws Exception {
            try {
                return future(responseId).get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } finally {
                complete.remove(responseId);
                content.remove(responseId);
            }
        }

        private CompletableFuture<String> future(long responseId) {
            return complete.computeIfAbsent(responseId, id -> new CompletableFuture<>());
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                if (FrameParser.fromServer(text) instanceof ParseResult.Parsed<ServerFrame> parsed
                        && parsed.frame() instanceof ServerFrame.Response response) {
                    StringBuilder said = content.computeIfAbsent(response.responseId(), id -> new StringBuilder());
                    said.append(response.content());
                    if (response.contentComplete()) {
                        future(response.responseId()).complete(said.toString());
                    }
                }
            }
            ws.request(1);
            return null;
        }
    }
}
