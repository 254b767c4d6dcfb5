package io.callguard.ingress.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.ingress.HttpReply;
import io.callguard.ingress.InboundCapacity;
import io.callguard.ingress.IngressConfig;
import io.callguard.ingress.IngressMetrics;
import io.callguard.ingress.SignatureMode;
import io.callguard.retell.IdempotencyKeys;
import io.callguard.retell.RetellSignature;
import io.callguard.retell.webhook.WebhookBody;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.CallEvent;
import io.callguard.schemas.DeadLetter;
import io.callguard.schemas.EventSource;
import io.callguard.schemas.Json;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import java.io.IOException;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhook}: verifies a Retell webhook, turns it into a {@link CallEvent} on call-events, and answers
 * 2xx only once Kafka acknowledged it.
 *
 * <p>Decisions, in the order they are taken:
 * <ul>
 *   <li>body over {@code webhook.max-body-bytes} (declared, at once, or read): 413, counted, not dead-lettered;</li>
 *   <li>body slower than {@code webhook.min-body-bytes-per-second} after {@code webhook.body-rate-grace-ms}: 408 and
 *       the connection closed, counted ({@code body_too_slow});</li>
 *   <li>no room in {@code webhook.body-budget-bytes} for the body's next bytes (all requests' bodies together): 503
 *       with {@code Retry-After: 1} and the connection closed, counted ({@code body_budget_exhausted}); the bytes
 *       read so far are dropped at once. Bodies are buffered as they arrive, never sized from
 *       {@code Content-Length} (see {@link BoundedBody});</li>
 *   <li>signature missing, malformed, stale or wrong, or no API key configured: 401, counted, not
 *       dead-lettered (such a request need not come from Retell; dead-lettering it would let anyone flood the
 *       topic);</li>
 *   <li>signed but unusable (not JSON, not an object, no string {@code event}, no string {@code call.call_id}):
 *       400 and one {@link DeadLetter} with the original bytes, keyed {@code webhook};</li>
 *   <li>{@code call_inbound} (Retell asks before the phone is answered; no call id yet): answered 200 from the
 *       {@link InboundCapacity} view, within {@code webhook.ack-timeout-ms}, and nothing produced (call-events is
 *       keyed by call id, and nothing needs Kafka's acknowledgement: the answer is the whole effect). When every
 *       partition is full, {@code {"call_inbound":{"override_agent_id":<capacity.inbound-busy-agent-id>}}}, or
 *       with no busy agent set no override, so Retell goes on as the phone number is configured. Otherwise (room,
 *       or capacity unknown, or the view too slow or failed: the call passes, and admission still decides at the
 *       socket) no override. Either way a {@code dynamic_variables} or {@code metadata} object of the request's
 *       {@code call_inbound} is passed back as it came. Counted by {@link IngressMetrics#INBOUND_CALLS};</li>
 *   <li>anything else, unknown event types included: produced keyed by call id; 200 from the producer callback
 *       once acknowledged; 503 with {@code Retry-After: 1} when the send fails or no ack comes within
 *       {@code webhook.ack-timeout-ms}. A record acknowledged after its 503 is harmless: Retell retries and the
 *       processor drops the duplicate by its idempotency key.</li>
 * </ul>
 * Every request is answered exactly once; no Jetty thread waits for Kafka.
 */
public final class WebhookHandler extends Handler.Abstract {

    /** The dead-letter source, and the key of this handler's dead letters. */
    public static final String SOURCE = "webhook";
    /** The inbound-call webhook: answered, not produced. */
    public static final String CALL_INBOUND = WebhookEvent.CALL_INBOUND;
    /** Fields of the {@code call_inbound} answer (Retell's inbound-call webhook). */
    public static final String OVERRIDE_AGENT_ID = "override_agent_id";
    public static final String DYNAMIC_VARIABLES = "dynamic_variables";
    public static final String METADATA = "metadata";

    private static final Logger LOG = LoggerFactory.getLogger(WebhookHandler.class);
    // Bounds of the call-event schema: a longer value would produce a record consumers refuse.
    private static final int MAX_EVENT_LENGTH = 128;
    private static final int MAX_CALL_ID_LENGTH = 256;
    private static final Map<String, String> RETRY_AFTER = Map.of(HttpHeader.RETRY_AFTER.asString(), "1");
    private static final Map<String, String> CLOSE = Map.of(HttpHeader.CONNECTION.asString(), "close");
    private static final Map<String, String> RETRY_AFTER_CLOSE = Map.of(HttpHeader.RETRY_AFTER.asString(), "1",
            HttpHeader.CONNECTION.asString(), "close");
    // HTTP requires a challenge on every 401; this one names the scheme and header a client must use.
    private static final Map<String, String> CHALLENGE = Map.of(HttpHeader.WWW_AUTHENTICATE.asString(),
            "Retell-Signature header=\"" + RetellSignature.HEADER + "\"");

    private final SignatureMode mode;
    private final RetellSignature signature;
    private final int maxBodyBytes;
    private final BoundedBody.Limits bodyLimits;
    private final BodyBudget bodyBudget;
    private final long ackTimeoutMs;
    private final long slowThresholdNanos;
    private final Topic<String, CallEvent> callEvents;
    private final Topic<String, DeadLetter> deadLetters;
    private final Producer<String, byte[]> producer;
    private final MeterRegistry meters;
    private final Clock clock;
    private final String nodeId;
    private final InboundCapacity inboundCapacity;
    private final String inboundBusyAgentId;

    /** A handler that cannot see capacity: every inbound call passes. */
    public WebhookHandler(IngressConfig config, Topics topics, Producer<String, byte[]> producer,
                          MeterRegistry meters, Clock clock, String nodeId) {
        this(config, topics, producer, meters, clock, nodeId, InboundCapacity.UNKNOWN);
    }

    /** @param inboundCapacity what {@code call_inbound} is answered from */
    public WebhookHandler(IngressConfig config, Topics topics, Producer<String, byte[]> producer,
                          MeterRegistry meters, Clock clock, String nodeId, InboundCapacity inboundCapacity) {
        this.mode = config.signatureMode();
        this.signature = mode == SignatureMode.VERIFY
                ? new RetellSignature(config.retellApiKey().value(), clock, config.signatureToleranceMs())
                : null;
        this.maxBodyBytes = config.maxBodyBytes();
        this.bodyLimits = new BoundedBody.Limits(maxBodyBytes, config.minBodyBytesPerSecond(), config.bodyRateGraceMs());
        this.bodyBudget = new BodyBudget(config.bodyBudgetBytes());
        this.ackTimeoutMs = config.ackTimeoutMs();
        this.slowThresholdNanos = TimeUnit.MILLISECONDS.toNanos(config.slowThresholdMs());
        this.callEvents = topics.callEvents();
        this.deadLetters = topics.deadLetters();
        this.producer = Objects.requireNonNull(producer, "producer");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.nodeId = nodeId;
        this.inboundCapacity = Objects.requireNonNull(inboundCapacity, "inboundCapacity");
        this.inboundBusyAgentId = config.inboundBusyAgentId();
        Gauge.builder(IngressMetrics.WEBHOOK_BODY_IN_FLIGHT, bodyBudget, BodyBudget::held)
                .description("Webhook body bytes held by requests not answered yet (webhook.body-budget-bytes)")
                .baseUnit(BaseUnits.BYTES).register(meters);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Exchange exchange = new Exchange(request, response, callback);
        long declared = request.getLength();
        if (declared > maxBodyBytes) {
            exchange.refuse(413, "body_too_large",
                    "body of " + declared + " bytes is over the limit of " + maxBodyBytes, CLOSE);
            return true;
        }
        BoundedBody body = new BoundedBody(request, bodyLimits, bodyBudget, clock,
                request.getComponents().getScheduler(), new BoundedBody.Listener() {
            @Override
            public void onBody(byte[] body) {
                onReceived(exchange, body);
            }

            @Override
            public void onTooLarge(long bytesSeen) {
                exchange.refuse(413, "body_too_large",
                        "body of at least " + bytesSeen + " bytes is over the limit of " + maxBodyBytes, CLOSE);
            }

            @Override
            public void onTooSlow(long bytesSeen, long elapsedMs) {
                LOG.debug("webhook body too slow: {} bytes in {} ms", bytesSeen, elapsedMs);
                exchange.refuse(408, "body_too_slow", "the body came slower than "
                        + bodyLimits.minBytesPerSecond() + " bytes a second", CLOSE);
            }

            @Override
            public void onOverBudget(long bytesSeen) {
                LOG.warn("webhook refused with 503: bodies in flight hold {} of {} bytes, no room for this one's next "
                        + "bytes ({} so far)", bodyBudget.held(), bodyBudget.limit(), bytesSeen);
                exchange.refuse(503, "body_budget_exhausted", "too many webhook bodies in flight; retry",
                        RETRY_AFTER_CLOSE);
            }

            @Override
            public void onFailure(Throwable failure) {
                LOG.debug("webhook body could not be read", failure);
                exchange.refuse(400, "body_read_failed", "the body could not be read", CLOSE);
            }
        });
        // Known to the exchange before any answer, which gives its bytes back.
        exchange.body = body;
        body.start();
        return true;
    }

    private void onReceived(Exchange exchange, byte[] body) {
        if (mode == SignatureMode.NO_API_KEY) {
            exchange.refuse(401, "no_api_key_configured", "no Retell API key is configured to verify webhooks",
                    CHALLENGE);
            return;
        }
        if (mode == SignatureMode.VERIFY) {
            RetellSignature.Verdict verdict = signature.verify(body,
                    exchange.request.getHeaders().get(RetellSignature.HEADER));
            if (!verdict.isOk()) {
                exchange.refuse(401, verdict.reason(), describe(verdict), CHALLENGE);
                return;
            }
        }

        JsonNode tree;
        try {
            tree = Json.mapper().readTree(body);
        } catch (IOException e) {
            deadLetter(exchange, body, "invalid_json", "body is not JSON: " + firstLine(e.getMessage()), null);
            return;
        }
        if (tree == null || tree.isMissingNode()) {
            deadLetter(exchange, body, "invalid_json", "body is empty", null);
            return;
        }
        if (!tree.isObject()) {
            deadLetter(exchange, body, "not_an_object", "body is JSON but not an object", null);
            return;
        }
        String callId = WebhookBody.callId(tree);
        String knownCallId = callId != null && !callId.isEmpty() && callId.length() <= MAX_CALL_ID_LENGTH ? callId : null;
        String event = WebhookBody.event(tree);
        if (event == null) {
            deadLetter(exchange, body, "missing_event", "no string field 'event'", knownCallId);
            return;
        }
        if (event.isEmpty() || event.length() > MAX_EVENT_LENGTH) {
            deadLetter(exchange, body, "invalid_event", "'event' must have 1 to " + MAX_EVENT_LENGTH + " characters",
                    knownCallId);
            return;
        }
        exchange.event = event;
        if (CALL_INBOUND.equals(event)) {
            inbound(exchange, tree.path(CALL_INBOUND));
            return;
        }
        if (callId == null) {
            deadLetter(exchange, body, "missing_call_id", "no string field 'call.call_id'", null);
            return;
        }
        if (knownCallId == null) {
            deadLetter(exchange, body, "invalid_call_id",
                    "'call.call_id' must have 1 to " + MAX_CALL_ID_LENGTH + " characters", null);
            return;
        }
        publish(exchange, new CallEvent(CallEvent.SCHEMA_VERSION, UUID.randomUUID().toString(), callId,
                EventSource.WEBHOOK, event, IdempotencyKeys.forWebhook(event, callId, tree), exchange.receivedAtMs,
                null, nodeId, tree));
    }

    /** Answers {@code call_inbound} from the capacity view, or as "capacity unknown" when it is not in time. */
    private void inbound(Exchange exchange, JsonNode request) {
        // Armed before the check: a view that never completes still gets the call through in time.
        exchange.timeout = exchange.request.getComponents().getScheduler().schedule(
                () -> answerInbound(exchange, request, null), ackTimeoutMs, TimeUnit.MILLISECONDS);
        CompletionStage<InboundCapacity.State> check;
        try {
            check = inboundCapacity.check();
        } catch (RuntimeException e) {
            check = CompletableFuture.failedFuture(e);
        }
        check.whenComplete((state, error) -> {
            if (error != null) {
                LOG.warn("capacity view failed for an inbound call; it passes: {}", error.toString());
            }
            answerInbound(exchange, request, error != null || state == null ? InboundCapacity.State.UNKNOWN : state);
        });
    }

    /** @param state the view's answer; null when it did not come in time */
    private void answerInbound(Exchange exchange, JsonNode request, InboundCapacity.State state) {
        String outcome = state != InboundCapacity.State.FULL ? IngressMetrics.INBOUND_PASSED
                : inboundBusyAgentId.isEmpty() ? IngressMetrics.INBOUND_NUMBER_DEFAULT : IngressMetrics.INBOUND_BUSY_AGENT;
        ObjectNode answer = Json.mapper().createObjectNode();
        ObjectNode inbound = answer.putObject(CALL_INBOUND);
        if (IngressMetrics.INBOUND_BUSY_AGENT.equals(outcome)) {
            inbound.put(OVERRIDE_AGENT_ID, inboundBusyAgentId);
        }
        for (String field : new String[] {DYNAMIC_VARIABLES, METADATA}) {
            if (request.path(field).isObject()) {
                inbound.set(field, request.get(field));
            }
        }
        String capacity = state == null ? IngressMetrics.CAPACITY_TIMEOUT : state.tag();
        // Counted by the one answer that wins (the view or the timeout), before it is written.
        exchange.accept(HttpReply.json(200, answer), () -> {
            meters.counter(IngressMetrics.INBOUND_CALLS, IngressMetrics.TAG_OUTCOME, outcome,
                    IngressMetrics.TAG_CAPACITY, capacity).increment();
            if (!IngressMetrics.INBOUND_PASSED.equals(outcome)) {
                LOG.info("inbound call over capacity: {}", IngressMetrics.INBOUND_BUSY_AGENT.equals(outcome)
                        ? "routed to the busy agent " + inboundBusyAgentId : "no busy agent set, no override");
            }
        });
    }

    private void publish(Exchange exchange, CallEvent event) {
        byte[] value = callEvents.valueSerde().serializer().serialize(callEvents.name(), event);
        // Armed before send(): even a send() stuck on metadata (max.block.ms) is answered in time.
        exchange.timeout = exchange.request.getComponents().getScheduler().schedule(
                () -> exchange.refuse(503, "ack_timeout",
                        "Kafka did not acknowledge within " + ackTimeoutMs + " ms", RETRY_AFTER),
                ackTimeoutMs, TimeUnit.MILLISECONDS);
        // The callback keeps the names only: the event's payload tree (a long call's transcript) is garbage now.
        String type = event.type();
        String callId = event.callId();
        String eventId = event.eventId();
        try {
            producer.send(new ProducerRecord<>(callEvents.name(), callId, value), (metadata, error) -> {
                boolean answered = error == null
                        ? exchange.accept(HttpReply.json(200, new Accepted("accepted", eventId)))
                        : exchange.refuse(503, "kafka_error", "Kafka refused the event", RETRY_AFTER);
                if (error != null) {
                    LOG.warn("webhook {} of call {} not produced: {}", type, callId, error.toString());
                }
                if (!answered) {
                    LOG.debug("webhook {} of call {} ({}) completed after its 503: {}", type, callId, eventId,
                            error == null ? "acknowledged" : error.toString());
                }
            });
        } catch (RuntimeException e) {
            LOG.warn("webhook {} of call {} not produced: {}", type, callId, e.toString());
            exchange.refuse(503, "kafka_error", "Kafka refused the event", RETRY_AFTER);
        }
    }

    private void deadLetter(Exchange exchange, byte[] body, String reason, String detail, String callId) {
        DeadLetter letter = DeadLetter.atEdge(SOURCE, reason, detail, callId, exchange.receivedAtMs, body);
        meters.counter(IngressMetrics.DEAD_LETTERS, IngressMetrics.TAG_SOURCE, SOURCE, IngressMetrics.TAG_REASON, reason)
                .increment();
        LOG.warn("dead-lettering a webhook: {} ({}), call {}, {} bytes", reason, detail, callId, body.length);
        try {
            byte[] value = deadLetters.valueSerde().serializer().serialize(deadLetters.name(), letter);
            producer.send(new ProducerRecord<>(deadLetters.name(), SOURCE, value), (metadata, error) -> {
                if (error != null) {
                    LOG.error("dead letter {} of call {} lost: {}", reason, callId, error.toString());
                }
            });
        } catch (RuntimeException e) {
            LOG.error("dead letter {} of call {} lost: {}", reason, callId, e.toString());
        }
        // Answered at once: a 400 acknowledges nothing, so it need not wait for the dead letter's ack.
        exchange.refuse(400, reason, detail, Map.of());
    }

    private static String describe(RetellSignature.Verdict verdict) {
        return switch (verdict) {
            case MISSING -> "missing " + RetellSignature.HEADER + " header";
            case MALFORMED -> RetellSignature.HEADER + " is not v=<timestamp ms>,d=<hex digest>";
            case STALE -> "signature timestamp is too far from this server's clock";
            case MISMATCH -> "signature does not match the body";
            case OK -> "ok";
        };
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    /** The body of a 200 for a produced webhook. */
    public record Accepted(String status, String eventId) {
    }

    /** One webhook request: answered exactly once, whoever comes first (ack, error, timeout). */
    private final class Exchange {
        final Request request;
        final Response response;
        final Callback callback;
        final long receivedAtMs = clock.millis();
        final Timer.Sample sample = Timer.start(meters);
        final AtomicBoolean answered = new AtomicBoolean();
        volatile String event;
        volatile Scheduler.Task timeout;
        /** The body being read, or read; its bytes go back to the budget when this exchange is answered. */
        volatile BoundedBody body;

        Exchange(Request request, Response response, Callback callback) {
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        boolean accept(HttpReply reply) {
            return accept(reply, () -> { });
        }

        /** @param won run only by the answer that wins, before it is written */
        boolean accept(HttpReply reply, Runnable won) {
            return answer(reply, IngressMetrics.OUTCOME_ACCEPTED, null, Map.of(), won);
        }

        boolean refuse(int status, String reason, String message, Map<String, String> headers) {
            return answer(Replies.error(status, reason, message), IngressMetrics.OUTCOME_REJECTED, reason, headers,
                    () -> { });
        }

        private boolean answer(HttpReply reply, String outcome, String reason, Map<String, String> headers,
                Runnable won) {
            if (!answered.compareAndSet(false, true)) {
                return false;
            }
            won.run();
            Scheduler.Task armed = timeout;
            if (armed != null) {
                armed.cancel();
            }
            BoundedBody read = body;
            if (read != null) {
                read.release();
            }
            String eventTag = IngressMetrics.eventTag(event);
            long nanos = sample.stop(Timer.builder(IngressMetrics.WEBHOOK_LATENCY)
                    .description("Receipt of a webhook to its answer; for accepted ones, to Kafka's ack")
                    .tag(IngressMetrics.TAG_EVENT, eventTag)
                    .tag(IngressMetrics.TAG_OUTCOME, outcome)
                    .publishPercentiles(0.5, 0.99)
                    .publishPercentileHistogram()
                    .register(meters));
            if (nanos > slowThresholdNanos) {
                meters.counter(IngressMetrics.WEBHOOK_SLOW, IngressMetrics.TAG_EVENT, eventTag,
                        IngressMetrics.TAG_OUTCOME, outcome).increment();
            }
            if (reason != null) {
                meters.counter(IngressMetrics.WEBHOOKS_REJECTED, IngressMetrics.TAG_REASON, reason).increment();
            }
            Replies.write(response, callback, reply, headers);
            return true;
        }
    }
}
