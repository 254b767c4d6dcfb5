package io.callguard.cli.baseline;

import io.callguard.ingress.SocketFrameHandler;
import io.callguard.processor.responder.AgentBackend;
import io.callguard.processor.responder.AgentEvent;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.ScriptBackend;
import io.callguard.processor.responder.Turn;
import io.callguard.retell.frames.FrameParser;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.frames.ParseResult;
import io.callguard.retell.frames.RetellFrame;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.frames.Utterance;
import io.callguard.retell.socket.CallSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Benchmark baseline ({@code run --bench-baseline}): the configured script backend called straight from the edge
 * socket, with none of callguard's pipeline (no Kafka, responder or watchdog), so a drill can measure what the
 * pipeline costs. Plugged into the ingress as its socket frame handler; never in production.
 *
 * <p>Decisions, per frame: open: the begin message ({@code response_id} 0, the greeting); a ping: echoed with its
 * timestamp; a turn request: answered whole by the backend, in one complete response; anything else, or a frame
 * that is not a JSON object: ignored.
 */
public final class DirectBaseline implements SocketFrameHandler, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DirectBaseline.class);

    private final String greeting;
    private final ScheduledThreadPoolExecutor timer;
    private final AgentBackend backend;

    /**
     * @param greeting what the begin message says ({@code socket.greeting})
     * @param config   the responder settings the script backend reads (its delays and replies)
     */
    public DirectBaseline(String greeting, ResponderConfig config) {
        this.greeting = Objects.requireNonNull(greeting, "greeting");
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "callguard-bench-direct");
            t.setDaemon(true);
            return t;
        });
        this.backend = new ScriptBackend(config, timer, new SplittableRandom(1));
        LOG.warn("turns are answered directly at the edge (benchmark baseline): no Kafka, no responder, no watchdog");
    }

    /** A baseline around a given backend and timer (tests); the timer is shut down by {@link #close()}. */
    DirectBaseline(String greeting, AgentBackend backend, ScheduledThreadPoolExecutor timer) {
        this.greeting = greeting;
        this.backend = backend;
        this.timer = timer;
    }

    /** The timer the backend runs its delays on. */
    ScheduledExecutorService timer() {
        return timer;
    }

    @Override
    public void opened(CallSocket socket) {
        socket.send(FrameWriter.write(ServerFrame.Response.of(0, greeting, true)));
    }

    @Override
    public void text(CallSocket socket, String frame) {
        if (!(FrameParser.fromRetell(frame) instanceof ParseResult.Parsed<RetellFrame> parsed)) {
            return;
        }
        if (parsed.frame() instanceof RetellFrame.PingPong ping) {
            socket.send(FrameWriter.write(new ServerFrame.PingPong(ping.timestamp() != null ? ping.timestamp()
                    : System.currentTimeMillis())));
        } else if (parsed.frame() instanceof RetellFrame.Turn request) {
            long responseId = request.responseId();
            List<Turn.Utterance> transcript = new ArrayList<>();
            for (Utterance u : request.transcript()) {
                transcript.add(new Turn.Utterance(u.role(), u.content()));
            }
            Turn turn = new Turn(socket.callId(), responseId, parsed.tree().path(InteractionType.FIELD).asText(),
                    transcript, null, Map.of());
            StringBuilder text = new StringBuilder();
            backend.generate(turn, AgentEvent.textsTo(chunk -> {
                synchronized (text) {
                    text.append(chunk);
                }
            })).thenRun(() -> {
                String whole;
                synchronized (text) {
                    whole = text.toString();
                }
                socket.send(FrameWriter.write(ServerFrame.Response.of(responseId, whole, true)));
            });
        }
    }

    @Override
    public void closed(CallSocket socket, int code, String reason) {
        // Nothing is kept per socket.
    }

    /** Stops the backend and its timer. */
    @Override
    public void close() {
        backend.close();
        timer.shutdownNow();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
