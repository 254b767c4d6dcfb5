package io.callguard.cli.drill;

import io.callguard.common.CommonConfig;
import io.callguard.processor.responder.FallbackReason;
import io.callguard.processor.responder.ResponderConfig;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a drill plays against a gateway, or against an upstream custom-LLM server reached directly (sockets only).
 *
 * @param target            the gateway's base URL, e.g. {@code http://127.0.0.1:8080/}; null only when
 *                          {@code socketUrl} is given and no webhooks are sent
 * @param apiKey            the Retell API key webhooks are signed with; empty (or null) when no webhooks are sent
 * @param socketToken       the gateway's socket token ({@code ?token=}); may be empty (or null) when the socket URL
 *                          does not use it: no webhooks on the default URL, or a template without {@code {token}}
 * @param calls             concurrent calls
 * @param duration          how long each call lasts
 * @param turnInterval      the caller speaks again this long after the whole answer (its content_complete)
 * @param budget            no first words this long after the request is a silent turn
 * @param duplicateWebhooks each webhook is sent this many times (1 = no duplicates)
 * @param dropSockets       fraction of calls whose socket is cut mid-call and reconnected, 0..1
 * @param outOfOrder        some calls get {@code call_ended} before {@code call_started}
 * @param badInput          fraction of calls that also send a malformed webhook and a malformed frame, 0..1
 * @param seed              seed of every random choice, so a drill can be repeated
 * @param rampUp            the calls start evenly spread over this time (each still lasts {@code duration})
 * @param interruptRate     chance per turn, 0..1, that the caller speaks again after the answer's first chunk
 * @param fillerLines       the gateway's filler lines, to tell a bridged answer
 * @param closingLines      the gateway's closing lines, to tell a truncated or closing-only answer
 * @param expectEcho        the answer must start with {@code You said: <question>} (script backend, sim-llm)
 * @param minWholeAnswers   the run fails when fewer turns than this share, 0..1, carried the whole answer
 * @param webhooks          send the call's webhooks; false plays the sockets only (an upstream reached directly)
 * @param socketUrl         the socket URL template, {@code ws://} or {@code wss://} with {@code {call_id}} and
 *                          optionally {@code {token}}; null for {@code <target>/llm-websocket/{call_id}?token=<token>}
 * @param endCallRate       share of calls, 0..1, whose caller says goodbye on turn {@value Ending#TURN} (end_call expected)
 * @param transferRate      share of calls, 0..1, whose caller asks to be transferred on turn {@value Ending#TURN};
 *                          with {@code endCallRate} at most 1
 * @param admin             the gateway's admin listener, where its metrics are read; null: beside the target on the
 *                          default port ({@link GatewayAdmin#beside}), or none without a target
 */
public record DrillOptions(URI target, String apiKey, String socketToken, int calls, Duration duration,
                           Duration turnInterval, Duration budget, int duplicateWebhooks, double dropSockets,
                           boolean outOfOrder, double badInput, long seed, Duration rampUp, double interruptRate,
                           List<String> fillerLines, List<String> closingLines, boolean expectEcho,
                           double minWholeAnswers, boolean webhooks, String socketUrl, double endCallRate,
                           double transferRate, GatewayAdmin admin) {

    /** The default of {@code --min-whole-answers}. */
    public static final double DEFAULT_MIN_WHOLE_ANSWERS = 0.99;
    /** Where a call's id goes in {@code --socket-url}. */
    public static final String CALL_ID_PLACEHOLDER = "{call_id}";
    /** Where the socket token goes in {@code --socket-url}. */
    public static final String TOKEN_PLACEHOLDER = "{token}";

    /** A drill without interruptions, judged against the gateway's default lines, expecting echoes. */
    public DrillOptions(URI target, String apiKey, String socketToken, int calls, Duration duration,
                        Duration turnInterval, Duration budget, int duplicateWebhooks, double dropSockets,
                        boolean outOfOrder, double badInput, long seed, Duration rampUp) {
        this(target, apiKey, socketToken, calls, duration, turnInterval, budget, duplicateWebhooks, dropSockets,
                outOfOrder, badInput, seed, rampUp, 0, gatewayFillerLines(), gatewayClosingLines(), true,
                DEFAULT_MIN_WHOLE_ANSWERS, true, null, 0, 0, null);
    }

    public DrillOptions {
        apiKey = apiKey == null ? "" : apiKey;
        socketToken = socketToken == null ? "" : socketToken;
        requireSockets(target, webhooks, socketUrl, apiKey, socketToken);
        if (!webhooks && (duplicateWebhooks != 1 || outOfOrder || badInput > 0)) {
            throw new IllegalArgumentException("--duplicate-webhooks, --out-of-order and --bad-input play webhooks: "
                    + "not with --webhooks false");
        }
        if (!(endCallRate >= 0 && endCallRate <= 1 && transferRate >= 0 && transferRate <= 1)
                || endCallRate + transferRate > 1) {
            throw new IllegalArgumentException("--end-call-rate and --transfer-rate must be within 0..1 and add up "
                    + "to at most 1, were " + endCallRate + " and " + transferRate);
        }
        requireRange("calls", calls, 1, 100_000);
        requireRange("duplicate-webhooks", duplicateWebhooks, 1, 10);
        if (dropSockets < 0 || dropSockets > 1 || badInput < 0 || badInput > 1) {
            throw new IllegalArgumentException("--drop-sockets and --bad-input must be within 0..1, were "
                    + dropSockets + " and " + badInput);
        }
        if (turnInterval.toMillis() < 50 || duration.compareTo(turnInterval) < 0 || budget.toMillis() < 1) {
            throw new IllegalArgumentException("need turn-interval >= 50 ms and duration >= turn-interval, were "
                    + turnInterval.toMillis() + " ms and " + duration.toMillis() + " ms");
        }
        if (rampUp.isNegative() || rampUp.compareTo(Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("--ramp-up must be within 0..1h, was " + rampUp);
        }
        if (!(interruptRate >= 0 && interruptRate <= 1)) {
            throw new IllegalArgumentException("--interrupt-rate must be within 0..1, was " + interruptRate);
        }
        if (!(minWholeAnswers >= 0 && minWholeAnswers <= 1)) {
            throw new IllegalArgumentException("--min-whole-answers must be within 0..1, was " + minWholeAnswers);
        }
        fillerLines = List.copyOf(fillerLines);
        closingLines = List.copyOf(closingLines);
        if (target != null && !target.toString().endsWith("/")) {
            target = URI.create(target + "/");
        }
        if (admin == null && target != null) {
            admin = GatewayAdmin.beside(target, "");
        }
    }

    /** What the sockets need: a target or a template, the API key for webhooks, the token where the URL uses it. */
    private static void requireSockets(URI target, boolean webhooks, String socketUrl, String apiKey,
                                       String socketToken) {
        if (target == null && (webhooks || socketUrl == null)) {
            throw new IllegalArgumentException(webhooks ? "give --target: the webhooks go to <target>/webhook"
                    : "give --target or --socket-url");
        }
        if (webhooks && apiKey.isEmpty()) {
            throw new IllegalArgumentException("give --retell-api-key (or RETELL_API_KEY) to sign the webhooks, "
                    + "or --webhooks false to play the sockets only");
        }
        if (socketUrl != null) {
            if (!socketUrl.startsWith("ws://") && !socketUrl.startsWith("wss://")
                    || !socketUrl.contains(CALL_ID_PLACEHOLDER)) {
                throw new IllegalArgumentException("--socket-url must be a ws:// or wss:// URL with "
                        + CALL_ID_PLACEHOLDER + ", e.g. ws://127.0.0.1:9000/llm-websocket/{call_id}, was '"
                        + socketUrl + "'");
            }
            try {
                URI.create(socketUrl.replace(CALL_ID_PLACEHOLDER, "c").replace(TOKEN_PLACEHOLDER, "t"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--socket-url is not a URL: " + e.getMessage());
            }
        }
        boolean needsToken = socketUrl == null ? webhooks : socketUrl.contains(TOKEN_PLACEHOLDER);
        if (needsToken && socketToken.isEmpty()) {
            throw new IllegalArgumentException("give --socket-token (or CALLGUARD_SOCKET_TOKEN): the "
                    + (socketUrl == null ? "gateway's socket URL" : "--socket-url") + " needs it");
        }
    }

    private static void requireRange(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException("--" + name + " must be within " + min + ".." + max + ", was " + value);
        }
    }

    /** The same drill with calls lasting {@code callDuration} instead (a warm-up run). */
    public DrillOptions withDuration(Duration callDuration) {
        return new DrillOptions(target, apiKey, socketToken, calls, callDuration, turnInterval, budget,
                duplicateWebhooks, dropSockets, outOfOrder, badInput, seed, rampUp, interruptRate, fillerLines,
                closingLines, expectEcho, minWholeAnswers, webhooks, socketUrl, endCallRate, transferRate, admin);
    }

    /** The same drill reading the gateway's metrics from {@code gatewayAdmin} instead. */
    public DrillOptions withAdmin(GatewayAdmin gatewayAdmin) {
        return new DrillOptions(target, apiKey, socketToken, calls, duration, turnInterval, budget,
                duplicateWebhooks, dropSockets, outOfOrder, badInput, seed, rampUp, interruptRate, fillerLines,
                closingLines, expectEcho, minWholeAnswers, webhooks, socketUrl, endCallRate, transferRate,
                Objects.requireNonNull(gatewayAdmin, "gatewayAdmin"));
    }

    /** The filler lines a gateway says with its defaults ({@code turn.filler-messages}). */
    /** The gateway's default {@code turn.budget-ms}: first words later than this were over its budget. */
    public static long gatewayBudgetMs() {
        return new CommonConfig(Map.of()).turnBudgetMs();
    }

    public static List<String> gatewayFillerLines() {
        return new CommonConfig(Map.of()).turnFillerMessages();
    }

    /** Every closing line a gateway says with its defaults: each fallback reason's and {@code turn.fallback-message}. */
    public static List<String> gatewayClosingLines() {
        CommonConfig common = new CommonConfig(Map.of());
        ResponderConfig responder = new ResponderConfig(Map.of());
        Set<String> lines = new LinkedHashSet<>();
        for (FallbackReason reason : FallbackReason.values()) {
            lines.add(responder.fallbackMessage(reason, common));
        }
        lines.add(common.turnFallbackMessage());
        return List.copyOf(lines);
    }

    /** Splits a {@code '|'}-separated list of lines, as {@code turn.filler-messages} is written. */
    public static List<String> lines(String text) {
        return java.util.Arrays.stream(text.split("\\|")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    /** The WebSocket URL of a call, as Retell dials it: the template's, or the gateway's with the token, if any. */
    public URI socketUri(String callId) {
        String token = URLEncoder.encode(socketToken, StandardCharsets.UTF_8);
        if (socketUrl != null) {
            return URI.create(socketUrl.replace(CALL_ID_PLACEHOLDER, callId).replace(TOKEN_PLACEHOLDER, token));
        }
        String ws = target.toString().replaceFirst("^http", "ws");
        return URI.create(ws + "llm-websocket/" + callId + (socketToken.isEmpty() ? "" : "?token=" + token));
    }

    /** What the drill plays against, for the reports: the target, or the socket URL template without one. */
    public String describeTarget() {
        return target != null ? target.toString() : socketUrl;
    }
}
