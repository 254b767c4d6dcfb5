package io.callguard.egress;

import io.callguard.common.SecretText;
import io.callguard.egress.internal.DialOutEndpoint;
import io.callguard.egress.internal.EgressMeters;
import io.callguard.retell.socket.EdgeListener;
import io.callguard.retell.socket.SessionCallSocket;
import io.callguard.retell.socket.SocketFrames;
import io.github.resilience4j.core.IntervalFunction;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.StatusCode;
import org.eclipse.jetty.websocket.client.WebSocketClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dials the LLM WebSocket for a call ({@code dialout.url-template}) and keeps it dialled: a close other than
 * 1000, or a failed connection attempt, is redialled after a randomized exponential backoff
 * (resilience4j {@link IntervalFunction#ofExponentialRandomBackoff}) waited through the injected
 * {@link ScheduledExecutorService}; close 1000 or {@link #hangUp} ends it. Up to {@code dialout.max-attempts}
 * attempts in a row; an attempt that connects resets the count.
 *
 * <p>Each open socket is registered with the edge listener (so answers and the watchdog reach it) and handed
 * to {@link SocketFrames} (so Retell's frames enter the ingress path). Reconnects are counted by the socket
 * registry with {@code mode=dial_out}; attempts here as {@code callguard.dialout.attempts}.
 *
 * <p>The URL carries the agent side's secret in its query string: every log line here redacts it
 * ({@link SecretText}), the failures too, since a failed upgrade names the URI it asked for.
 */
public final class DialOutClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DialOutClient.class);
    private static final AtomicLong CONNECTIONS = new AtomicLong();

    private final String urlTemplate;
    private final int maxAttempts;
    private final IntervalFunction backoff;
    private final EdgeListener edge;
    private final SocketFrames frames;
    private final ScheduledExecutorService scheduler;
    private final EgressMeters meters;
    private final WebSocketClient client = new WebSocketClient();
    private final ConcurrentHashMap<String, Dial> dials = new ConcurrentHashMap<>();
    private final Events events = new Events();

    /**
     * @param config    with {@code dialout.enabled}, so its URL template was checked at load
     * @param edge      the edge listener every dial-out socket is registered with ({@link EgressRole#edgeListener()})
     * @param frames    where the sockets' frames go
     * @param scheduler where backoff waits happen
     */
    public DialOutClient(EgressConfig config, EdgeListener edge, SocketFrames frames,
                         ScheduledExecutorService scheduler, MeterRegistry meters) {
        this.urlTemplate = config.dialOutUrlTemplate();
        this.maxAttempts = config.dialOutMaxAttempts();
        this.backoff = IntervalFunction.ofExponentialRandomBackoff(config.dialOutInitialBackoffMs(),
                config.dialOutBackoffMultiplier(), config.dialOutRandomizationFactor(), config.dialOutMaxBackoffMs());
        this.edge = Objects.requireNonNull(edge, "edge");
        this.frames = Objects.requireNonNull(frames, "frames");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.meters = new EgressMeters(meters);
        client.setConnectTimeout(config.dialOutConnectTimeoutMs());
        client.setStopAtShutdown(false);
    }

    /** Starts the Jetty client. */
    public void start() {
        try {
            client.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the dial-out WebSocket client", e);
        }
    }

    /** The URL dialled for a call: the template with {@code {call_id}} replaced by the URL-encoded id. */
    public URI urlFor(String callId) {
        String encoded = URLEncoder.encode(callId, StandardCharsets.UTF_8).replace("+", "%20");
        return URI.create(urlTemplate.replace(EgressConfig.CALL_ID_PLACEHOLDER, encoded));
    }

    /** Dials the call now, unless it is already dialled (open, connecting or waiting to redial). */
    public void dial(String callId) {
        Objects.requireNonNull(callId, "callId");
        Dial fresh = new Dial(callId, urlFor(callId));
        if (dials.putIfAbsent(callId, fresh) == null) {
            attempt(fresh);
        }
    }

    /** Stops redialling the call and closes its socket with 1000 (a deliberate hang-up). */
    public void hangUp(String callId) {
        Dial dial = dials.remove(callId);
        if (dial != null) {
            dial.stop(StatusCode.NORMAL, "hang-up");
        }
    }

    /** True while the call is open, connecting or waiting to redial. */
    public boolean isDialling(String callId) {
        return dials.containsKey(callId);
    }

    /** Stops every dial (sockets closed with 1001, going away; not 1000, which would hang the calls up). */
    @Override
    public void close() {
        dials.forEach((callId, dial) -> {
            dials.remove(callId, dial);
            dial.stop(StatusCode.SHUTDOWN, "callguard shutting down");
        });
        try {
            client.stop();
        } catch (Exception e) {
            LOG.warn("dial-out client did not stop cleanly", e);
        }
    }

    private void attempt(Dial dial) {
        DialOutEndpoint endpoint;
        synchronized (dial) {
            if (dial.stopped) {
                return;
            }
            dial.pending = null;
            dial.attemptsInRow++;
            endpoint = new DialOutEndpoint(dial.callId, dial.callId + "/out-" + CONNECTIONS.incrementAndGet(), events);
            dial.endpoint = endpoint;
        }
        try {
            client.connect(endpoint, dial.uri).whenComplete((session, failure) -> {
                if (failure != null) {
                    failed(dial, failure);
                }
            });
        } catch (IOException | RuntimeException e) {
            failed(dial, e);
        }
    }

    private void failed(Dial dial, Throwable failure) {
        meters.dialOutAttempt(EgressMetrics.OUTCOME_FAILED);
        synchronized (dial) {
            if (dial.stopped) {
                return;
            }
            if (dial.attemptsInRow >= maxAttempts) {
                LOG.warn("call {}: dial-out to {} failed {} times in a row, giving up: {}", dial.callId,
                        SecretText.redact(dial.uri), dial.attemptsInRow, SecretText.redact(failure));
                dial.stopped = true;
                dials.remove(dial.callId, dial);
                meters.dialOutExhausted();
                return;
            }
            LOG.info("call {}: dial-out attempt {} failed: {}", dial.callId, dial.attemptsInRow,
                    SecretText.redact(failure));
            scheduleRedial(dial);
        }
    }

    /** Called holding the dial's lock. */
    private void scheduleRedial(Dial dial) {
        long delayMs = backoff.apply(++dial.waits);
        dial.pending = scheduler.schedule(() -> attempt(dial), delayMs, TimeUnit.MILLISECONDS);
    }

    private final class Events implements DialOutEndpoint.Events {

        @Override
        public void opened(DialOutEndpoint endpoint, Session session) {
            Dial dial = dials.get(endpoint.callId());
            SessionCallSocket socket = endpoint.socket();
            boolean wanted = false;
            if (dial != null) {
                synchronized (dial) {
                    wanted = !dial.stopped && dial.endpoint == endpoint;
                    if (wanted) {
                        dial.attemptsInRow = 0;
                        dial.waits = 0;
                    }
                }
            }
            if (!wanted) {
                // Hung up while connecting.
                socket.close(StatusCode.NORMAL, "hang-up");
                return;
            }
            meters.dialOutAttempt(EgressMetrics.OUTCOME_CONNECTED);
            edge.socketOpened(socket);
            frames.opened(socket);
        }

        @Override
        public void text(DialOutEndpoint endpoint, String frame) {
            frames.text(endpoint.socket(), frame);
        }

        @Override
        public void closed(DialOutEndpoint endpoint, int code, String reason) {
            SessionCallSocket socket = endpoint.socket();
            if (socket == null) {
                return;
            }
            frames.closed(socket, code, reason);
            edge.socketClosed(socket, code, reason);
            Dial dial = dials.get(endpoint.callId());
            if (dial == null) {
                return;
            }
            synchronized (dial) {
                if (dial.stopped || dial.endpoint != endpoint) {
                    return;
                }
                if (code == StatusCode.NORMAL) {
                    LOG.info("call {}: dial-out socket closed with 1000, not redialling", dial.callId);
                    dial.stopped = true;
                    dials.remove(dial.callId, dial);
                    return;
                }
                LOG.info("call {}: dial-out socket closed with {} {}, redialling", dial.callId, code,
                        SecretText.redact(reason));
                scheduleRedial(dial);
            }
        }

        @Override
        public void error(DialOutEndpoint endpoint, Throwable cause) {
            LOG.debug("call {}: dial-out socket {} error: {}", endpoint.callId(), endpoint.connectionId(),
                    SecretText.redact(cause));
        }
    }

    /** One call being dialled; fields guarded by its monitor. */
    private static final class Dial {
        final String callId;
        final URI uri;
        boolean stopped;
        int attemptsInRow;
        int waits;
        DialOutEndpoint endpoint;
        ScheduledFuture<?> pending;

        Dial(String callId, URI uri) {
            this.callId = callId;
            this.uri = uri;
        }

        void stop(int code, String reason) {
            SessionCallSocket socket;
            synchronized (this) {
                stopped = true;
                if (pending != null) {
                    pending.cancel(false);
                    pending = null;
                }
                socket = endpoint == null ? null : endpoint.socket();
            }
            if (socket != null) {
                socket.close(code, reason);
            }
        }
    }
}
