package io.callguard.cli.drill;

import io.callguard.app.Gateway;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code callguard drill}: plays Retell against a running gateway under load and faults; exits 1 when a caller would have noticed. */
@Command(name = "drill", mixinStandardHelpOptions = true,
        description = {"Play Retell against a running gateway: signed webhooks, the LLM WebSocket, the caller speaking",
            "again an interval after each whole answer, pings, faults on demand. Judges every turn by what the caller",
            "heard (whole, bridged, truncated, closing_only, silent). A cut socket is dialled again as Retell does (at",
            "once, then 3 s apart, 3 attempts). Exits 1 when any turn was silent, any call dropped (closed with 1000",
            "unasked, or no reconnect got through), any answer stale, duplicated or misrouted, an ending asked for did",
            "not act or one acted unasked, or fewer than --min-whole-answers carried the whole answer. With",
            "--webhooks false it plays the sockets alone, e.g.",
            "against an upstream custom-LLM server reached directly (--socket-url)."})
public final class DrillCommand implements Callable<Integer> {

    /** Pause between the warm-up and the measured drill, for the warm-up calls' endings to settle. */
    static final int WARMUP_SETTLE_SECONDS = 5;

    @Spec
    CommandSpec spec;

    @Option(names = "--target", paramLabel = "URL", description = {"Gateway base URL, e.g. http://127.0.0.1:8080/: "
            + "webhooks go to <target>/webhook, sockets to <target>/llm-websocket/<call_id>?token=<token>; metrics are "
            + "read from the admin listener (--admin-url). Needed unless --webhooks false with --socket-url."})
    URI target;

    @Mixin
    AdminOptions admin;

    @Option(names = "--webhooks", defaultValue = "true", arity = "1", paramLabel = "BOOL", description = {"Send the "
            + "calls' signed webhooks; false plays the sockets only, each call starting with its socket, for an "
            + "upstream custom-LLM server reached directly: no API key needed, and no --duplicate-webhooks, "
            + "--out-of-order or --bad-input (default ${DEFAULT-VALUE})."})
    boolean webhooks;

    @Option(names = "--socket-url", paramLabel = "TEMPLATE", description = {"The calls' socket URL, ws:// or wss://, "
            + "with {call_id} and optionally {token} (the socket token), e.g. "
            + "ws://127.0.0.1:9000/llm-websocket/{call_id} (default: <target>/llm-websocket/{call_id}?token=<token>, "
            + "without the token when none is given and webhooks are off)."})
    String socketUrl;

    @Option(names = "--end-call-rate", defaultValue = "0", paramLabel = "P", description = {"Share of calls, 0..1, "
            + "whose caller says 'call <id> turn 3 goodbye' on its 3rd turn: the answer must carry end_call by its "
            + "content_complete (else end_call_missing, a failure); then the drill hangs up as Retell does, closing "
            + "the socket with 1000, counted as calls_ended_by_agent. A call too short for 3 turns counts as "
            + "endings_not_reached (default ${DEFAULT-VALUE})."})
    double endCallRate;

    @Option(names = "--transfer-rate", defaultValue = "0", paramLabel = "P", description = {"Share of calls, 0..1, "
            + "whose caller says 'call <id> turn 3 transfer me' on its 3rd turn: the answer must carry a "
            + "transfer_number (else transfer_missing, a failure), counted as calls_transferred by number. With "
            + "--end-call-rate at most 1. end_call or a transfer on any other answer is unexpected_end_call, a "
            + "failure (default ${DEFAULT-VALUE})."})
    double transferRate;

    @Option(names = "--calls", defaultValue = "20", description = "Concurrent calls (default ${DEFAULT-VALUE}).")
    int calls;

    @Option(names = "--duration", defaultValue = "10s", paramLabel = "D", description = "How long each call lasts, e.g. 30s, 2m (default ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--turn-interval", defaultValue = "1s", paramLabel = "I", description = "The caller speaks again this long after the whole answer (its content_complete), never while an answer is open (default ${DEFAULT-VALUE}).")
    String turnInterval;

    @Option(names = "--ramp-up", defaultValue = "1s", paramLabel = "R", description = {"Start the calls evenly "
            + "spread over this time, e.g. 10s; each call still lasts --duration (default ${DEFAULT-VALUE}). Opening "
            + "hundreds of calls within a second is a burst of call starts (webhooks, sockets, admissions) on top of "
            + "the turns; ramp up to measure the steady state."})
    String rampUp;

    @Option(names = "--warmup", defaultValue = "0s", paramLabel = "W", description = {"First play the same drill "
            + "with calls lasting this long, e.g. 90s, in the same process, report nothing of it, and pause "
            + "5 s for its calls' endings to settle (default ${DEFAULT-VALUE}: none). Without it a fresh JVM measures "
            + "its own JIT compiling, and the gateway's."})
    String warmup;

    @Option(names = "--budget-ms", defaultValue = "1000", description = {"No first words (any content, a filler "
            + "counts) this long after the request was sent, or no complete answer at all, is a silent turn "
            + "(default ${DEFAULT-VALUE}: the gateway's turn.budget-ms of 800 plus 200 ms for both socket legs and "
            + "scheduling on a loaded host; a filler sent at exactly the gateway's budget must not count as silence)."})
    long budgetMs;

    @Option(names = "--interrupt-rate", defaultValue = "0", paramLabel = "P", description = {"Chance per turn, 0..1, "
            + "that the caller speaks again while the agent answers (a new response_required right after the first "
            + "chunk); those turns are counted as turns_interrupted, not judged (default ${DEFAULT-VALUE})."})
    double interruptRate;

    @Option(names = "--filler-lines", paramLabel = "LINES", description = {"The gateway's filler lines, "
            + "'|'-separated, as turn.filler-messages (default: the gateway's default filler lines)."})
    String fillerLines;

    @Option(names = "--closing-lines", paramLabel = "LINES", description = {"The gateway's closing lines, "
            + "'|'-separated: turn.fallback-message and responder.fallback.* (default: the gateway's defaults)."})
    String closingLines;

    @Option(names = "--expect-echo", defaultValue = "true", arity = "1", paramLabel = "BOOL", description = {"The "
            + "answer must start with 'You said: <question>', as the script backend and sim-llm answer; false for "
            + "a real LLM (default ${DEFAULT-VALUE})."})
    boolean expectEcho;

    @Option(names = "--min-whole-answers", defaultValue = "0.99", paramLabel = "S", description = {"Fail the run when "
            + "fewer than this share, 0..1, of the turns carried the agent's whole answer (whole + bridged); "
            + "0 turns it off (default ${DEFAULT-VALUE})."})
    double minWholeAnswers;

    @Option(names = "--retell-api-key", paramLabel = "KEY", description = "Signs the webhooks (default: RETELL_API_KEY).")
    String apiKey;

    @Option(names = "--socket-token", paramLabel = "TOKEN", description = {"The gateway's socket token (default: "
            + "CALLGUARD_SOCKET_TOKEN); needed for the gateway's socket URL when webhooks are on, and for a "
            + "--socket-url with {token}."})
    String socketToken;

    @Option(names = "--duplicate-webhooks", defaultValue = "1", paramLabel = "K", description = "Send each webhook K times.")
    int duplicateWebhooks;

    @Option(names = "--drop-sockets", defaultValue = "0", paramLabel = "P", description = "Fraction of calls whose socket is cut mid-call and reconnected.")
    double dropSockets;

    @Option(names = "--out-of-order", description = "Send call_ended before call_started for some calls.")
    boolean outOfOrder;

    @Option(names = "--bad-input", defaultValue = "0", paramLabel = "P", description = "Fraction of calls that also send malformed bodies and frames.")
    double badInput;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the random choices (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--kill", paramLabel = "PID@TIME", description = {"Chaos: kill -9 the process PID (a broker of "
            + "`cluster`, a gateway) TIME into the measured run, e.g. 4242@10s (repeatable). Each kill is reported with "
            + "the turns asked after it that were not answered whole and its time to heal: from the kill to the "
            + "request of the last such turn before 5 s in which every turn was answered whole (turns hurt after "
            + "that, before the next kill, are counted apart; a fault with no such 5 s fails the run). The drill "
            + "does not restart what it killed (`cluster --restart-after` restarts brokers)."})
    java.util.List<String> kills = new java.util.ArrayList<>();

    @Option(names = "--heal-on", defaultValue = "whole", paramLabel = "whole|answered", description = {"What a healed "
            + "fault's turns must be for --kill: 'whole', the agent's answer unbridged (default; for a backend that "
            + "starts within the budget); 'answered', the agent's whole answer, bridged by a filler or not (for a "
            + "slow, heavy-tailed LLM that bridges some turns with no fault: a fault's turns are then those the "
            + "backend did not answer)."})
    String healOn;

    @Option(names = "--audit-bootstrap-servers", paramLabel = "HOST:PORT,...", description = {"After the run, read "
            + "the gateway's topics on this Kafka: every webhook it acknowledged must be on call-events and every call "
            + "whose call_ended it acknowledged archived once as ended, else the drill fails (default: no audit)."})
    String auditBootstrapServers;

    @Option(names = "--audit-topic-prefix", defaultValue = "callguard.", paramLabel = "PREFIX",
            description = "The gateway's topics.prefix, for --audit-bootstrap-servers (default ${DEFAULT-VALUE}).")
    String auditTopicPrefix;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--html", paramLabel = "FILE", description = "Also write an HTML report with a latency percentile plot.")
    Path html;

    @Override
    public Integer call() throws Exception {
        String key = apiKey != null ? apiKey : System.getenv("RETELL_API_KEY");
        String token = socketToken != null ? socketToken : System.getenv("CALLGUARD_SOCKET_TOKEN");
        DrillOptions options;
        DrillOptions warmUp;
        try {
            options = new DrillOptions(target, key, token, calls, parse(duration), parse(turnInterval),
                    Duration.ofMillis(budgetMs), duplicateWebhooks, dropSockets, outOfOrder, badInput, seed,
                    parse(rampUp), interruptRate, lines("--filler-lines", fillerLines, DrillOptions.gatewayFillerLines()),
                    lines("--closing-lines", closingLines, DrillOptions.gatewayClosingLines()), expectEcho,
                    minWholeAnswers, webhooks, socketUrl, endCallRate, transferRate, admin.resolve(target));
            Duration warm = parse(warmup);
            if (warm.isNegative()) {
                throw new IllegalArgumentException("--warmup must not be negative, was " + warmup);
            }
            warmUp = warm.isZero() ? null : options.withDuration(warm);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        java.util.List<Faults.Kill> faults = new java.util.ArrayList<>();
        io.callguard.schemas.Topics auditTopics = null;
        Faults.HealOn heal;
        try {
            heal = Faults.HealOn.parse(healOn);
            for (String kill : kills) {
                faults.add(Faults.Kill.parse(kill));
            }
            if (auditBootstrapServers != null) {
                auditTopics = io.callguard.schemas.Topics.withPrefix(auditTopicPrefix);
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (warmUp != null) {
            spec.commandLine().getErr().printf("drill: warm-up, %d calls for %s, not reported%n", calls, warmup);
            new Drill(warmUp, line -> spec.commandLine().getErr().println("warm-up " + line)).run();
            TimeUnit.SECONDS.sleep(WARMUP_SETTLE_SECONDS);
        }
        Drill drill = new Drill(options, line -> spec.commandLine().getErr().println(line)).withFaults(faults, heal);
        if (auditTopics != null) {
            drill.withAudit(auditBootstrapServers, auditTopics);
        }
        DrillReport report = drill.run();
        spec.commandLine().getOut().print(json ? report.json() + "\n" : report.text());
        spec.commandLine().getOut().flush();
        if (html != null) {
            Files.writeString(html, DrillHtml.render(report, options));
        }
        report.failures().forEach(reason -> spec.commandLine().getErr().println("drill failed: " + reason));
        spec.commandLine().getErr().flush();
        return report.passed() ? 0 : 1;
    }

    /** The lines of a {@code '|'}-separated option, or {@code defaults} when it is not given. */
    private static java.util.List<String> lines(String option, String text, java.util.List<String> defaults) {
        if (text == null) {
            return defaults;
        }
        java.util.List<String> lines = DrillOptions.lines(text);
        if (lines.isEmpty()) {
            throw new IllegalArgumentException(option + " needs at least one non-blank line, was '" + text + "'");
        }
        return lines;
    }

    /** Parses {@code 500ms}, {@code 10s}, {@code 2m} or an ISO-8601 duration. */
    public static Duration parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            if (t.endsWith("s")) {
                return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
            }
            if (t.endsWith("m")) {
                return Duration.ofSeconds(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60));
            }
            return Duration.parse(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a duration: '" + text + "' (use e.g. 500ms, 10s, 2m)");
        }
    }
}
