package io.callguard.processor.responder.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.SecretText;
import io.callguard.processor.responder.AgentBackendException;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.Turn;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call's upstream socket and what is open on it: the begin message and at most one turn. A state machine over
 * {@link Phase}, changed only by {@link #moveTo}; every field is guarded by this object's lock, and socket
 * callbacks of an older socket (an older {@link #epoch}) are ignored.
 */
final class UpstreamCall {

    private static final Logger LOG = LoggerFactory.getLogger(UpstreamCall.class);
    static final Set<String> FORWARDED = Set.of(InteractionType.CALL_DETAILS, InteractionType.UPDATE_ONLY);
    /** Retell's keep-alive: a ping every 2 s, and an upstream silent for 5 s is dead. */
    static final long PING_INTERVAL_MS = 2_000;
    static final long DEAD_AFTER_MS = 5_000;
    /** How long a new socket waits for the upstream's config before requests go out without it. */
    static final long CONFIG_WAIT_MS = 1_000;
    /** Begin-message events kept while {@code begin} has not been called yet. */
    static final int MAX_BUFFERED_BEGIN_EVENTS = 256;
    /** Ping timestamps of ours remembered, to tell a reply from the upstream's own ping. */
    private static final int PINGS_REMEMBERED = 4;
    /** At most one echo of the upstream's own pings this often: two echoing peers must not loop. */
    private static final long MIN_ECHO_GAP_MS = 500;
    private static final int CLOSE_NORMAL = 1000;
    private static final String TOOL_CALLS_TRANSCRIPT = "transcript_with_tool_calls";
    /** How long a closing handshake may take before the socket is aborted. */
    private static final long CLOSE_TIMEOUT_MS = 5_000;

    enum Phase {
        /** No socket, none being opened: the next turn or event opens one. */
        IDLE,
        /** The socket is being opened. */
        CONNECTING,
        /** Open; requests wait for the upstream's config (or {@link #CONFIG_WAIT_MS}). */
        AWAITING_CONFIG,
        /** Open; requests go out as they come. */
        READY,
        /** Dropped; a reconnect is scheduled. */
        BACKING_OFF,
        /** The call ended or the backend closed: nothing more happens. */
        ENDED
    }

    private final String callId;
    private final URI uri;
    private final RetellSocketBackend backend;

    private Phase phase = Phase.IDLE;
    /** Which socket is current; bumped for every open. */
    private long epoch;
    private WebSocket socket;
    private CompletableFuture<?> sendTail = CompletableFuture.completedFuture(null);
    /** Reconnects used since the last turn started. */
    private int attempts;
    private boolean pinging;
    private boolean callDetailsAsked;
    private boolean callDetailsSent;
    /** Whether this socket's config asked for {@code transcript_with_tool_calls}; stripped from requests if not. */
    private boolean toolCallsTranscriptAsked;
    /** The upstream closed with 1000, a deliberate hang-up: the call is over for it (later turns: end_call). */
    private boolean hungUp;
    /**
     * The latest turn (or begin message) relayed an end_call or a transfer: a hang-up after it adds no end_call of
     * its own (Retell takes one action, and a transfer must not become a hang-up).
     */
    private boolean callEndingRelayed;
    /** The highest {@code interrupt_id} the upstream used; a hang-up outside a turn is said with the next one. */
    private long lastInterruptId = -1;
    /** The {@code call_details} frame to send when asked; null until the edge passed it on. */
    private String callDetails;
    /** The latest {@code update_only} newer than the open request, waiting for the socket to be ready. */
    private ObjectNode heldUpdate;
    private OpenTurn turn;
    private final BeginMessage begin = new BeginMessage();
    private final Deque<Long> pingsSent = new ArrayDeque<>();
    private long lastEchoMs = Long.MIN_VALUE;
    private Future<?> pingTask;
    private Future<?> deadTimer;
    private Future<?> configWait;
    private Future<?> reconnect;

    UpstreamCall(String callId, URI uri, RetellSocketBackend backend) {
        this.callId = callId;
        this.uri = uri;
        this.backend = backend;
    }

    String callId() {
        return callId;
    }

    /** A request with its sink: what is re-sent after a reconnect, and where its answer goes. */
    private record OpenTurn(long responseId, ObjectNode request, Consumer<AgentEvent> sink,
                            CompletableFuture<Void> future) {
        void deliver(List<AgentEvent> events) {
            for (AgentEvent event : events) {
                if (future.isDone()) {
                    return;
                }
                sink.accept(event);
            }
        }
    }

    /** The begin message ({@code response_id} 0): kept until {@code begin} is called, then streamed. */
    private static final class BeginMessage {
        final List<AgentEvent> buffered = new ArrayList<>();
        boolean complete;
        /** Over: complete, or superseded by a turn; later id-0 responses are stale. */
        boolean over;
        Consumer<AgentEvent> sink;
        CompletableFuture<Void> future;

        boolean accepting() {
            return !over && (future == null || !future.isDone());
        }
    }

    // Calls from the responder.

    synchronized CompletableFuture<Void> generate(Turn request, Consumer<AgentEvent> sink) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (phase == Phase.ENDED) {
            if (hungUp) {
                // The agent hung up (its socket closed with 1000): a turn asked before Retell ended the call is
                // answered with the hang-up, not sent to a fallback.
                sink.accept(new AgentEvent.EndCall());
                future.complete(null);
            } else {
                future.completeExceptionally(new AgentBackendException("call " + callId + " has ended"));
            }
            return future;
        }
        if (request.responseId() > 0) {
            endBegin();
        }
        OpenTurn open = new OpenTurn(request.responseId(), requestFrame(request), sink, future);
        turn = open;
        callEndingRelayed = false;
        heldUpdate = null;
        attempts = 0;
        if (phase == Phase.READY) {
            sendFrame(open.request());
        } else {
            connectIfIdle();
        }
        future.whenComplete((v, e) -> turnDone(open));
        return future;
    }

    synchronized CompletableFuture<Void> begin(Consumer<AgentEvent> sink) {
        if (begin.future != null) {
            return begin.future;
        }
        CompletableFuture<Void> future = new CompletableFuture<>();
        begin.future = future;
        begin.sink = sink;
        if (begin.over && !begin.complete || phase == Phase.ENDED) {
            future.complete(null);
            return future;
        }
        for (AgentEvent event : begin.buffered) {
            sink.accept(event);
        }
        begin.buffered.clear();
        if (begin.complete) {
            future.complete(null);
        } else {
            attempts = 0;
            connectIfIdle();
        }
        return future;
    }

    synchronized void callEvent(String interactionType, JsonNode payload) {
        if (phase == Phase.ENDED) {
            return;
        }
        ObjectNode frame = asRetellFrame(interactionType, payload);
        if (InteractionType.CALL_DETAILS.equals(interactionType)) {
            callDetails = frame.toString();
            callDetailsSent = false;
            if (callDetailsAsked && (phase == Phase.AWAITING_CONFIG || phase == Phase.READY)) {
                sendCallDetails();
            }
        } else if (phase == Phase.READY) {
            sendFrame(frame);
        } else {
            heldUpdate = frame;
        }
        connectIfIdle();
    }

    synchronized void end(String why) {
        if (phase == Phase.ENDED) {
            return;
        }
        moveTo(Phase.ENDED);
        WebSocket open = socket;
        socket = null;
        if (open != null) {
            closeNormally(open, why);
        }
        AgentBackendException over = new AgentBackendException("call " + callId + ": " + why);
        if (turn != null) {
            turn.future().completeExceptionally(over);
            turn = null;
        }
        if (begin.future != null) {
            begin.future.completeExceptionally(over);
        }
    }

    /** Closes with 1000 after the sends queued before it; a handshake that does not finish in time aborts. */
    private void closeNormally(WebSocket open, String why) {
        CompletableFuture<?> closing = sendTail.handle((v, e) -> null)
                .thenCompose(v -> open.sendClose(CLOSE_NORMAL, why));
        closing.orTimeout(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS).whenComplete((v, e) -> {
            if (e != null) {
                open.abort();
            }
        });
    }

    // The socket.

    private void connectIfIdle() {
        if (phase == Phase.IDLE) {
            connect();
        }
    }

    private void connect() {
        moveTo(Phase.CONNECTING);
        long opening = ++epoch;
        backend.http().newWebSocketBuilder()
                .connectTimeout(Duration.ofMillis(backend.config().upstreamConnectTimeoutMs()))
                .buildAsync(uri, new Listener(opening))
                .whenComplete((ws, error) -> {
                    if (error != null) {
                        dropped(opening, "could not connect: " + rootMessage(error));
                    }
                });
    }

    private synchronized void opened(long opening, WebSocket ws) {
        if (opening != epoch || phase != Phase.CONNECTING) {
            ws.abort();
            return;
        }
        socket = ws;
        sendTail = CompletableFuture.completedFuture(null);
        callDetailsAsked = false;
        callDetailsSent = false;
        toolCallsTranscriptAsked = false;
        pinging = false;
        pingsSent.clear();
        moveTo(Phase.AWAITING_CONFIG);
        configWait = schedule(() -> configWaitOver(opening), CONFIG_WAIT_MS);
        LOG.debug("call {}: upstream socket open ({}://{}:{})", callId, uri.getScheme(), uri.getHost(), uri.getPort());
    }

    private synchronized void configWaitOver(long opening) {
        if (opening == epoch && phase == Phase.AWAITING_CONFIG) {
            ready();
        }
    }

    /**
     * Lets the current socket go (closed by {@code closer}, when there is one) if a callback of socket {@code which}
     * may still change the call: false when it is an older socket's, or the call is ended, backing off or idle.
     */
    private boolean letGo(long which, Consumer<WebSocket> closer) {
        if (which != epoch || phase == Phase.ENDED || phase == Phase.BACKING_OFF || phase == Phase.IDLE) {
            return false;
        }
        WebSocket old = socket;
        socket = null;
        if (old != null) {
            closer.accept(old);
        }
        return true;
    }

    /** The upstream went away (closed, failed, dead, or could not be reached): reconnect or give up. */
    private synchronized void dropped(long which, String why) {
        if (!letGo(which, WebSocket::abort)) {
            return;
        }
        int max = backend.config().upstreamReconnectMaxAttempts();
        if (attempts >= max) {
            moveTo(Phase.IDLE);
            LOG.warn("call {}: upstream unreachable after {} reconnects, the open turn fails: {}", callId, attempts,
                    why);
            AgentBackendException failure = new AgentBackendException("upstream agent socket of call " + callId
                    + " lost after " + attempts + " reconnects: " + why);
            if (turn != null) {
                OpenTurn failed = turn;
                turn = null;
                failed.future().completeExceptionally(failure);
            }
            if (begin.future != null && !begin.future.isDone()) {
                begin.over = true;
                begin.future.completeExceptionally(failure);
            }
            return;
        }
        attempts++;
        backend.counters().reconnects.increment();
        long delay = backend.backoffMs(attempts);
        LOG.info("call {}: upstream dropped ({}), reconnect {} of {} in {} ms", callId, why, attempts, max, delay);
        moveTo(Phase.BACKING_OFF);
        reconnect = schedule(this::reconnectNow, delay);
    }

    private synchronized void reconnectNow() {
        if (phase == Phase.BACKING_OFF) {
            connect();
        }
    }

    /**
     * The upstream closed its socket with 1000: per Retell's protocol a server's deliberate hang-up, not a drop. The
     * call ends after what was said: the open turn (or begin message) completes with end_call, or, between turns, an
     * agent interrupt carries it; nothing reconnects, and a later turn is answered with end_call alone.
     */
    private synchronized void hungUpByUpstream(long which, String reason) {
        if (!letGo(which, open -> closeNormally(open, ""))) {
            return;
        }
        hungUp = true;
        moveTo(Phase.ENDED);
        backend.counters().hangUps.increment();
        LOG.info("call {}: the upstream closed its socket with 1000 ({}): a deliberate hang-up, the call ends",
                callId, SecretText.redact(reason));
        List<AgentEvent> endCall = callEndingRelayed ? List.of() : List.of(new AgentEvent.EndCall());
        if (turn != null) {
            OpenTurn open = turn;
            turn = null;
            open.deliver(endCall);
            open.future().complete(null);
        } else if (begin.accepting()) {
            begin.over = true;
            begin.complete = true;
            if (begin.sink != null) {
                endCall.forEach(begin.sink);
                begin.future.complete(null);
            } else {
                begin.buffered.addAll(endCall);
            }
        } else if (!callEndingRelayed) {
            backend.unprompted(callId, new AgentEvent.Interrupt(lastInterruptId + 1, "", true, true, null, null,
                    null));
        }
    }

    /** Requests may go out: the open one first (whole transcript), then a newer update. */
    private void ready() {
        moveTo(Phase.READY);
        if (turn != null) {
            sendFrame(turn.request());
        }
        if (heldUpdate != null) {
            sendFrame(heldUpdate);
            heldUpdate = null;
        }
    }

    /** The one transition method: leaving a phase stops its timers. */
    private void moveTo(Phase next) {
        if (next != Phase.AWAITING_CONFIG && configWait != null) {
            configWait.cancel(false);
            configWait = null;
        }
        if (next != Phase.READY && next != Phase.AWAITING_CONFIG) {
            stopPinging();
        }
        if (next != Phase.BACKING_OFF && reconnect != null) {
            reconnect.cancel(false);
            reconnect = null;
        }
        phase = next;
    }

    private void send(String text) {
        WebSocket ws = socket;
        if (ws == null) {
            return;
        }
        long sending = epoch;
        // The JDK socket allows one outstanding send: chain them.
        sendTail = sendTail.handle((v, e) -> null)
                .thenCompose(v -> ws.sendText(text, true))
                .whenComplete((v, e) -> {
                    if (e != null) {
                        dropped(sending, "send failed: " + rootMessage(e));
                    }
                });
    }

    /**
     * A frame of Retell's as this upstream asked for it: {@code transcript_with_tool_calls} (which the edge asks
     * Retell for on behalf of upstreams) only when the upstream's config asked for it too.
     */
    private void sendFrame(ObjectNode frame) {
        if (toolCallsTranscriptAsked || !frame.has(TOOL_CALLS_TRANSCRIPT)) {
            send(frame.toString());
            return;
        }
        ObjectNode without = JsonNodeFactory.instance.objectNode();
        frame.fields().forEachRemaining(field -> {
            if (!TOOL_CALLS_TRANSCRIPT.equals(field.getKey())) {
                without.set(field.getKey(), field.getValue());
            }
        });
        send(without.toString());
    }

    private void sendCallDetails() {
        if (callDetails != null && !callDetailsSent) {
            send(callDetails);
            callDetailsSent = true;
        }
    }

    // Keep-alive.

    private void startPinging(long opening) {
        pinging = true;
        pingTask = schedule(() -> ping(opening), PING_INTERVAL_MS);
        heardFromUpstream(opening);
    }

    private synchronized void ping(long opening) {
        if (opening != epoch || !pinging) {
            return;
        }
        long now = backend.clock().millis();
        pingsSent.addLast(now);
        while (pingsSent.size() > PINGS_REMEMBERED) {
            pingsSent.removeFirst();
        }
        send(FrameWriter.write(new RetellFrame.PingPong(now)));
        backend.counters().pingsSent.increment();
        pingTask = schedule(() -> ping(opening), PING_INTERVAL_MS);
    }

    /** Any frame shows the upstream alive (lenient: a busy server's pong may queue behind its answer). */
    private void heardFromUpstream(long opening) {
        if (!pinging) {
            return;
        }
        if (deadTimer != null) {
            deadTimer.cancel(false);
        }
        deadTimer = schedule(() -> dropped(opening, "no ping_pong for " + DEAD_AFTER_MS + " ms"), DEAD_AFTER_MS);
    }

    private void stopPinging() {
        pinging = false;
        if (pingTask != null) {
            pingTask.cancel(false);
            pingTask = null;
        }
        if (deadTimer != null) {
            deadTimer.cancel(false);
            deadTimer = null;
        }
    }

    // Frames from the upstream.

    private synchronized void received(long from, String text) {
        if (from != epoch || (phase != Phase.AWAITING_CONFIG && phase != Phase.READY)) {
            return;
        }
        heardFromUpstream(from);
        ParseResult<ServerFrame> parsed = FrameParser.fromServer(text);
        if (parsed instanceof ParseResult.Failed<ServerFrame> failed) {
            backend.counters().invalidFrames.increment();
            LOG.debug("call {}: dropped an upstream frame ({}): {}", callId, failed.reason(), failed.detail());
            return;
        }
        ParseResult.Parsed<ServerFrame> frame = (ParseResult.Parsed<ServerFrame>) parsed;
        if (!frame.unknownFields().isEmpty()) {
            backend.counters().unknownFrames.increment();
            LOG.debug("call {}: upstream {} has unknown fields {}", callId, frame.frame().getClass().getSimpleName(),
                    frame.unknownFields());
        }
        if (frame.frame() instanceof ServerFrame.Config config) {
            configured(from, config);
            return;
        }
        if (phase == Phase.AWAITING_CONFIG) {
            // A server that sends no config: Retell goes on with the defaults, and so do we.
            ready();
        }
        relay(frame.frame(), frame.tree());
    }

    private void configured(long opening, ServerFrame.Config config) {
        callDetailsAsked = config.callDetails();
        toolCallsTranscriptAsked = Boolean.TRUE.equals(config.transcriptWithToolCalls());
        if (callDetailsAsked) {
            callDetailsSent = false;
            sendCallDetails();
        }
        if (config.autoReconnect() && !pinging) {
            startPinging(opening);
        }
        if (phase == Phase.AWAITING_CONFIG) {
            ready();
        }
    }

    private void relay(ServerFrame frame, ObjectNode tree) {
        if (frame instanceof ServerFrame.Response response) {
            respond(response);
        } else if (frame instanceof ServerFrame.PingPong ping) {
            pinged(ping);
        } else if (frame instanceof ServerFrame.AgentInterrupt i) {
            lastInterruptId = Math.max(lastInterruptId, i.interruptId());
            backend.unprompted(callId, new AgentEvent.Interrupt(i.interruptId(), i.content(), i.contentComplete(),
                    i.endCall(), i.transferNumber(), i.digitToPress(), i.noInterruptionAllowed()));
        } else if (frame instanceof ServerFrame.ToolCallInvocation t) {
            toTurn(new AgentEvent.ToolInvocation(t.toolCallId(), t.name(), t.arguments(),
                    backend.config().upstreamToolTimeLimitMs()), false);
        } else if (frame instanceof ServerFrame.ToolCallResult t) {
            toTurn(new AgentEvent.ToolResult(t.toolCallId(), t.content(), t.successful()), false);
        } else if (frame instanceof ServerFrame.UpdateAgent) {
            toTurn(new AgentEvent.UpdateAgent(tree.path("agent_config").deepCopy()), true);
        } else if (frame instanceof ServerFrame.Metadata m) {
            toTurn(new AgentEvent.Metadata(m.metadata()), true);
        } else {
            backend.counters().unknownFrames.increment();
            LOG.debug("call {}: ignored an upstream frame of unknown type {}", callId,
                    ((ServerFrame.Unknown) frame).type());
        }
    }

    private void respond(ServerFrame.Response r) {
        List<AgentEvent> events = events(r);
        boolean ending = events.stream().anyMatch(e -> e instanceof AgentEvent.EndCall
                || e instanceof AgentEvent.Transfer);
        if (turn != null && r.responseId() == turn.responseId()) {
            callEndingRelayed |= ending;
            OpenTurn open = turn;
            open.deliver(events);
            if (r.contentComplete()) {
                turn = null;
                open.future().complete(null);
            }
        } else if (r.responseId() == 0 && turn == null && begin.accepting()) {
            callEndingRelayed |= ending;
            if (begin.sink != null) {
                events.forEach(begin.sink);
            } else if (begin.buffered.size() + events.size() <= MAX_BUFFERED_BEGIN_EVENTS) {
                begin.buffered.addAll(events);
            }
            if (r.contentComplete()) {
                begin.over = true;
                begin.complete = true;
                if (begin.future != null) {
                    begin.future.complete(null);
                }
            }
        } else {
            backend.counters().staleResponses.increment();
            LOG.debug("call {}: dropped a stale response for id {} (open: {})", callId, r.responseId(),
                    turn == null ? "none" : turn.responseId());
        }
    }

    private static List<AgentEvent> events(ServerFrame.Response r) {
        List<AgentEvent> events = new ArrayList<>(2);
        if (!r.content().isEmpty()) {
            events.add(new AgentEvent.Text(r.content(), Boolean.TRUE.equals(r.noInterruptionAllowed())));
        }
        if (Boolean.TRUE.equals(r.endCall())) {
            events.add(new AgentEvent.EndCall());
        }
        if (r.transferNumber() != null && !r.transferNumber().isBlank()) {
            events.add(new AgentEvent.Transfer(r.transferNumber(), r.showTransfereeAsCaller()));
        }
        if (r.digitToPress() != null && !r.digitToPress().isEmpty()) {
            events.add(new AgentEvent.PressDigit(r.digitToPress()));
        }
        return events;
    }

    /** An event of the open turn (or the begin message while it is open); without one, unprompted or dropped. */
    private void toTurn(AgentEvent event, boolean orUnprompted) {
        if (turn != null) {
            turn.deliver(List.of(event));
        } else if (begin.sink != null && begin.accepting()) {
            begin.sink.accept(event);
        } else if (orUnprompted) {
            backend.unprompted(callId, event);
        } else {
            backend.counters().droppedFrames.increment();
            LOG.debug("call {}: dropped an upstream {} outside any turn", callId, event.getClass().getSimpleName());
        }
    }

    private void pinged(ServerFrame.PingPong ping) {
        if (ping.timestamp() != null && pingsSent.remove(ping.timestamp())) {
            return;
        }
        long now = backend.clock().millis();
        if (lastEchoMs != Long.MIN_VALUE && now - lastEchoMs < MIN_ECHO_GAP_MS) {
            return;
        }
        lastEchoMs = now;
        send(FrameWriter.write(new RetellFrame.PingPong(ping.timestamp())));
    }

    // Turn bookkeeping.

    private synchronized void turnDone(OpenTurn done) {
        if (turn == done) {
            turn = null;
        }
    }

    /** A turn after the begin message supersedes it, as with Retell: its later id-0 frames are stale. */
    private void endBegin() {
        if (begin.over) {
            return;
        }
        begin.over = true;
        begin.buffered.clear();
        if (begin.future != null) {
            begin.future.complete(null);
        }
    }

    /**
     * The request as Retell sent it, when the turn carries Retell's frame for it: every utterance whole
     * ({@code words[]} and all), fields this version does not know kept, as an upstream written against Retell
     * expects. Otherwise (a turn not made from a frame) one built from the transcript's roles and contents.
     */
    static ObjectNode requestFrame(Turn request) {
        String type = InteractionType.REMINDER_REQUIRED.equals(request.interactionType())
                ? InteractionType.REMINDER_REQUIRED : InteractionType.RESPONSE_REQUIRED;
        if (request.request() instanceof ObjectNode received && type.equals(received.path(InteractionType.FIELD)
                .asText()) && received.path("response_id").isIntegralNumber()
                && received.path("response_id").asLong() == request.responseId()
                && received.path("transcript").isArray()) {
            return received;
        }
        ObjectNode frame = JsonNodeFactory.instance.objectNode().put(InteractionType.FIELD, type)
                .put("response_id", request.responseId());
        ArrayNode transcript = frame.putArray("transcript");
        for (Turn.Utterance u : request.transcript()) {
            transcript.addObject().put("role", u.role()).put("content", u.content());
        }
        return frame;
    }

    /** Retell's frame as the edge received it; a bare call object (not a frame) is wrapped as Retell would send it. */
    private static ObjectNode asRetellFrame(String interactionType, JsonNode payload) {
        if (payload instanceof ObjectNode frame && payload.has(InteractionType.FIELD)) {
            return frame;
        }
        ObjectNode frame = JsonNodeFactory.instance.objectNode().put(InteractionType.FIELD, interactionType);
        if (InteractionType.CALL_DETAILS.equals(interactionType)) {
            frame.set("call", payload);
        } else if (payload.isObject()) {
            frame.setAll((ObjectNode) payload);
        }
        return frame;
    }

    private Future<?> schedule(Runnable task, long delayMs) {
        try {
            return backend.scheduler().schedule(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    LOG.warn("call {}: upstream timer task failed: {}", callId, e.toString(), e);
                }
            }, delayMs, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // The responder is stopping (its timer went first): nothing more is owed to this call.
            LOG.debug("call {}: timer stopped, {} ms task not scheduled", callId, delayMs);
            return CompletableFuture.completedFuture(null);
        }
    }

    /** The root cause, named; redacted, since a failed upgrade quotes the upstream URL and its secret. */
    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName()
                + (root.getMessage() == null ? "" : ": " + SecretText.redact(root.getMessage()));
    }

    /** One socket's callbacks; whole text messages are handed on, bounded by {@code agent.upstream.max-frame-chars}. */
    private final class Listener implements WebSocket.Listener {
        private final long opening;
        private final StringBuilder partial = new StringBuilder();
        private boolean oversized;

        Listener(long opening) {
            this.opening = opening;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            opened(opening, webSocket);
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            int max = backend.config().upstreamMaxFrameChars();
            if (!oversized && partial.length() + data.length() > max) {
                oversized = true;
                partial.setLength(0);
            }
            if (!oversized) {
                partial.append(data);
            }
            if (last) {
                if (oversized) {
                    backend.counters().invalidFrames.increment();
                    LOG.debug("call {}: dropped an upstream frame over {} characters", callId, max);
                } else {
                    received(opening, partial.toString());
                }
                partial.setLength(0);
                oversized = false;
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            if (last) {
                backend.counters().invalidFrames.increment();
                LOG.debug("call {}: dropped a binary upstream frame (the protocol is text frames)", callId);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            if (statusCode == CLOSE_NORMAL) {
                hungUpByUpstream(opening, reason);
            } else {
                dropped(opening, "closed by the upstream (" + statusCode + ")");
            }
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            dropped(opening, "socket error: " + rootMessage(error));
        }
    }
}
