package io.callguard.ingress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.common.RecordLimits;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.socket.CallSocket;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retell's custom-LLM WebSocket protocol on any {@link CallSocket}: the sockets Retell dials in to
 * {@link IngressServer} and the ones the egress dials out feed their frames here. Thread-safe; each socket's frames
 * must be fed one at a time, in order.
 *
 * <p>Decisions, per frame:
 * <ul>
 *   <li>open: the config message at once, then {@link EdgeListener#socketOpened}, then the begin message
 *       ({@code response_id} 0), decided by the begin policy ({@link GreetingPolicy}) and said through the listener,
 *       the socket's one writer of responses: a call known refused gets the busy line with {@code end_call} now
 *       ({@link EdgeListener#beginNow}), a reconnect an empty begin now, a first open is owed to the pipeline
 *       ({@link EdgeListener#beginRequested}; {@code socket.begin-message=greeting}: the greeting now); then a
 *       {@link CallEvent#TYPE_SOCKET_OPENED} event saying whether it was owed or sent. A listener that does not
 *       deliver ({@link EdgeListener#NONE}) leaves nobody to say it: then the begin (the greeting on a first open)
 *       is written here, never owed;</li>
 *   <li>{@code ping_pong}: echoed at once on the calling thread with the same {@code timestamp}; never produced, so
 *       a stalled broker or generation cannot delay it;</li>
 *   <li>{@code response_required} / {@code reminder_required}: {@link EdgeListener#turnRequested} first (the turn's
 *       budget starts at receipt), then a {@link CallEvent} keyed by call id; {@code response_id} must be a
 *       non-negative integer;</li>
 *   <li>{@code update_only}, {@code call_details} and unknown interaction types: a {@link CallEvent} each;</li>
 *   <li>a text frame that is not a JSON object, has no string {@code interaction_type} (1 to 128 characters) or a
 *       turn with a mistyped {@code response_id}: a {@link DeadLetter} with the original bytes, then close 1007;</li>
 *   <li>a binary frame: a dead letter with its bytes, then close 1003;</li>
 *   <li>a frame over {@code socket.max-frame-bytes}: a dead letter without bytes (the transport discarded them),
 *       then close 1009;</li>
 *   <li>close, by either side: {@link EdgeListener#socketClosed}, then a {@link CallEvent#TYPE_SOCKET_CLOSED} event
 *       ({@code connection_id}, {@code code}, {@code reason}), in order with the call's other events (one producing
 *       thread, keyed by call id), so the processor can free a slot whose socket never came back.</li>
 * </ul>
 *
 * <p>Records are handed to one producing thread through a queue bounded in records ({@value #PRODUCE_QUEUE_CAPACITY})
 * and in bytes ({@value #PRODUCE_QUEUE_BYTES}, or two of the largest records when {@code socket.max-frame-bytes} makes
 * them larger), so a {@code send} that blocks (metadata missing, buffer full) never holds a socket thread and its
 * pings, and a stalled broker cannot fill the heap: Retell's frames carry the whole transcript, so a long call's
 * records are hundreds of kilobytes each. A record that cannot be queued or that Kafka refuses is logged and counted
 * ({@value IngressMetrics#SOCKET_PRODUCE_FAILURES}); the caller still gets an answer from the edge watchdog, which
 * started at {@link EdgeListener#turnRequested}. {@link #close()} drains the queue for a bounded time; close it after
 * the sockets and before the producer.
 */
public final class LlmSocketProtocol implements SocketFrameHandler, AutoCloseable {

    /** The dead-letter source, and the key of this protocol's dead letters. */
    public static final String SOURCE = "socket";

    /** Close code for a text frame that is not a usable Retell frame (invalid payload). */
    public static final int CLOSE_INVALID_PAYLOAD = 1007;
    /** Close code for a binary frame (Retell speaks text frames only). */
    public static final int CLOSE_UNSUPPORTED_DATA = 1003;
    /** Close code for a frame over {@code socket.max-frame-bytes}. */
    public static final int CLOSE_TOO_LARGE = 1009;

    /** Records waiting for the producing thread; beyond this they are counted as lost ({@code queue_full}). */
    static final int PRODUCE_QUEUE_CAPACITY = 10_000;
    /**
     * Bytes of records waiting for the producing thread; beyond this they are counted as lost ({@code queue_full}).
     * 64 MiB: a few seconds of a busy node's frames (500 calls, a frame each a second, a 100 KB transcript each) while
     * the broker does not take them, a small part of the heap.
     */
    static final long PRODUCE_QUEUE_BYTES = 64L * 1024 * 1024;
    private static final long CLOSE_DRAIN_MS = 2_000;
    private static final String THREAD_NAME = "callguard-ingress-socket-produce";

    private static final Logger LOG = LoggerFactory.getLogger(LlmSocketProtocol.class);

    private final int maxFrameBytes;
    private final String greeting;
    private final String configMessage;
    private final Topic<String, CallEvent> callEvents;
    private final Topic<String, DeadLetter> deadLetters;
    private final Producer<String, byte[]> producer;
    private final MeterRegistry meters;
    private final Clock clock;
    private final String nodeId;
    private final EdgeListener listener;
    private final Function<String, GreetingPolicy.Begin> begins;
    private final boolean beginOwed;
    private final ThreadPoolExecutor sender;
    private final long maxQueuedBytes;
    /** Bytes of the records queued for the producing thread and not yet handed to the producer. */
    private final AtomicLong queuedBytes = new AtomicLong();

    /** A protocol that takes every socket for a call's first (no busy line, no reconnect seen). */
    public LlmSocketProtocol(IngressConfig config, Topics topics, Producer<String, byte[]> producer,
                             MeterRegistry meters, Clock clock, String nodeId, EdgeListener listener) {
        this(config, topics, producer, meters, clock, nodeId, listener, null);
    }

    /**
     * @param config   supplies {@code socket.max-frame-bytes}, {@code socket.greeting}, {@code socket.begin-message},
     *                 {@code socket.auto-reconnect}, {@code socket.transcript-with-tool-calls}
     * @param topics   where socket events and dead letters go
     * @param producer the producer of call events and dead letters; not closed here
     * @param meters   where metrics go (see {@link IngressMetrics})
     * @param clock    the clock of receipt times (a turn's budget starts there)
     * @param nodeId   this instance's node id, written as {@code edge_node} on every event
     * @param listener told about sockets and turns (the egress), and the writer of the begin message
     * @param begins   the begin message per call id ({@link GreetingPolicy}); null, or a null answer, means a first
     *                 open
     */
    public LlmSocketProtocol(IngressConfig config, Topics topics, Producer<String, byte[]> producer,
                             MeterRegistry meters, Clock clock, String nodeId, EdgeListener listener,
                             Function<String, GreetingPolicy.Begin> begins) {
        this(config, topics, producer, meters, clock, nodeId, listener, begins, PRODUCE_QUEUE_CAPACITY,
                Math.max(PRODUCE_QUEUE_BYTES, 2L * RecordLimits.maxRecordBytes(config.socketMaxFrameBytes())));
    }

    /** A protocol with its produce queue bounded as given (tests fill it without filling the heap). */
    LlmSocketProtocol(IngressConfig config, Topics topics, Producer<String, byte[]> producer, MeterRegistry meters,
                      Clock clock, String nodeId, EdgeListener listener, Function<String, GreetingPolicy.Begin> begins,
                      int maxQueuedRecords, long maxQueuedBytes) {
        this.maxQueuedBytes = maxQueuedBytes;
        this.beginOwed = config.socketBeginOwed();
        this.maxFrameBytes = config.socketMaxFrameBytes();
        this.greeting = config.socketGreeting();
        this.configMessage = configMessage(config.socketAutoReconnect(), config.socketTranscriptWithToolCalls());
        this.callEvents = topics.callEvents();
        this.deadLetters = topics.deadLetters();
        this.producer = Objects.requireNonNull(producer, "producer");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.nodeId = nodeId;
        this.listener = Objects.requireNonNull(listener, "listener");
        this.begins = begins;
        // One thread keeps the records of a call in the order their frames arrived.
        this.sender = new ThreadPoolExecutor(1, 1, 0L, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(maxQueuedRecords), r -> {
                    Thread t = new Thread(r, THREAD_NAME);
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
    }

    /** The largest frame accepted, in bytes of UTF-8; a transport should refuse larger ones itself. */
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /**
     * A socket opened: sends the config message, tells the listener, then has the begin message said (or owed) and
     * produces the {@code socket_opened} event.
     */
    @Override
    public void opened(CallSocket socket) {
        long openedAtMs = clock.millis();
        LOG.debug("LLM socket opened for call {} ({})", socket.callId(), socket.connectionId());
        socket.send(configMessage);
        notifyListener("socketOpened", socket, () -> listener.socketOpened(socket));
        GreetingPolicy.Begin begin = beginOf(socket.callId());
        String text = begin.firstOpen() ? greeting : begin.text();
        boolean owed = false;
        if (!listener.delivers()) {
            // Nobody else writes this socket's responses: the begin is said here, or Retell's agent stays silent.
            socket.send(FrameWriter.write(ServerFrame.Response.of(0, text, true)
                    .withEndCall(begin.endCall() ? Boolean.TRUE : null)));
        } else if (begin.firstOpen() && beginOwed) {
            owed = true;
            notifyListener("beginRequested", socket, () -> listener.beginRequested(socket, openedAtMs));
        } else {
            notifyListener("beginNow", socket, () -> listener.beginNow(socket, text, begin.endCall(), openedAtMs));
        }
        ObjectNode payload = Json.mapper().createObjectNode()
                .put("connection_id", socket.connectionId())
                .put("begin", owed ? CallEvent.BEGIN_OWED : CallEvent.BEGIN_SENT);
        produceSocketEvent(socket, CallEvent.TYPE_SOCKET_OPENED, openedAtMs, payload);
    }

    private void produceSocketEvent(CallSocket socket, String type, long atMs, ObjectNode payload) {
        String callId = socket.callId();
        CallEvent event = new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId,
                EventSource.SOCKET, type, null, atMs, null, nodeId, payload);
        byte[] value = callEvents.valueSerde().serializer().serialize(callEvents.name(), event);
        produce(new ProducerRecord<>(callEvents.name(), callId, value), type, callId);
    }

    /** One text frame from Retell, received now. */
    @Override
    public void text(CallSocket socket, String frame) {
        long receivedAtMs = clock.millis();
        // Characters never outnumber UTF-8 bytes: this catches what a transport without a limit let through.
        if (frame.length() > maxFrameBytes) {
            tooLarge(socket, "text frame of " + frame.length() + " characters is over the limit of "
                    + maxFrameBytes + " bytes");
            return;
        }
        ParseResult<RetellFrame> parsed = FrameParser.fromRetell(frame);
        if (parsed instanceof ParseResult.Failed<RetellFrame> failed) {
            refuse(socket, frame, receivedAtMs, failed.reason(), failed.detail());
            return;
        }
        ParseResult.Parsed<RetellFrame> usable = (ParseResult.Parsed<RetellFrame>) parsed;
        JsonNode tree = usable.tree();
        String type = usable.frame().type();
        if (!usable.unknownFields().isEmpty()) {
            // Retell adds fields often: tolerated and kept in the event's payload, counted so an upgrade is noticed.
            meters.counter(IngressMetrics.SOCKET_UNKNOWN_FIELDS, IngressMetrics.TAG_TYPE, IngressMetrics.frameTag(type))
                    .increment(usable.unknownFields().size());
            LOG.debug("call {}: {} frame with fields this version does not know: {}", socket.callId(), type,
                    usable.unknownFields());
        }
        if (usable.frame() instanceof RetellFrame.PingPong ping) {
            count(InteractionType.PING_PONG);
            socket.send(pong(ping));
            return;
        }
        Long responseId = null;
        if (usable.frame() instanceof RetellFrame.Turn requested) {
            responseId = requested.responseId();
            long turn = responseId;
            notifyListener("turnRequested", socket, () -> listener.turnRequested(socket, turn, receivedAtMs));
        }
        count(IngressMetrics.frameTag(type));
        String callId = socket.callId();
        CallEvent event = new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId,
                EventSource.SOCKET, type, IdempotencyKeys.forSocket(type, callId, responseId), receivedAtMs,
                responseId, nodeId, tree);
        byte[] value = callEvents.valueSerde().serializer().serialize(callEvents.name(), event);
        produce(new ProducerRecord<>(callEvents.name(), callId, value), type, callId);
    }

    /** One binary frame: Retell sends none, so it is dead-lettered and the socket closed with 1003. */
    @Override
    public void binary(CallSocket socket, byte[] payload) {
        long now = clock.millis();
        meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, IngressMetrics.FRAME_BINARY).increment();
        deadLetter(socket, payload, now, "binary_frame", "binary frame of " + payload.length + " bytes");
        socket.close(CLOSE_UNSUPPORTED_DATA, "text frames only");
    }

    /**
     * A frame over {@code socket.max-frame-bytes}, as the transport reports it: dead-lettered without bytes (they
     * were discarded unread) and the socket closed with 1009, unless the transport already did.
     */
    @Override
    public void tooLarge(CallSocket socket, String detail) {
        long now = clock.millis();
        meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, IngressMetrics.FRAME_TOO_LARGE)
                .increment();
        deadLetter(socket, new byte[0], now, "frame_too_large", detail);
        socket.close(CLOSE_TOO_LARGE, "frame too large");
    }

    /** A socket closed, by either side: tells the listener, then produces the {@code socket_closed} event. */
    @Override
    public void closed(CallSocket socket, int code, String reason) {
        long closedAtMs = clock.millis();
        if (code == 1000) {
            LOG.debug("LLM socket of call {} ({}) closed: {} {}", socket.callId(), socket.connectionId(), code, reason);
        } else {
            LOG.info("LLM socket of call {} ({}) closed: {} {}", socket.callId(), socket.connectionId(), code, reason);
        }
        notifyListener("socketClosed", socket, () -> listener.socketClosed(socket, code, reason));
        ObjectNode payload = Json.mapper().createObjectNode()
                .put("connection_id", socket.connectionId())
                .put("code", code)
                .put("reason", reason == null ? "" : reason);
        produceSocketEvent(socket, CallEvent.TYPE_SOCKET_CLOSED, closedAtMs, payload);
    }

    /** Stops taking records and waits (at most 2 s) for the queued ones to be handed to the producer; idempotent. */
    @Override
    public void close() {
        sender.shutdown();
        try {
            if (!sender.awaitTermination(CLOSE_DRAIN_MS, TimeUnit.MILLISECONDS)) {
                int lost = sender.shutdownNow().size();
                meters.counter(IngressMetrics.SOCKET_PRODUCE_FAILURES, IngressMetrics.TAG_REASON, "closed")
                        .increment(lost);
                LOG.warn("{} socket records not produced: the producer did not take them within {} ms of close",
                        lost, CLOSE_DRAIN_MS);
            }
        } catch (InterruptedException e) {
            sender.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private void refuse(CallSocket socket, String frame, long receivedAtMs, String reason, String detail) {
        count(IngressMetrics.FRAME_INVALID);
        deadLetter(socket, frame.getBytes(StandardCharsets.UTF_8), receivedAtMs, reason, detail);
        socket.close(CLOSE_INVALID_PAYLOAD, reason);
    }

    private void deadLetter(CallSocket socket, byte[] bytes, long receivedAtMs, String reason, String detail) {
        String callId = socket.callId();
        meters.counter(IngressMetrics.DEAD_LETTERS, IngressMetrics.TAG_SOURCE, SOURCE, IngressMetrics.TAG_REASON, reason)
                .increment();
        LOG.warn("dead-lettering a socket frame: {} ({}), call {} ({}), {} bytes", reason, detail, callId,
                socket.connectionId(), bytes.length);
        DeadLetter letter = DeadLetter.atEdge(SOURCE, reason, detail, callId, receivedAtMs, bytes);
        byte[] value = deadLetters.valueSerde().serializer().serialize(deadLetters.name(), letter);
        produce(new ProducerRecord<>(deadLetters.name(), SOURCE, value), "dead letter " + reason, callId);
    }

    private void produce(ProducerRecord<String, byte[]> record, String what, String callId) {
        long bytes = record.value().length + (record.key() == null ? 0 : record.key().length());
        if (queuedBytes.addAndGet(bytes) > maxQueuedBytes) {
            queuedBytes.addAndGet(-bytes);
            produceFailed("queue_full", what, callId, "the produce queue holds more than " + maxQueuedBytes + " bytes");
            return;
        }
        try {
            sender.execute(() -> {
                try {
                    send(record, what, callId);
                } finally {
                    // The producer copied the record into its own buffer (bounded by buffer.memory), or refused it.
                    queuedBytes.addAndGet(-bytes);
                }
            });
        } catch (RejectedExecutionException e) {
            queuedBytes.addAndGet(-bytes);
            String reason = sender.isShutdown() ? "closed" : "queue_full";
            produceFailed(reason, what, callId, reason);
        }
    }

    private void send(ProducerRecord<String, byte[]> record, String what, String callId) {
        try {
            producer.send(record, (metadata, error) -> {
                if (error != null) {
                    produceFailed("kafka_error", what, callId, error.toString());
                }
            });
        } catch (RuntimeException e) {
            produceFailed("send_failed", what, callId, e.toString());
        }
    }

    private void produceFailed(String reason, String what, String callId, String detail) {
        meters.counter(IngressMetrics.SOCKET_PRODUCE_FAILURES, IngressMetrics.TAG_REASON, reason).increment();
        LOG.warn("socket {} of call {} not produced: {}", what, callId, detail);
    }

    private void count(String typeTag) {
        meters.counter(IngressMetrics.SOCKET_FRAMES, IngressMetrics.TAG_TYPE, typeTag).increment();
    }

    /** The begin message of a socket of the call; a first open when there is no policy or it fails. */
    private GreetingPolicy.Begin beginOf(String callId) {
        if (begins == null) {
            return GreetingPolicy.Begin.FIRST_OPEN;
        }
        try {
            GreetingPolicy.Begin begin = begins.apply(callId);
            return begin == null ? GreetingPolicy.Begin.FIRST_OPEN : begin;
        } catch (RuntimeException e) {
            LOG.warn("begin policy of call {} failed; taken for a first open", callId, e);
            return GreetingPolicy.Begin.FIRST_OPEN;
        }
    }

    private void notifyListener(String what, CallSocket socket, Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            // The listener's failure must not cost the caller the rest of the protocol (config, pings, events).
            LOG.error("edge listener {} failed for call {} ({})", what, socket.callId(), socket.connectionId(), e);
        }
    }

    /**
     * callguard's own config for Retell: {@code call_details} always (the pipeline keeps the call's context), the
     * edge's {@code auto_reconnect}, and {@code transcript_with_tool_calls} when configured (for upstream agents).
     */
    private static String configMessage(boolean autoReconnect, boolean transcriptWithToolCalls) {
        return FrameWriter.write(new ServerFrame.Config(autoReconnect, true, transcriptWithToolCalls ? true : null));
    }

    private String pong(RetellFrame.PingPong ping) {
        // Echoes Retell's timestamp; a ping without an integer one gets ours.
        return FrameWriter.write(new ServerFrame.PingPong(ping.timestamp() != null ? ping.timestamp() : clock.millis()));
    }
}
