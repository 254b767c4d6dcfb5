package io.callguard.ingress;

import io.callguard.common.RecordLimits;
import io.callguard.retell.RetellSignature;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * Settings of the ingress role: the public HTTP listener (the Retell webhook endpoint and the LLM WebSocket
 * endpoint), and the admin listener beside it (metrics, dashboard, call state, capacity).
 */
public final class IngressConfig extends AbstractConfig {

    public static final String HTTP_HOST_CONFIG = "http.host";
    private static final String HTTP_HOST_DOC = "Address the public HTTP listener binds to: the one Retell "
            + "reaches, serving only /webhook, /llm-websocket/, /healthz and /readyz.";

    public static final String HTTP_PORT_CONFIG = "http.port";
    private static final String HTTP_PORT_DOC = "Port of the public HTTP listener; 0 takes any free port.";

    public static final String ADMIN_HOST_CONFIG = "admin.host";
    private static final String ADMIN_HOST_DOC = "Address the admin listener binds to: /metrics, /dashboard, the "
            + "dashboard page at /, /calls/{call_id} (phone numbers, metadata, dynamic variables) and /capacity. "
            + "Keep it off the network Retell and callers reach. With several instances, the others forward call "
            + "state and capacity queries here, so it must be an address they reach (see http.advertised-host).";

    public static final String ADMIN_PORT_CONFIG = "admin.port";
    private static final String ADMIN_PORT_DOC = "Port of the admin listener; 0 takes any free port. Must differ "
            + "from http.port.";

    public static final String ADMIN_TOKEN_CONFIG = "admin.token";
    private static final String ADMIN_TOKEN_DOC = "Bearer token of the admin listener: when set, every admin "
            + "request must send 'Authorization: Bearer <token>' (or Basic with the token as password, so a browser "
            + "can open the dashboard page) and is refused with 401 otherwise. Queries forwarded between instances "
            + "send it, so every instance of a deployment needs the same one. Empty: no authentication; keep "
            + "admin.host private then.";

    public static final String HTTP_MAX_CONNECTIONS_CONFIG = "http.max-connections";
    private static final String HTTP_MAX_CONNECTIONS_DOC = "Most network connections the public listener holds at "
            + "once (HTTP and LLM WebSockets together; Jetty's NetworkConnectionLimit): at the limit it stops "
            + "accepting until one closes, so a flood of connections costs a bounded amount of memory and file "
            + "descriptors. Keep it above the calls this node carries (one socket each, plus webhooks) and below the "
            + "process's file limit (ulimit -n).";

    public static final String HTTP_IDLE_TIMEOUT_MS_CONFIG = "http.idle-timeout-ms";
    private static final String HTTP_IDLE_TIMEOUT_MS_DOC = "An HTTP connection of the public listener with no bytes "
            + "either way for this long is closed (a body read that stalls, a kept-alive connection left open). "
            + "LLM WebSockets have their own, socket.idle-timeout-ms, from their upgrade on.";

    public static final String HTTP_HEADER_TIMEOUT_MS_CONFIG = "http.header-timeout-ms";
    private static final String HTTP_HEADER_TIMEOUT_MS_DOC = "A request's headers must be complete this long after "
            + "the connection opened; a connection still sending them (or sending nothing) then is closed. On a "
            + "kept-alive connection, one that receives bytes for this long without completing a request's headers "
            + "is closed (within twice this). Applies to WebSocket upgrades, not to the sockets after them.";

    public static final String RETELL_API_KEY_CONFIG = "retell.api-key";
    private static final String RETELL_API_KEY_DOC = "Retell API key (the one marked for webhooks), used to verify "
            + "the x-retell-signature of every webhook. Without it every webhook is refused with 401, unless "
            + "webhook.insecure-skip-signature is true.";

    public static final String WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG = "webhook.insecure-skip-signature";
    private static final String WEBHOOK_INSECURE_SKIP_SIGNATURE_DOC = "Accept webhooks without verifying their "
            + "signature. For local experiments only: anyone who can reach the port can inject events.";

    public static final String WEBHOOK_MAX_BODY_BYTES_CONFIG = "webhook.max-body-bytes";
    private static final String WEBHOOK_MAX_BODY_BYTES_DOC = "Largest webhook body accepted; a larger one is "
            + "refused with 413 without being read to its end (at once when its Content-Length says so). The default, "
            + "8 MiB, takes Retell's call_ended or call_analyzed of a 4-hour call (3.5 MB: the transcript three times, "
            + "twice with word timings; an hour is about 0.9 MB) with more than twice its size to spare. Kafka's "
            + "record limits (producers' max.request.size, the topics' max.message.bytes, the embedded broker's "
            + "message.max.bytes) follow it: 4/3 of it (a dead letter's base64) plus 256 KiB.";

    public static final String WEBHOOK_BODY_BUDGET_BYTES_CONFIG = "webhook.body-budget-bytes";
    private static final String WEBHOOK_BODY_BUDGET_BYTES_DOC = "Webhook body bytes all requests together may hold "
            + "at once, counted as they arrive and given back when the request is answered (after Kafka's ack). A body "
            + "whose next bytes do not fit is refused with 503 and Retry-After (Retell retries), and counted. With "
            + "its serialized record, the heap holds up to about twice this for webhooks. At least "
            + "webhook.max-body-bytes.";

    public static final String WEBHOOK_MIN_BODY_RATE_CONFIG = "webhook.min-body-bytes-per-second";
    private static final String WEBHOOK_MIN_BODY_RATE_DOC = "Average rate a webhook body must arrive at, after "
            + "webhook.body-rate-grace-ms from the end of its headers; a slower one is refused with 408 and its "
            + "connection closed (a client that trickles a byte now and then holds no connection for long). Retell "
            + "sends from data centres, megabytes a second; 0 disables the check (the idle timeout still applies).";

    public static final String WEBHOOK_BODY_RATE_GRACE_MS_CONFIG = "webhook.body-rate-grace-ms";
    private static final String WEBHOOK_BODY_RATE_GRACE_MS_DOC = "How long after its headers a webhook body is "
            + "first held to webhook.min-body-bytes-per-second, so a slow start (TCP slow start, a pause of either "
            + "side) is not judged.";

    public static final String WEBHOOK_ACK_TIMEOUT_MS_CONFIG = "webhook.ack-timeout-ms";
    private static final String WEBHOOK_ACK_TIMEOUT_MS_DOC = "How long a webhook waits for Kafka to acknowledge "
            + "its record before it is answered 503 (Retell then retries). Must stay under Retell's 10 s "
            + "webhook timeout.";

    public static final String WEBHOOK_SIGNATURE_TOLERANCE_MS_CONFIG = "webhook.signature-tolerance-ms";
    private static final String WEBHOOK_SIGNATURE_TOLERANCE_MS_DOC = "Largest accepted distance between the "
            + "signature's timestamp and this node's clock.";

    public static final String WEBHOOK_SLOW_THRESHOLD_MS_CONFIG = "webhook.slow-threshold-ms";
    private static final String WEBHOOK_SLOW_THRESHOLD_MS_DOC = "A webhook answered later than this after "
            + "receipt is counted as slow.";

    public static final String CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG = "capacity.inbound-busy-agent-id";
    private static final String CAPACITY_INBOUND_BUSY_AGENT_ID_DOC = "Retell agent that takes an inbound call "
            + "(call_inbound webhook, answered before the phone is picked up) when every partition has no free "
            + "slot and a full queue: callguard answers override_agent_id with it, e.g. an agent that says a busy "
            + "line and ends the call. Empty: no override, so Retell goes on as the phone number is configured "
            + "(its inbound agent takes the call and callguard queues or refuses it there; a number with no "
            + "inbound agent declines it). An edge-only node (no processor) cannot see capacity and never "
            + "overrides. The capacity is read within webhook.ack-timeout-ms, else the call passes.";

    public static final String SOCKET_TOKEN_CONFIG = "socket.token";
    private static final String SOCKET_TOKEN_DOC = "Secret Retell must send as ?token= on the LLM WebSocket URL "
            + "(Retell sends no auth header); the same on every node behind one URL. Not set: the gateway makes one "
            + "once and keeps it in its data dir (data.dir/socket-token, owner-only), printed on the ready line, so a "
            + "restart keeps the URL; a file others may read, or that holds no token, stops the start.";

    public static final String SOCKET_MAX_FRAME_BYTES_CONFIG = "socket.max-frame-bytes";
    private static final String SOCKET_MAX_FRAME_BYTES_DOC = "Largest text message (one JSON frame) accepted on "
            + "the LLM WebSocket; a larger one closes the socket with 1009.";

    public static final String SOCKET_IDLE_TIMEOUT_MS_CONFIG = "socket.idle-timeout-ms";
    private static final String SOCKET_IDLE_TIMEOUT_MS_DOC = "An LLM WebSocket with no frame either way for this "
            + "long is closed. Retell pings every 2 s when auto_reconnect is on; without it, keep this longer "
            + "than the longest silence of a call.";

    public static final String SOCKET_GREETING_CONFIG = "socket.greeting";
    private static final String SOCKET_GREETING_DOC = "The greeting: a call's first begin message (response_id 0) "
            + "when the agent says none of its own (see socket.begin-message), and the edge's bridge of an owed begin "
            + "message of a call known admitted (one not known admitted yet is bridged with the first of "
            + "turn.filler-messages, so a queued or refused caller is not greeted before the hold or busy line); "
            + "empty lets the caller speak first.";

    public static final String SOCKET_BEGIN_MESSAGE_CONFIG = "socket.begin-message";
    public static final String BEGIN_AUTO = "auto";
    public static final String BEGIN_GREETING = "greeting";
    public static final String BEGIN_AGENT = "agent";
    private static final String SOCKET_BEGIN_MESSAGE_DOC = "Who says a call's first begin message (response_id 0): "
            + "auto (owed to the pipeline, whatever the backend: the responder says the greeting, the hold line of a "
            + "queued call, the busy line with end_call of a refused one, or the agent backend's own begin message, "
            + "as an existing custom-LLM server behind agent.backend=retell-socket does; the edge says "
            + "socket.greeting as a bridge when it has not come by turn.budget-ms, and completes it by "
            + "turn.first-words-deadline-ms), agent (the same as auto, kept for existing configs) or greeting (the "
            + "edge says socket.greeting at once; admission cannot then hold or refuse the call at its begin). "
            + "A reconnect (an empty begin) and a call already known refused (the busy line with end_call) are "
            + "always said at once, told from the shared call state (every node's view of call-state, behind its "
            + "own processor's store), so a call moving to another node is not greeted again; one the edge cannot "
            + "tell yet (call-state is about 100 ms behind) is owed in auto and answered empty by the responder (or "
            + "by the edge at turn.budget-ms once call-state shows it, never bridged with the greeting), but "
            + "greeted again with greeting. Every begin goes through the egress's turn ledger, the socket's one "
            + "writer.";

    public static final String SOCKET_AUTO_RECONNECT_CONFIG = "socket.auto-reconnect";
    private static final String SOCKET_AUTO_RECONNECT_DOC = "Whether the config message asks Retell for "
            + "auto_reconnect (pings every 2 s, and a new socket when 5 s pass without an answer).";

    public static final String SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG = "socket.transcript-with-tool-calls";
    private static final String SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_DOC = "Whether the config message asks Retell "
            + "for transcript_with_tool_calls (the transcript with the tool calls made, on every request and "
            + "update_only; larger records). Not set: asked exactly when agent.backend is retell-socket, on behalf of "
            + "upstreams that ask for it (an upstream whose own config does not ask gets the frames without it); the "
            + "other backends do not read it.";

    /** Upper bound of {@code webhook.max-body-bytes}: 256 MiB, whose records still fit Kafka's int sizes. */
    private static final int MAX_BODY_BYTES_LIMIT = 256 * 1024 * 1024;

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(HTTP_HOST_CONFIG, Type.STRING, "127.0.0.1", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    HTTP_HOST_DOC)
            .define(HTTP_PORT_CONFIG, Type.INT, 8080, Range.between(0, 65535), Importance.HIGH, HTTP_PORT_DOC)
            .define(ADMIN_HOST_CONFIG, Type.STRING, "127.0.0.1", new ConfigDef.NonEmptyString(), Importance.HIGH,
                    ADMIN_HOST_DOC)
            .define(ADMIN_PORT_CONFIG, Type.INT, 8081, Range.between(0, 65535), Importance.HIGH, ADMIN_PORT_DOC)
            .define(ADMIN_TOKEN_CONFIG, Type.PASSWORD, null, Importance.HIGH, ADMIN_TOKEN_DOC)
            .define(HTTP_MAX_CONNECTIONS_CONFIG, Type.INT, 5_000, Range.between(1, 1_000_000), Importance.MEDIUM,
                    HTTP_MAX_CONNECTIONS_DOC)
            .define(HTTP_IDLE_TIMEOUT_MS_CONFIG, Type.LONG, 30_000L, Range.between(1_000L, 3_600_000L),
                    Importance.LOW, HTTP_IDLE_TIMEOUT_MS_DOC)
            .define(HTTP_HEADER_TIMEOUT_MS_CONFIG, Type.LONG, 5_000L, Range.between(100L, 600_000L), Importance.LOW,
                    HTTP_HEADER_TIMEOUT_MS_DOC)
            .define(RETELL_API_KEY_CONFIG, Type.PASSWORD, null, Importance.HIGH, RETELL_API_KEY_DOC)
            .define(WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG, Type.BOOLEAN, false, Importance.MEDIUM,
                    WEBHOOK_INSECURE_SKIP_SIGNATURE_DOC)
            .define(WEBHOOK_MAX_BODY_BYTES_CONFIG, Type.INT, RecordLimits.DEFAULT_MAX_BODY_BYTES,
                    Range.between(1, MAX_BODY_BYTES_LIMIT), Importance.MEDIUM, WEBHOOK_MAX_BODY_BYTES_DOC)
            .define(WEBHOOK_BODY_BUDGET_BYTES_CONFIG, Type.LONG, 64L * 1024 * 1024, Range.atLeast(1L),
                    Importance.MEDIUM, WEBHOOK_BODY_BUDGET_BYTES_DOC)
            .define(WEBHOOK_MIN_BODY_RATE_CONFIG, Type.LONG, 16_384L, Range.atLeast(0L), Importance.LOW,
                    WEBHOOK_MIN_BODY_RATE_DOC)
            .define(WEBHOOK_BODY_RATE_GRACE_MS_CONFIG, Type.LONG, 2_000L, Range.between(0L, 600_000L),
                    Importance.LOW, WEBHOOK_BODY_RATE_GRACE_MS_DOC)
            .define(WEBHOOK_ACK_TIMEOUT_MS_CONFIG, Type.LONG, 5_000L, Range.between(1L, 9_000L), Importance.MEDIUM,
                    WEBHOOK_ACK_TIMEOUT_MS_DOC)
            .define(WEBHOOK_SIGNATURE_TOLERANCE_MS_CONFIG, Type.LONG, RetellSignature.DEFAULT_TOLERANCE_MS,
                    Range.atLeast(0L), Importance.LOW, WEBHOOK_SIGNATURE_TOLERANCE_MS_DOC)
            .define(WEBHOOK_SLOW_THRESHOLD_MS_CONFIG, Type.LONG, 500L, Range.atLeast(0L), Importance.LOW,
                    WEBHOOK_SLOW_THRESHOLD_MS_DOC)
            .define(CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG, Type.STRING, "", Importance.MEDIUM,
                    CAPACITY_INBOUND_BUSY_AGENT_ID_DOC)
            .define(SOCKET_TOKEN_CONFIG, Type.PASSWORD, null, Importance.HIGH, SOCKET_TOKEN_DOC)
            .define(SOCKET_MAX_FRAME_BYTES_CONFIG, Type.INT, 1_048_576, Range.between(1_024, 67_108_864),
                    Importance.MEDIUM, SOCKET_MAX_FRAME_BYTES_DOC)
            .define(SOCKET_IDLE_TIMEOUT_MS_CONFIG, Type.LONG, 30_000L, Range.between(1_000L, 3_600_000L),
                    Importance.MEDIUM, SOCKET_IDLE_TIMEOUT_MS_DOC)
            .define(SOCKET_GREETING_CONFIG, Type.STRING, "Hello! How can I help you today?", Importance.MEDIUM,
                    SOCKET_GREETING_DOC)
            .define(SOCKET_BEGIN_MESSAGE_CONFIG, Type.STRING, BEGIN_AUTO,
                    ConfigDef.ValidString.in(BEGIN_AUTO, BEGIN_GREETING, BEGIN_AGENT), Importance.LOW,
                    SOCKET_BEGIN_MESSAGE_DOC)
            .define(SOCKET_AUTO_RECONNECT_CONFIG, Type.BOOLEAN, true, Importance.LOW, SOCKET_AUTO_RECONNECT_DOC)
            .define(SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG, Type.BOOLEAN, false, Importance.LOW,
                    SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_DOC);

    /**
     * Parses and validates the values; unknown keys are ignored (they belong to other roles).
     *
     * @throws org.apache.kafka.common.config.ConfigException naming the key, when a value is invalid
     */
    public IngressConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
        if (adminPort() != 0 && adminPort() == httpPort()) {
            throw new ConfigException(ADMIN_PORT_CONFIG, adminPort(), "must differ from " + HTTP_PORT_CONFIG
                    + ": the admin routes are kept off the public listener");
        }
        if (bodyBudgetBytes() < maxBodyBytes()) {
            throw new ConfigException(WEBHOOK_BODY_BUDGET_BYTES_CONFIG, bodyBudgetBytes(), "must be at least "
                    + WEBHOOK_MAX_BODY_BYTES_CONFIG + " (" + maxBodyBytes() + "), or the largest body is never taken");
        }
    }

    /** Every key this config declares, with type, default and doc. */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public String httpHost() {
        return getString(HTTP_HOST_CONFIG);
    }

    public int httpPort() {
        return getInt(HTTP_PORT_CONFIG);
    }

    public String adminHost() {
        return getString(ADMIN_HOST_CONFIG);
    }

    public int adminPort() {
        return getInt(ADMIN_PORT_CONFIG);
    }

    /** The admin listener's bearer token, or null when none (or an empty one) is configured. */
    public Password adminToken() {
        return nonEmptyPassword(ADMIN_TOKEN_CONFIG);
    }

    /** The Retell API key, or null when none (or an empty one) is configured. */
    public Password retellApiKey() {
        return nonEmptyPassword(RETELL_API_KEY_CONFIG);
    }

    public boolean insecureSkipSignature() {
        return getBoolean(WEBHOOK_INSECURE_SKIP_SIGNATURE_CONFIG);
    }

    public int maxBodyBytes() {
        return getInt(WEBHOOK_MAX_BODY_BYTES_CONFIG);
    }

    /** The webhook body bytes all requests may hold at once. */
    public long bodyBudgetBytes() {
        return getLong(WEBHOOK_BODY_BUDGET_BYTES_CONFIG);
    }

    /** The average rate, bytes a second, a webhook body must keep after the grace; 0 for no check. */
    public long minBodyBytesPerSecond() {
        return getLong(WEBHOOK_MIN_BODY_RATE_CONFIG);
    }

    public long bodyRateGraceMs() {
        return getLong(WEBHOOK_BODY_RATE_GRACE_MS_CONFIG);
    }

    public int httpMaxConnections() {
        return getInt(HTTP_MAX_CONNECTIONS_CONFIG);
    }

    public long httpIdleTimeoutMs() {
        return getLong(HTTP_IDLE_TIMEOUT_MS_CONFIG);
    }

    public long httpHeaderTimeoutMs() {
        return getLong(HTTP_HEADER_TIMEOUT_MS_CONFIG);
    }

    public long ackTimeoutMs() {
        return getLong(WEBHOOK_ACK_TIMEOUT_MS_CONFIG);
    }

    public long signatureToleranceMs() {
        return getLong(WEBHOOK_SIGNATURE_TOLERANCE_MS_CONFIG);
    }

    public long slowThresholdMs() {
        return getLong(WEBHOOK_SLOW_THRESHOLD_MS_CONFIG);
    }

    /** How webhooks are authenticated with this configuration. */
    public SignatureMode signatureMode() {
        if (insecureSkipSignature()) {
            return SignatureMode.INSECURE_SKIP;
        }
        return retellApiKey() == null ? SignatureMode.NO_API_KEY : SignatureMode.VERIFY;
    }

    /** The agent an inbound call over capacity is routed to; empty when none is set. */
    public String inboundBusyAgentId() {
        return getString(CAPACITY_INBOUND_BUSY_AGENT_ID_CONFIG).trim();
    }

    /**
     * This configuration with {@code socket.token} set to {@code token}: the token a gateway keeps in its data dir
     * when none is configured.
     */
    public IngressConfig withSocketToken(String token) {
        Map<String, Object> values = new HashMap<>(originals());
        values.put(SOCKET_TOKEN_CONFIG, Objects.requireNonNull(token, "token"));
        return new IngressConfig(values);
    }

    /** The LLM WebSocket token, or null when none (or an empty one) is configured. */
    public Password socketToken() {
        return nonEmptyPassword(SOCKET_TOKEN_CONFIG);
    }

    /** A secret's value, or null when none (or an empty one) is configured: an empty secret guards nothing. */
    private Password nonEmptyPassword(String key) {
        Password secret = getPassword(key);
        return secret == null || secret.value() == null || secret.value().isEmpty() ? null : secret;
    }

    public int socketMaxFrameBytes() {
        return getInt(SOCKET_MAX_FRAME_BYTES_CONFIG);
    }

    public long socketIdleTimeoutMs() {
        return getLong(SOCKET_IDLE_TIMEOUT_MS_CONFIG);
    }

    /** The begin message's text; never null (empty when so configured). */
    public String socketGreeting() {
        String greeting = getString(SOCKET_GREETING_CONFIG);
        return greeting == null ? "" : greeting;
    }

    /**
     * Whether a call's first begin message is owed to the pipeline ({@code auto} or {@code agent}); false when the
     * edge says {@code socket.greeting} at once ({@code greeting}).
     */
    public boolean socketBeginOwed() {
        return !BEGIN_GREETING.equals(getString(SOCKET_BEGIN_MESSAGE_CONFIG));
    }

    public boolean socketAutoReconnect() {
        return getBoolean(SOCKET_AUTO_RECONNECT_CONFIG);
    }

    public boolean socketTranscriptWithToolCalls() {
        return getBoolean(SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG);
    }
}
