package io.callguard.cli.drill;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * What a drill plays against a gateway.
 *
 * @param target            the gateway's base URL, e.g. {@code http://127.0.0.1:8080/}
 * @param apiKey            the Retell API key webhooks are signed with
 * @param socketToken       the gateway's socket token ({@code ?token=})
 * @param calls             concurrent calls
 * @param duration          how long each call lasts
 * @param turnInterval      time between two {@code response_required} of a call
 * @param budget            a complete answer later than this after the request is a silent turn
 * @param duplicateWebhooks each webhook is sent this many times (1 = no duplicates)
 * @param dropSockets       fraction of calls whose socket is cut mid-call and reconnected, 0..1
 * @param outOfOrder        some calls get {@code call_ended} before {@code call_started}
 * @param badInput          fraction of calls that also send a malformed webhook and a malformed frame, 0..1
 * @param seed              seed of every random choice, so a drill can be repeated
 * @param rampUp            the calls start evenly spread over this time (each still lasts {@code duration})
 */
public record DrillOptions(URI target, String apiKey, String socketToken, int calls, Duration duration,
                           Duration turnInterval, Duration budget, int duplicateWebhooks, double dropSockets,
                           boolean outOfOrder, double badInput, long seed, Duration rampUp) {

    public DrillOptions {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(apiKey, "apiKey");
        Objects.requireNonNull(socketToken, "socketToken");
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
        if (!target.toString().endsWith("/")) {
            target = URI.create(target + "/");
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
                duplicateWebhooks, dropSockets, outOfOrder, badInput, seed, rampUp);
    }

    /** The WebSocket URL of a call, as Retell dials it. */
    public URI socketUri(String callId) {
        String ws = target.toString().replaceFirst("^http", "ws");
        return URI.create(ws + "llm-websocket/" + callId + "?token=" + socketToken);
    }
}
