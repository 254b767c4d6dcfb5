package io.callguard.processor.responder;

import io.callguard.common.CommonConfig;
import io.callguard.common.SecretText;
import io.callguard.processor.responder.tools.ToolSpec;
import java.net.URI;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.NonEmptyString;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.kafka.common.config.ConfigException;

/** Settings of the responder: the agent backend, the resilience around it, and the response cache. */
public final class ResponderConfig extends AbstractConfig {

    /** {@code agent.backend} value: the deterministic built-in script. */
    public static final String BACKEND_SCRIPT = "script";
    /** {@code agent.backend} value: any OpenAI-compatible chat completions endpoint. */
    public static final String BACKEND_OPENAI = "openai";
    /** {@code agent.backend} value: a team's own custom-LLM WebSocket server, spoken to as Retell does. */
    public static final String BACKEND_RETELL_SOCKET = "retell-socket";

    public static final String AGENT_BACKEND_CONFIG = "agent.backend";
    private static final String AGENT_BACKEND_DOC = "Which agent backend generates answers: '" + BACKEND_SCRIPT
            + "' (built in, deterministic, with injectable faults) or '" + BACKEND_OPENAI
            + "' (an OpenAI-compatible /v1/chat/completions endpoint, streamed) or '" + BACKEND_RETELL_SOCKET
            + "' (an existing custom-LLM WebSocket server, unmodified: callguard speaks to it as Retell does).";

    public static final String SCRIPT_DELAY_MS_CONFIG = "agent.script.delay-ms";
    private static final String SCRIPT_DELAY_MS_DOC = "Script backend: time before it answers.";

    public static final String SCRIPT_FAILURE_RATE_CONFIG = "agent.script.failure-rate";
    private static final String SCRIPT_FAILURE_RATE_DOC = "Script backend: share of calls, 0 to 1, that fail "
            + "after the delay.";

    public static final String SCRIPT_HANG_RATE_CONFIG = "agent.script.hang-rate";
    private static final String SCRIPT_HANG_RATE_DOC = "Script backend: share of calls, 0 to 1, that never "
            + "return (until cancelled).";

    public static final String SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG = "agent.script.first-chunk-median-ms";
    private static final String SCRIPT_FIRST_CHUNK_MEDIAN_MS_DOC = "Script backend: median of a lognormal wait "
            + "for the first chunk, added to the delay (hosted LLMs: 150-500 ms). 0: no such wait.";

    public static final String SCRIPT_FIRST_CHUNK_P99_MS_CONFIG = "agent.script.first-chunk-p99-ms";
    private static final String SCRIPT_FIRST_CHUNK_P99_MS_DOC = "Script backend: 99th percentile of that wait "
            + "(hosted LLMs: 2-4 s); at least the median. 0: the median itself, no spread.";

    public static final String SCRIPT_CHUNKS_CONFIG = "agent.script.chunks";
    private static final String SCRIPT_CHUNKS_DOC = "Script backend: chunks per answer (the answer padded with a "
            + "stock sentence, or its tail joined, to that many). 0: one chunk per word of the answer.";

    public static final String SCRIPT_CHUNK_GAP_MS_CONFIG = "agent.script.chunk-gap-ms";
    private static final String SCRIPT_CHUNK_GAP_MS_DOC = "Script backend: wait between two chunks.";

    public static final String SCRIPT_STALL_RATE_CONFIG = "agent.script.stall-rate";
    private static final String SCRIPT_STALL_RATE_DOC = "Script backend: share of answers, 0 to 1, that pause "
            + "mid-answer for agent.script.stall-ms (a brown-out after the first words).";

    public static final String SCRIPT_STALL_MS_CONFIG = "agent.script.stall-ms";
    private static final String SCRIPT_STALL_MS_DOC = "Script backend: length of a mid-answer stall.";

    public static final String SCRIPT_GREETING_CONFIG = "agent.script.greeting";
    private static final String SCRIPT_GREETING_DOC = "Script backend: the begin message (response id 0 or an "
            + "empty transcript). Other turns echo the caller's last utterance.";

    public static final String SCRIPT_TRANSFER_NUMBER_CONFIG = "agent.script.transfer-number";
    private static final String SCRIPT_TRANSFER_NUMBER_DOC = "Script backend: the number an utterance containing "
            + "'transfer me' is transferred to, after the echo (empty: no transfers). An utterance containing "
            + "'goodbye' is always answered with end_call after the echo.";

    public static final String OPENAI_URL_CONFIG = "agent.openai.url";
    private static final String OPENAI_URL_DOC = "OpenAI backend: URL of the chat completions endpoint "
            + "(OpenAI, Ollama, vLLM, llama.cpp server, ...).";

    public static final String OPENAI_MODEL_CONFIG = "agent.openai.model";
    private static final String OPENAI_MODEL_DOC = "OpenAI backend: model name sent with each request.";

    public static final String OPENAI_API_KEY_CONFIG = "agent.openai.api-key";
    private static final String OPENAI_API_KEY_DOC = "OpenAI backend: bearer token; empty sends no "
            + "Authorization header.";

    public static final String OPENAI_SYSTEM_PROMPT_CONFIG = "agent.openai.system-prompt";
    private static final String OPENAI_SYSTEM_PROMPT_DOC = "OpenAI backend: system prompt. {{name}} is replaced "
            + "by the call's Retell dynamic variable of that name, when known.";

    public static final String OPENAI_MAX_TOKENS_CONFIG = "agent.openai.max-tokens";
    private static final String OPENAI_MAX_TOKENS_DOC = "OpenAI backend: max_tokens of each answer.";

    /** The placeholder of {@code agent.upstream.url-template} replaced by the call id. */
    public static final String UPSTREAM_CALL_ID_PLACEHOLDER = "{call_id}";

    public static final String UPSTREAM_URL_TEMPLATE_CONFIG = "agent.upstream.url-template";
    private static final String UPSTREAM_URL_TEMPLATE_DOC = "Retell-socket backend: the team's custom-LLM "
            + "WebSocket URL (ws or wss), one socket per call; " + UPSTREAM_CALL_ID_PLACEHOLDER + " is replaced by "
            + "the call id, as Retell appends it (e.g. ws://agent.internal:8080/llm-websocket/{call_id}).";

    public static final String UPSTREAM_CONNECT_TIMEOUT_MS_CONFIG = "agent.upstream.connect-timeout-ms";
    private static final String UPSTREAM_CONNECT_TIMEOUT_MS_DOC = "Retell-socket backend: time to open the "
            + "socket (TCP and WebSocket handshake); a failed open counts as a reconnect.";

    public static final String UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG =
            "agent.upstream.reconnect.initial-backoff-ms";
    private static final String UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_DOC = "Retell-socket backend: wait before "
            + "the first reconnect after the upstream dropped (closed, failed, or missed its pongs for 5 s); it "
            + "doubles for each further one, randomized by half either way.";

    public static final String UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG = "agent.upstream.reconnect.max-backoff-ms";
    private static final String UPSTREAM_RECONNECT_MAX_BACKOFF_MS_DOC = "Retell-socket backend: the longest wait "
            + "between two reconnects.";

    public static final String UPSTREAM_RECONNECT_MAX_ATTEMPTS_CONFIG = "agent.upstream.reconnect.max-attempts";
    private static final String UPSTREAM_RECONNECT_MAX_ATTEMPTS_DOC = "Retell-socket backend: reconnects per turn; "
            + "when they are spent the open turn fails (the breaker and the fallback backend act) and the next "
            + "turn connects again.";

    public static final String UPSTREAM_TOOL_TIME_LIMIT_MS_CONFIG = "agent.upstream.tool-time-limit-ms";
    private static final String UPSTREAM_TOOL_TIME_LIMIT_MS_DOC = "Retell-socket backend: how long the answer may "
            + "be quiet after the upstream's tool_call_invocation without counting as a stall (0: the usual stall "
            + "limit).";

    public static final String UPSTREAM_MAX_FRAME_CHARS_CONFIG = "agent.upstream.max-frame-chars";
    private static final String UPSTREAM_MAX_FRAME_CHARS_DOC = "Retell-socket backend: the largest frame read "
            + "from the upstream, in characters; a larger one is dropped and counted.";

    public static final String UPSTREAM_MAX_CALLS_CONFIG = "agent.upstream.max-calls";
    private static final String UPSTREAM_MAX_CALLS_DOC = "Retell-socket backend: calls with an upstream socket at "
            + "once on this instance; beyond it the least recently active call's socket is closed (its next turn "
            + "opens a new one).";

    /** {@code agent.fallback.backend} value: no fallback backend. */
    public static final String BACKEND_NONE = "none";

    /** Prefix of the fallback backend's keys: each is the primary's key with {@code agent.} replaced by it. */
    public static final String FALLBACK_PREFIX = "agent.fallback.";

    public static final String FALLBACK_BACKEND_CONFIG = "agent.fallback.backend";
    private static final String FALLBACK_BACKEND_DOC = "A second agent backend ('" + BACKEND_NONE + "', '"
            + BACKEND_SCRIPT + "' or '" + BACKEND_OPENAI + "': a faster model, another region), used while the "
            + "primary's circuit breaker is open, for the retry after a primary attempt failed, and as a hedge "
            + "(responder.hedge.delay-ms). Its settings are the agent.fallback.* keys; the ones not given (system "
            + "prompt, max tokens, greeting) are the primary's.";

    public static final String FALLBACK_OPENAI_URL_CONFIG = "agent.fallback.openai.url";
    public static final String FALLBACK_OPENAI_MODEL_CONFIG = "agent.fallback.openai.model";
    public static final String FALLBACK_OPENAI_API_KEY_CONFIG = "agent.fallback.openai.api-key";
    public static final String FALLBACK_SCRIPT_DELAY_MS_CONFIG = "agent.fallback.script.delay-ms";
    public static final String FALLBACK_SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG = "agent.fallback.script.first-chunk-median-ms";
    public static final String FALLBACK_SCRIPT_FIRST_CHUNK_P99_MS_CONFIG = "agent.fallback.script.first-chunk-p99-ms";
    public static final String FALLBACK_SCRIPT_CHUNKS_CONFIG = "agent.fallback.script.chunks";
    public static final String FALLBACK_SCRIPT_CHUNK_GAP_MS_CONFIG = "agent.fallback.script.chunk-gap-ms";
    public static final String FALLBACK_SCRIPT_FAILURE_RATE_CONFIG = "agent.fallback.script.failure-rate";
    public static final String FALLBACK_SCRIPT_HANG_RATE_CONFIG = "agent.fallback.script.hang-rate";

    public static final String HEDGE_DELAY_MS_CONFIG = "responder.hedge.delay-ms";
    private static final String HEDGE_DELAY_MS_DOC = "With a fallback backend: when the primary has sent no first "
            + "chunk this long after an attempt started, the same turn starts on the fallback too; the first to "
            + "stream wins and the other is cancelled (its HTTP stream closed), so never both are spoken. 0 derives "
            + "the delay from the primary's observed first-chunk p90 (at most the budget less the fallback's median "
            + "first chunk); -1 never hedges.";

    public static final String GROUP_ID_CONFIG = "responder.group-id";
    private static final String GROUP_ID_DOC = "Consumer group of the responder on the call-events topic; by "
            + "convention the processor's application id followed by '-responder'.";

    public static final String SESSION_TIMEOUT_MS_CONFIG = "responder.session-timeout-ms";
    private static final String SESSION_TIMEOUT_MS_DOC = "How long the responder's group waits for a member that "
            + "stopped heartbeating (killed, partitioned away) before its partitions, and the turns on them, move "
            + "to the others; until then those turns are bridged and closed by the edge watchdog. The broker bounds "
            + "it by group.min.session.timeout.ms (6000 by default). Shorter heals faster; too short and a long "
            + "pause (GC, a starved host) moves partitions needlessly. A clean stop leaves the group at once.";

    public static final String MAX_CONCURRENT_CONFIG = "responder.max-concurrent";
    private static final String MAX_CONCURRENT_DOC = "Bulkhead: turns generating at once on this instance; "
            + "a turn beyond it gets the bulkhead-full line at once (no waiting). A turn holds its slot for its whole "
            + "answer, so with a streaming backend this is about the number of calls speaking at once: size it to "
            + "what the backend accepts concurrently, not to turns per second.";

    public static final String BREAKER_FAILURE_RATE_THRESHOLD_CONFIG = "responder.breaker.failure-rate-threshold";
    private static final String BREAKER_FAILURE_RATE_THRESHOLD_DOC = "Circuit breaker: percentage of failed "
            + "turns in the sliding window that opens it. A turn is judged once: failed when no retry saved it from an "
            + "error, a first-chunk time-out or a stall; a retry that succeeds makes it a success.";

    public static final String BREAKER_SLOW_CALL_RATE_THRESHOLD_CONFIG = "responder.breaker.slow-call-rate-threshold";
    private static final String BREAKER_SLOW_CALL_RATE_THRESHOLD_DOC = "Circuit breaker: percentage of slow "
            + "turns (first chunk later than responder.breaker.slow-call-duration-ms) in the sliding window that "
            + "opens it.";

    public static final String BREAKER_SLOW_CALL_DURATION_MS_CONFIG = "responder.breaker.slow-call-duration-ms";
    private static final String BREAKER_SLOW_CALL_DURATION_MS_DOC = "Circuit breaker: a turn whose first chunk "
            + "came later than this is slow (the time to the first words, never the length of the answer).";

    public static final String FIRST_CHUNK_TIMEOUT_MS_CONFIG = "responder.first-chunk-timeout-ms";
    private static final String FIRST_CHUNK_TIMEOUT_MS_DOC = "One attempt's wait for its first chunk; then the "
            + "attempt is cancelled and retried while turn.first-words-deadline-ms allows (the caller hears the "
            + "filler meanwhile). Once words flow only turn.stall-ms and turn.max-answer-ms limit the answer.";

    public static final String BREAKER_SLIDING_WINDOW_SIZE_CONFIG = "responder.breaker.sliding-window-size";
    private static final String BREAKER_SLIDING_WINDOW_SIZE_DOC = "Circuit breaker: how many of the latest "
            + "backend calls the rates are computed over.";

    public static final String BREAKER_MINIMUM_CALLS_CONFIG = "responder.breaker.minimum-calls";
    private static final String BREAKER_MINIMUM_CALLS_DOC = "Circuit breaker: calls recorded before the rates "
            + "are judged at all.";

    public static final String BREAKER_WAIT_IN_OPEN_MS_CONFIG = "responder.breaker.wait-in-open-ms";
    private static final String BREAKER_WAIT_IN_OPEN_MS_DOC = "Circuit breaker: time spent open before trial "
            + "calls are let through (half-open).";

    public static final String BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_CONFIG =
            "responder.breaker.permitted-calls-in-half-open";
    private static final String BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_DOC = "Circuit breaker: trial calls in the "
            + "half-open state that decide whether it closes or opens again.";

    public static final String RETRY_MAX_ATTEMPTS_CONFIG = "responder.retry.max-attempts";
    private static final String RETRY_MAX_ATTEMPTS_DOC = "Retry: attempts per turn, the first included. A retry "
            + "happens only before any of the answer's words were streamed, and only when it can still start "
            + "before turn.first-words-deadline-ms. A turn a retry saved counts as healthy for the circuit breaker.";

    public static final String RETRY_INITIAL_BACKOFF_MS_CONFIG = "responder.retry.initial-backoff-ms";
    private static final String RETRY_INITIAL_BACKOFF_MS_DOC = "Retry: backoff before the second attempt; it "
            + "doubles for each further attempt.";

    public static final String RETRY_RANDOMIZATION_FACTOR_CONFIG = "responder.retry.randomization-factor";
    private static final String RETRY_RANDOMIZATION_FACTOR_DOC = "Retry: each backoff is drawn uniformly within "
            + "this factor around its nominal value (0 = no jitter).";

    public static final String DELIVERY_MARGIN_MS_CONFIG = "responder.delivery-margin-ms";
    private static final String DELIVERY_MARGIN_MS_DOC = "The responder acts this long before each of a turn's "
            + "deadlines (the filler before turn.budget-ms, the closing line before turn.first-words-deadline-ms, "
            + "turn.stall-ms and turn.max-answer-ms), leaving time for the Kafka hop to the edge, whose watchdog acts "
            + "at the deadlines themselves. Must be less than the budget.";

    public static final String CHUNK_COALESCE_MS_CONFIG = "responder.chunk-coalesce-ms";
    private static final String CHUNK_COALESCE_MS_DOC = "Streamed chunks the backend produces within this many "
            + "milliseconds of the first unsent one go out as one answer record, and an answer that finishes within "
            + "it goes out whole as its content_complete record. Fewer records is less work for the broker and "
            + "the edge on every turn; the cost is at most this much added to the first words of a streamed "
            + "answer. 0 = one record per chunk.";

    public static final String FALLBACK_TIMEOUT_CONFIG = "responder.fallback.timeout";
    private static final String FALLBACK_TIMEOUT_DOC = "Said when no words of the answer came by "
            + "turn.first-words-deadline-ms (after the filler). Empty: turn.fallback-message.";

    public static final String FALLBACK_CIRCUIT_OPEN_CONFIG = "responder.fallback.circuit-open";
    private static final String FALLBACK_CIRCUIT_OPEN_DOC = "Said when the circuit breaker is open. "
            + "Empty: turn.fallback-message.";

    public static final String FALLBACK_BULKHEAD_FULL_CONFIG = "responder.fallback.bulkhead-full";
    private static final String FALLBACK_BULKHEAD_FULL_DOC = "Said when too many turns are generating at once. "
            + "Empty: turn.fallback-message.";

    public static final String FALLBACK_STALL_CONFIG = "responder.fallback.stall";
    private static final String FALLBACK_STALL_DOC = "Said after the words already spoken when the answer stalls "
            + "past turn.stall-ms. Empty: turn.fallback-message.";

    public static final String FALLBACK_MAX_ANSWER_CONFIG = "responder.fallback.max-answer";
    private static final String FALLBACK_MAX_ANSWER_DOC = "Said after the words already spoken when the answer "
            + "passes turn.max-answer-ms. Empty: turn.fallback-message.";

    public static final String FALLBACK_ERROR_CONFIG = "responder.fallback.error";
    private static final String FALLBACK_ERROR_DOC = "Said when the backend failed and no retry could "
            + "start before turn.first-words-deadline-ms, or retries ran out. Empty: turn.fallback-message.";

    /** The begin message's greeting, declared and documented by the ingress's config (read raw, see there). */
    public static final String SOCKET_GREETING_CONFIG = "socket.greeting";
    /** {@link #SOCKET_GREETING_CONFIG}'s default, the ingress's. */
    public static final String DEFAULT_GREETING = "Hello! How can I help you today?";

    // Capacity on the turn path: what a queued call hears (the busy line is the processor's capacity.busy-message).
    public static final String CAPACITY_HOLD_MESSAGE_CONFIG = "capacity.hold-message";
    private static final String CAPACITY_HOLD_MESSAGE_DOC = "What a queued caller hears while waiting for a capacity "
            + "slot: as the begin message, as the answer to every turn while queued, and again as an agent interrupt "
            + "every capacity.hold-repeat-ms. The agent's own begin message follows when the call is admitted; the "
            + "agent backend is never called for a queued call.";
    public static final String DEFAULT_HOLD_MESSAGE = "Thanks for calling. All of our agents are busy right now. "
            + "Please stay on the line and we'll be with you shortly.";
    public static final String CAPACITY_HOLD_REPEAT_MS_CONFIG = "capacity.hold-repeat-ms";
    private static final String CAPACITY_HOLD_REPEAT_MS_DOC = "While a call is queued, the hold line is said again "
            + "(an agent interrupt) this long after the last time it was said, so the caller knows they are still "
            + "waiting.";

    public static final String CACHE_ENABLED_CONFIG = "cache.enabled";
    private static final String CACHE_ENABLED_DOC = "Serve a complete generated answer again when everything the "
            + "backend saw is the same: agent id and version, the call's dynamic variables, and the whole "
            + "transcript (normalized: case and spacing aside). Never across agents; see cache.tail-key-agents.";

    public static final String CACHE_TTL_MS_CONFIG = "cache.ttl-ms";
    private static final String CACHE_TTL_MS_DOC = "How long a cached answer may be served.";

    public static final String CACHE_MAX_ENTRIES_CONFIG = "cache.max-entries";
    private static final String CACHE_MAX_ENTRIES_DOC = "Cached answers kept; the least recently used goes first.";

    public static final String CACHE_TAIL_KEY_AGENTS_CONFIG = "cache.tail-key-agents";
    private static final String CACHE_TAIL_KEY_AGENTS_DOC = "Agent ids (comma-separated) whose answers are cached "
            + "by the agent and version and the last two utterances only, ignoring the dynamic variables and the "
            + "start of the conversation: more hits, but one caller can hear an answer generated for another. Only "
            + "for agents whose answers depend on nothing per caller (no {{variables}} or account data in the "
            + "prompt, no memory of earlier turns). Empty: every agent uses the full key.";

    public static final String TOOLS_END_CALL_ENABLED_CONFIG = "agent.tools.end-call.enabled";
    private static final String TOOLS_END_CALL_ENABLED_DOC = "OpenAI backend: offer the LLM the built-in end_call "
            + "tool (argument 'message', said before hanging up), as Retell's agents have it.";

    public static final String TOOLS_TRANSFER_NUMBER_CONFIG = "agent.tools.transfer.number";
    private static final String TOOLS_TRANSFER_NUMBER_DOC = "OpenAI backend: the number the built-in transfer_call "
            + "tool (argument 'message', said before transferring) transfers to. Empty: the tool is offered only on "
            + "calls that have the dynamic variable agent.tools.transfer.number-variable.";

    public static final String TOOLS_TRANSFER_NUMBER_VARIABLE_CONFIG = "agent.tools.transfer.number-variable";
    private static final String TOOLS_TRANSFER_NUMBER_VARIABLE_DOC = "OpenAI backend: the Retell dynamic variable "
            + "whose value, on a call that has it, is the transfer number (in place of agent.tools.transfer.number).";

    public static final String TOOLS_HOLDING_LINE_CONFIG = "agent.tools.holding-line";
    private static final String TOOLS_HOLDING_LINE_DOC = "OpenAI backend: said when the LLM calls a tool before "
            + "saying anything in the turn, so the caller is not left in silence while it runs. Empty: nothing.";

    public static final String TOOLS_MAX_ROUNDS_CONFIG = "agent.tools.max-rounds";
    private static final String TOOLS_MAX_ROUNDS_DOC = "OpenAI backend: tool rounds (tool calls, their results "
            + "sent back) per turn; the request after the last round lets the LLM answer in words only.";

    public static final String TOOLS_DEFINITIONS_CONFIG = "agent.tools.definitions";
    private static final String TOOLS_DEFINITIONS_DOC = "OpenAI backend: operator-defined tools, a JSON array of "
            + "{\"name\", \"description\", \"parameters\" (JSON Schema of the arguments, an object), \"url\", "
            + "\"timeout_ms\"}. Each call is a POST to the url with {call_id, response_id, tool_call_id, name, "
            + "arguments} and the header Idempotency-Key: <call_id>:<response_id>:<tool_call_id> (the same for a turn "
            + "asked again); the response body is the result. Each tool has its own time limit and circuit breaker.";

    public static final String TOOLS_TIMEOUT_MS_CONFIG = "agent.tools.timeout-ms";
    private static final String TOOLS_TIMEOUT_MS_DOC = "OpenAI backend: time limit of a tool call, for a tool "
            + "without its own timeout_ms. The answer may be quiet that long without counting as a stall.";

    public static final String TOOLS_BREAKER_FAILURE_RATE_THRESHOLD_CONFIG =
            "agent.tools.breaker.failure-rate-threshold";
    private static final String TOOLS_BREAKER_FAILURE_RATE_THRESHOLD_DOC = "Each tool's circuit breaker: percentage "
            + "of failed calls (not 2xx, time-out, unreachable) in its window that opens it; an open tool is "
            + "answered as failed without being called.";

    public static final String TOOLS_BREAKER_SLIDING_WINDOW_SIZE_CONFIG = "agent.tools.breaker.sliding-window-size";
    private static final String TOOLS_BREAKER_SLIDING_WINDOW_SIZE_DOC = "Each tool's circuit breaker: how many of "
            + "its latest calls the rate is computed over.";

    public static final String TOOLS_BREAKER_MINIMUM_CALLS_CONFIG = "agent.tools.breaker.minimum-calls";
    private static final String TOOLS_BREAKER_MINIMUM_CALLS_DOC = "Each tool's circuit breaker: calls recorded "
            + "before the rate is judged at all.";

    public static final String TOOLS_BREAKER_WAIT_IN_OPEN_MS_CONFIG = "agent.tools.breaker.wait-in-open-ms";
    private static final String TOOLS_BREAKER_WAIT_IN_OPEN_MS_DOC = "Each tool's circuit breaker: time spent open "
            + "before trial calls are let through.";

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(AGENT_BACKEND_CONFIG, Type.STRING, BACKEND_SCRIPT, ValidString.in(BACKEND_SCRIPT, BACKEND_OPENAI,
                    BACKEND_RETELL_SOCKET),
                    Importance.HIGH, AGENT_BACKEND_DOC)
            .define(SCRIPT_DELAY_MS_CONFIG, Type.LONG, 0L, Range.between(0, 600_000), Importance.LOW,
                    SCRIPT_DELAY_MS_DOC)
            .define(SCRIPT_FAILURE_RATE_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW,
                    SCRIPT_FAILURE_RATE_DOC)
            .define(SCRIPT_HANG_RATE_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW,
                    SCRIPT_HANG_RATE_DOC)
            .define(SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, Type.LONG, 0L, Range.between(0, 120_000), Importance.LOW,
                    SCRIPT_FIRST_CHUNK_MEDIAN_MS_DOC)
            .define(SCRIPT_FIRST_CHUNK_P99_MS_CONFIG, Type.LONG, 0L, Range.between(0, 120_000), Importance.LOW,
                    SCRIPT_FIRST_CHUNK_P99_MS_DOC)
            .define(SCRIPT_CHUNKS_CONFIG, Type.INT, 0, Range.between(0, 10_000), Importance.LOW, SCRIPT_CHUNKS_DOC)
            .define(SCRIPT_CHUNK_GAP_MS_CONFIG, Type.LONG, 0L, Range.between(0, 60_000), Importance.LOW,
                    SCRIPT_CHUNK_GAP_MS_DOC)
            .define(SCRIPT_STALL_RATE_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW,
                    SCRIPT_STALL_RATE_DOC)
            .define(SCRIPT_STALL_MS_CONFIG, Type.LONG, 20_000L, Range.between(0, 600_000), Importance.LOW,
                    SCRIPT_STALL_MS_DOC)
            .define(SCRIPT_GREETING_CONFIG, Type.STRING, "Hello! How can I help you today?", Importance.LOW,
                    SCRIPT_GREETING_DOC)
            .define(SCRIPT_TRANSFER_NUMBER_CONFIG, Type.STRING, "", Importance.LOW, SCRIPT_TRANSFER_NUMBER_DOC)
            .define(OPENAI_URL_CONFIG, Type.STRING, "http://127.0.0.1:11434/v1/chat/completions", Importance.HIGH,
                    OPENAI_URL_DOC)
            .define(OPENAI_MODEL_CONFIG, Type.STRING, "llama3.2", Importance.HIGH, OPENAI_MODEL_DOC)
            .define(OPENAI_API_KEY_CONFIG, Type.PASSWORD, "", Importance.HIGH, OPENAI_API_KEY_DOC)
            .define(OPENAI_SYSTEM_PROMPT_CONFIG, Type.STRING, "You are a friendly voice agent on a phone call. "
                    + "Answer in one or two short sentences that sound natural when spoken.", Importance.MEDIUM,
                    OPENAI_SYSTEM_PROMPT_DOC)
            .define(OPENAI_MAX_TOKENS_CONFIG, Type.INT, 200, Range.between(1, 100_000), Importance.LOW,
                    OPENAI_MAX_TOKENS_DOC)
            .define(UPSTREAM_URL_TEMPLATE_CONFIG, Type.STRING, "ws://127.0.0.1:8080/llm-websocket/"
                    + UPSTREAM_CALL_ID_PLACEHOLDER, Importance.HIGH, UPSTREAM_URL_TEMPLATE_DOC)
            .define(UPSTREAM_CONNECT_TIMEOUT_MS_CONFIG, Type.LONG, 3_000L, Range.between(10, 60_000),
                    Importance.MEDIUM, UPSTREAM_CONNECT_TIMEOUT_MS_DOC)
            .define(UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG, Type.LONG, 100L, Range.between(1, 60_000),
                    Importance.LOW, UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_DOC)
            .define(UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG, Type.LONG, 2_000L, Range.between(1, 600_000),
                    Importance.LOW, UPSTREAM_RECONNECT_MAX_BACKOFF_MS_DOC)
            .define(UPSTREAM_RECONNECT_MAX_ATTEMPTS_CONFIG, Type.INT, 5, Range.between(0, 1_000), Importance.MEDIUM,
                    UPSTREAM_RECONNECT_MAX_ATTEMPTS_DOC)
            .define(UPSTREAM_TOOL_TIME_LIMIT_MS_CONFIG, Type.LONG, 10_000L, Range.between(0, 600_000),
                    Importance.MEDIUM, UPSTREAM_TOOL_TIME_LIMIT_MS_DOC)
            .define(UPSTREAM_MAX_FRAME_CHARS_CONFIG, Type.INT, 1_048_576, Range.between(1_024, 64 * 1_048_576),
                    Importance.LOW, UPSTREAM_MAX_FRAME_CHARS_DOC)
            .define(UPSTREAM_MAX_CALLS_CONFIG, Type.INT, 10_000, Range.between(1, 1_000_000), Importance.LOW,
                    UPSTREAM_MAX_CALLS_DOC)
            .define(FALLBACK_BACKEND_CONFIG, Type.STRING, BACKEND_NONE,
                    ValidString.in(BACKEND_NONE, BACKEND_SCRIPT, BACKEND_OPENAI), Importance.HIGH, FALLBACK_BACKEND_DOC)
            .define(FALLBACK_OPENAI_URL_CONFIG, Type.STRING, "http://127.0.0.1:11434/v1/chat/completions",
                    Importance.MEDIUM, "Fallback backend: " + OPENAI_URL_DOC)
            .define(FALLBACK_OPENAI_MODEL_CONFIG, Type.STRING, "llama3.2", Importance.MEDIUM,
                    "Fallback backend: " + OPENAI_MODEL_DOC)
            .define(FALLBACK_OPENAI_API_KEY_CONFIG, Type.PASSWORD, "", Importance.MEDIUM,
                    "Fallback backend: " + OPENAI_API_KEY_DOC)
            .define(FALLBACK_SCRIPT_DELAY_MS_CONFIG, Type.LONG, 0L, Range.between(0, 600_000), Importance.LOW,
                    "Fallback backend: " + SCRIPT_DELAY_MS_DOC)
            .define(FALLBACK_SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG, Type.LONG, 0L, Range.between(0, 120_000),
                    Importance.LOW, "Fallback backend: " + SCRIPT_FIRST_CHUNK_MEDIAN_MS_DOC)
            .define(FALLBACK_SCRIPT_FIRST_CHUNK_P99_MS_CONFIG, Type.LONG, 0L, Range.between(0, 120_000),
                    Importance.LOW, "Fallback backend: " + SCRIPT_FIRST_CHUNK_P99_MS_DOC)
            .define(FALLBACK_SCRIPT_CHUNKS_CONFIG, Type.INT, 0, Range.between(0, 10_000), Importance.LOW,
                    "Fallback backend: " + SCRIPT_CHUNKS_DOC)
            .define(FALLBACK_SCRIPT_CHUNK_GAP_MS_CONFIG, Type.LONG, 0L, Range.between(0, 60_000), Importance.LOW,
                    "Fallback backend: " + SCRIPT_CHUNK_GAP_MS_DOC)
            .define(FALLBACK_SCRIPT_FAILURE_RATE_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW,
                    "Fallback backend: " + SCRIPT_FAILURE_RATE_DOC)
            .define(FALLBACK_SCRIPT_HANG_RATE_CONFIG, Type.DOUBLE, 0.0, Range.between(0.0, 1.0), Importance.LOW,
                    "Fallback backend: " + SCRIPT_HANG_RATE_DOC)
            .define(HEDGE_DELAY_MS_CONFIG, Type.LONG, 0L, Range.between(-1, 600_000), Importance.MEDIUM,
                    HEDGE_DELAY_MS_DOC)
            .define(GROUP_ID_CONFIG, Type.STRING, "callguard-responder", new NonEmptyString(), Importance.MEDIUM,
                    GROUP_ID_DOC)
            .define(SESSION_TIMEOUT_MS_CONFIG, Type.INT, 6_000, Range.between(1_000, 1_800_000), Importance.MEDIUM,
                    SESSION_TIMEOUT_MS_DOC)
            .define(MAX_CONCURRENT_CONFIG, Type.INT, 1_000, Range.between(1, 100_000), Importance.MEDIUM,
                    MAX_CONCURRENT_DOC)
            .define(BREAKER_FAILURE_RATE_THRESHOLD_CONFIG, Type.DOUBLE, 50.0, Range.between(1.0, 100.0),
                    Importance.MEDIUM, BREAKER_FAILURE_RATE_THRESHOLD_DOC)
            .define(BREAKER_SLOW_CALL_RATE_THRESHOLD_CONFIG, Type.DOUBLE, 50.0, Range.between(1.0, 100.0),
                    Importance.MEDIUM, BREAKER_SLOW_CALL_RATE_THRESHOLD_DOC)
            .define(FIRST_CHUNK_TIMEOUT_MS_CONFIG, Type.LONG, 2_000L, Range.between(10, 600_000), Importance.MEDIUM,
                    FIRST_CHUNK_TIMEOUT_MS_DOC)
            .define(BREAKER_SLOW_CALL_DURATION_MS_CONFIG, Type.LONG, 1_500L, Range.between(1, 600_000),
                    Importance.MEDIUM, BREAKER_SLOW_CALL_DURATION_MS_DOC)
            .define(BREAKER_SLIDING_WINDOW_SIZE_CONFIG, Type.INT, 20, Range.between(1, 10_000), Importance.LOW,
                    BREAKER_SLIDING_WINDOW_SIZE_DOC)
            .define(BREAKER_MINIMUM_CALLS_CONFIG, Type.INT, 10, Range.between(1, 10_000), Importance.LOW,
                    BREAKER_MINIMUM_CALLS_DOC)
            .define(BREAKER_WAIT_IN_OPEN_MS_CONFIG, Type.LONG, 5_000L, Range.between(1, 3_600_000),
                    Importance.MEDIUM, BREAKER_WAIT_IN_OPEN_MS_DOC)
            .define(BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_CONFIG, Type.INT, 3, Range.between(1, 10_000),
                    Importance.LOW, BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_DOC)
            .define(RETRY_MAX_ATTEMPTS_CONFIG, Type.INT, 3, Range.between(1, 100), Importance.MEDIUM,
                    RETRY_MAX_ATTEMPTS_DOC)
            .define(RETRY_INITIAL_BACKOFF_MS_CONFIG, Type.LONG, 20L, Range.between(1, 60_000), Importance.LOW,
                    RETRY_INITIAL_BACKOFF_MS_DOC)
            .define(RETRY_RANDOMIZATION_FACTOR_CONFIG, Type.DOUBLE, 0.5, Range.between(0.0, 1.0), Importance.LOW,
                    RETRY_RANDOMIZATION_FACTOR_DOC)
            .define(DELIVERY_MARGIN_MS_CONFIG, Type.LONG, 60L, Range.between(0, 30_000), Importance.MEDIUM,
                    DELIVERY_MARGIN_MS_DOC)
            .define(CHUNK_COALESCE_MS_CONFIG, Type.LONG, 10L, Range.between(0, 1_000), Importance.LOW,
                    CHUNK_COALESCE_MS_DOC)
            .define(FALLBACK_TIMEOUT_CONFIG, Type.STRING, "Sorry, give me just a moment.", Importance.LOW,
                    FALLBACK_TIMEOUT_DOC)
            .define(FALLBACK_CIRCUIT_OPEN_CONFIG, Type.STRING,
                    "I'm having a little trouble right now. Could you say that again in a moment?", Importance.LOW,
                    FALLBACK_CIRCUIT_OPEN_DOC)
            .define(FALLBACK_BULKHEAD_FULL_CONFIG, Type.STRING, "Thanks for your patience, one moment please.",
                    Importance.LOW, FALLBACK_BULKHEAD_FULL_DOC)
            .define(FALLBACK_STALL_CONFIG, Type.STRING, "Sorry, I lost my train of thought there. Could you say "
                    + "that again?", Importance.LOW, FALLBACK_STALL_DOC)
            .define(FALLBACK_MAX_ANSWER_CONFIG, Type.STRING, "Let me stop there.", Importance.LOW,
                    FALLBACK_MAX_ANSWER_DOC)
            .define(FALLBACK_ERROR_CONFIG, Type.STRING, "Sorry, I didn't quite get that. Could you repeat it?",
                    Importance.LOW, FALLBACK_ERROR_DOC)
            .define(CAPACITY_HOLD_MESSAGE_CONFIG, Type.STRING, DEFAULT_HOLD_MESSAGE, new NonEmptyString(),
                    Importance.MEDIUM, CAPACITY_HOLD_MESSAGE_DOC)
            .define(CAPACITY_HOLD_REPEAT_MS_CONFIG, Type.LONG, 15_000L, Range.between(1_000, 3_600_000),
                    Importance.LOW, CAPACITY_HOLD_REPEAT_MS_DOC)
            .define(CACHE_ENABLED_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, CACHE_ENABLED_DOC)
            .define(CACHE_TTL_MS_CONFIG, Type.LONG, 300_000L, Range.between(1, 7L * 24 * 3_600_000),
                    Importance.LOW, CACHE_TTL_MS_DOC)
            .define(CACHE_MAX_ENTRIES_CONFIG, Type.INT, 10_000, Range.between(1, 10_000_000), Importance.LOW,
                    CACHE_MAX_ENTRIES_DOC)
            .define(CACHE_TAIL_KEY_AGENTS_CONFIG, Type.LIST, "", Importance.LOW, CACHE_TAIL_KEY_AGENTS_DOC)
            .define(TOOLS_END_CALL_ENABLED_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, TOOLS_END_CALL_ENABLED_DOC)
            .define(TOOLS_TRANSFER_NUMBER_CONFIG, Type.STRING, "", Importance.MEDIUM, TOOLS_TRANSFER_NUMBER_DOC)
            .define(TOOLS_TRANSFER_NUMBER_VARIABLE_CONFIG, Type.STRING, "transfer_number", Importance.LOW,
                    TOOLS_TRANSFER_NUMBER_VARIABLE_DOC)
            .define(TOOLS_HOLDING_LINE_CONFIG, Type.STRING, "One moment while I check that.", Importance.LOW,
                    TOOLS_HOLDING_LINE_DOC)
            .define(TOOLS_MAX_ROUNDS_CONFIG, Type.INT, 3, Range.between(1, 20), Importance.LOW, TOOLS_MAX_ROUNDS_DOC)
            .define(TOOLS_DEFINITIONS_CONFIG, Type.STRING, "", Importance.MEDIUM, TOOLS_DEFINITIONS_DOC)
            .define(TOOLS_TIMEOUT_MS_CONFIG, Type.LONG, 5_000L, Range.between(1, ToolSpec.MAX_TIMEOUT_MS),
                    Importance.MEDIUM, TOOLS_TIMEOUT_MS_DOC)
            .define(TOOLS_BREAKER_FAILURE_RATE_THRESHOLD_CONFIG, Type.DOUBLE, 50.0, Range.between(1.0, 100.0),
                    Importance.LOW, TOOLS_BREAKER_FAILURE_RATE_THRESHOLD_DOC)
            .define(TOOLS_BREAKER_SLIDING_WINDOW_SIZE_CONFIG, Type.INT, 10, Range.between(1, 10_000), Importance.LOW,
                    TOOLS_BREAKER_SLIDING_WINDOW_SIZE_DOC)
            .define(TOOLS_BREAKER_MINIMUM_CALLS_CONFIG, Type.INT, 5, Range.between(1, 10_000), Importance.LOW,
                    TOOLS_BREAKER_MINIMUM_CALLS_DOC)
            .define(TOOLS_BREAKER_WAIT_IN_OPEN_MS_CONFIG, Type.LONG, 30_000L, Range.between(1, 3_600_000),
                    Importance.LOW, TOOLS_BREAKER_WAIT_IN_OPEN_MS_DOC);

    /**
     * Reads and validates the settings.
     *
     * @throws ConfigException naming the key, when a value is invalid, or {@code agent.backend} is
     *                         {@code openai} and {@code agent.openai.url} is not an http(s) URL, or the script's
     *                         first-chunk p99 is below its median
     */
    public ResponderConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
        if (BACKEND_OPENAI.equals(agentBackend())) {
            checkOpenAiUrl(openAiUrl());
        }
        if (BACKEND_RETELL_SOCKET.equals(agentBackend())) {
            checkUpstreamUrlTemplate(upstreamUrlTemplate());
            if (upstreamReconnectMaxBackoffMs() < upstreamReconnectInitialBackoffMs()) {
                throw new ConfigException(UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG, upstreamReconnectMaxBackoffMs(),
                        "must be at least " + UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG + " ("
                                + upstreamReconnectInitialBackoffMs() + ")");
            }
        }
        toolDefinitions();
        long median = getLong(SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG);
        long p99 = getLong(SCRIPT_FIRST_CHUNK_P99_MS_CONFIG);
        if (p99 != 0 && p99 < median) {
            throw new ConfigException(SCRIPT_FIRST_CHUNK_P99_MS_CONFIG, p99, "must be at least "
                    + SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG + " (" + median + ")");
        }
        if (!BACKEND_NONE.equals(fallbackBackend())) {
            // The fallback's settings are checked with the rest, at start, not when the first turn needs them.
            try {
                fallbackConfig();
            } catch (ConfigException e) {
                throw new ConfigException(FALLBACK_PREFIX + "* (" + FALLBACK_BACKEND_CONFIG + " is "
                        + fallbackBackend() + "): " + e.getMessage());
            }
        }
    }

    /**
     * Checks the settings that relate to the common ones: the delivery margin must leave part of the turn
     * budget for the backend.
     *
     * @throws ConfigException naming {@code responder.delivery-margin-ms} and {@code turn.budget-ms}, when the
     *                         margin is not less than the budget
     */
    public void checkAgainst(CommonConfig common) {
        if (deliveryMarginMs() >= common.turnBudgetMs()) {
            throw new ConfigException(DELIVERY_MARGIN_MS_CONFIG, deliveryMarginMs(),
                    "must be less than " + CommonConfig.TURN_BUDGET_MS_CONFIG + " (" + common.turnBudgetMs() + ")");
        }
    }

    private static void checkOpenAiUrl(String url) {
        try {
            URI parsed = URI.create(url);
            if (!"http".equals(parsed.getScheme()) && !"https".equals(parsed.getScheme())) {
                throw new IllegalArgumentException("scheme must be http or https");
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException(OPENAI_URL_CONFIG, url, e.getMessage() + " (" + AGENT_BACKEND_CONFIG
                    + " is " + BACKEND_OPENAI + ")");
        }
    }

    private static void checkUpstreamUrlTemplate(String template) {
        try {
            if (!template.contains(UPSTREAM_CALL_ID_PLACEHOLDER)) {
                throw new IllegalArgumentException("must contain " + UPSTREAM_CALL_ID_PLACEHOLDER);
            }
            URI parsed = URI.create(template.replace(UPSTREAM_CALL_ID_PLACEHOLDER, "call"));
            if (!"ws".equals(parsed.getScheme()) && !"wss".equals(parsed.getScheme())) {
                throw new IllegalArgumentException("scheme must be ws or wss");
            }
            if (parsed.getHost() == null) {
                throw new IllegalArgumentException("must name a host");
            }
        } catch (IllegalArgumentException e) {
            // The value and a URI parser's message both quote the URL: redacted, it may carry a secret.
            throw new ConfigException(UPSTREAM_URL_TEMPLATE_CONFIG, SecretText.redact(template),
                    SecretText.redact(e.getMessage()) + " ("
                    + AGENT_BACKEND_CONFIG + " is " + BACKEND_RETELL_SOCKET + ")");
        }
    }

    /** Every key this config declares, with type, default and doc. */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public String agentBackend() {
        return getString(AGENT_BACKEND_CONFIG);
    }

    public long scriptDelayMs() {
        return getLong(SCRIPT_DELAY_MS_CONFIG);
    }

    public double scriptFailureRate() {
        return getDouble(SCRIPT_FAILURE_RATE_CONFIG);
    }

    public double scriptHangRate() {
        return getDouble(SCRIPT_HANG_RATE_CONFIG);
    }

    public long scriptFirstChunkMedianMs() {
        return getLong(SCRIPT_FIRST_CHUNK_MEDIAN_MS_CONFIG);
    }

    /** The first-chunk p99; 0 (unset) reads as the median. */
    public long scriptFirstChunkP99Ms() {
        long p99 = getLong(SCRIPT_FIRST_CHUNK_P99_MS_CONFIG);
        return p99 == 0 ? scriptFirstChunkMedianMs() : p99;
    }

    public int scriptChunks() {
        return getInt(SCRIPT_CHUNKS_CONFIG);
    }

    public long scriptChunkGapMs() {
        return getLong(SCRIPT_CHUNK_GAP_MS_CONFIG);
    }

    public double scriptStallRate() {
        return getDouble(SCRIPT_STALL_RATE_CONFIG);
    }

    public long scriptStallMs() {
        return getLong(SCRIPT_STALL_MS_CONFIG);
    }

    /** The script backend's transfer number; empty when it does not transfer. */
    public String scriptTransferNumber() {
        String number = getString(SCRIPT_TRANSFER_NUMBER_CONFIG);
        return number == null ? "" : number.trim();
    }

    public String scriptGreeting() {
        return getString(SCRIPT_GREETING_CONFIG);
    }

    public String openAiUrl() {
        return getString(OPENAI_URL_CONFIG);
    }

    public String openAiModel() {
        return getString(OPENAI_MODEL_CONFIG);
    }

    /** The API key in clear; empty when none is configured. */
    public String openAiApiKey() {
        org.apache.kafka.common.config.types.Password key = getPassword(OPENAI_API_KEY_CONFIG);
        return key == null ? "" : key.value();
    }

    public String openAiSystemPrompt() {
        return getString(OPENAI_SYSTEM_PROMPT_CONFIG);
    }

    public int openAiMaxTokens() {
        return getInt(OPENAI_MAX_TOKENS_CONFIG);
    }

    /** The upstream's URL with {@value #UPSTREAM_CALL_ID_PLACEHOLDER} still in it. */
    public String upstreamUrlTemplate() {
        return getString(UPSTREAM_URL_TEMPLATE_CONFIG);
    }

    public long upstreamConnectTimeoutMs() {
        return getLong(UPSTREAM_CONNECT_TIMEOUT_MS_CONFIG);
    }

    public long upstreamReconnectInitialBackoffMs() {
        return getLong(UPSTREAM_RECONNECT_INITIAL_BACKOFF_MS_CONFIG);
    }

    public long upstreamReconnectMaxBackoffMs() {
        return getLong(UPSTREAM_RECONNECT_MAX_BACKOFF_MS_CONFIG);
    }

    public int upstreamReconnectMaxAttempts() {
        return getInt(UPSTREAM_RECONNECT_MAX_ATTEMPTS_CONFIG);
    }

    public long upstreamToolTimeLimitMs() {
        return getLong(UPSTREAM_TOOL_TIME_LIMIT_MS_CONFIG);
    }

    public int upstreamMaxFrameChars() {
        return getInt(UPSTREAM_MAX_FRAME_CHARS_CONFIG);
    }

    public int upstreamMaxCalls() {
        return getInt(UPSTREAM_MAX_CALLS_CONFIG);
    }

    public int sessionTimeoutMs() {
        return getInt(SESSION_TIMEOUT_MS_CONFIG);
    }

    public String groupId() {
        return getString(GROUP_ID_CONFIG);
    }

    public int maxConcurrent() {
        return getInt(MAX_CONCURRENT_CONFIG);
    }

    public float breakerFailureRateThreshold() {
        return getDouble(BREAKER_FAILURE_RATE_THRESHOLD_CONFIG).floatValue();
    }

    public float breakerSlowCallRateThreshold() {
        return getDouble(BREAKER_SLOW_CALL_RATE_THRESHOLD_CONFIG).floatValue();
    }

    public long breakerSlowCallDurationMs() {
        return getLong(BREAKER_SLOW_CALL_DURATION_MS_CONFIG);
    }

    public int breakerSlidingWindowSize() {
        return getInt(BREAKER_SLIDING_WINDOW_SIZE_CONFIG);
    }

    public int breakerMinimumCalls() {
        return getInt(BREAKER_MINIMUM_CALLS_CONFIG);
    }

    public long breakerWaitInOpenMs() {
        return getLong(BREAKER_WAIT_IN_OPEN_MS_CONFIG);
    }

    public int breakerPermittedCallsInHalfOpen() {
        return getInt(BREAKER_PERMITTED_CALLS_IN_HALF_OPEN_CONFIG);
    }

    public int retryMaxAttempts() {
        return getInt(RETRY_MAX_ATTEMPTS_CONFIG);
    }

    public long retryInitialBackoffMs() {
        return getLong(RETRY_INITIAL_BACKOFF_MS_CONFIG);
    }

    public double retryRandomizationFactor() {
        return getDouble(RETRY_RANDOMIZATION_FACTOR_CONFIG);
    }

    public long deliveryMarginMs() {
        return getLong(DELIVERY_MARGIN_MS_CONFIG);
    }

    public long chunkCoalesceMs() {
        return getLong(CHUNK_COALESCE_MS_CONFIG);
    }

    /**
     * The line said for a fallback of that reason: the configured one, or the shared
     * {@code turn.fallback-message} when it is empty.
     */
    /** The fallback backend's kind; {@link #BACKEND_NONE} when there is none. */
    public String fallbackBackend() {
        return getString(FALLBACK_BACKEND_CONFIG);
    }

    /**
     * The settings the fallback backend is built from: these settings with each {@code agent.fallback.*} key in
     * place of the primary's {@code agent.*} key.
     *
     * @throws IllegalStateException when no fallback backend is configured
     */
    public ResponderConfig fallbackConfig() {
        if (BACKEND_NONE.equals(fallbackBackend())) {
            throw new IllegalStateException(FALLBACK_BACKEND_CONFIG + " is " + BACKEND_NONE);
        }
        Map<String, Object> values = new java.util.HashMap<>(originals());
        values.keySet().removeIf(key -> key.startsWith(FALLBACK_PREFIX));
        for (String key : DEFINITION.names()) {
            if (key.startsWith(FALLBACK_PREFIX)) {
                Object value = key.equals(FALLBACK_OPENAI_API_KEY_CONFIG)
                        ? getPassword(key).value() : get(key);
                values.put("agent." + key.substring(FALLBACK_PREFIX.length()), value);
            }
        }
        return new ResponderConfig(values);
    }

    /** {@code responder.hedge.delay-ms}: -1 never, 0 adaptive, else fixed. */
    public long hedgeDelayMs() {
        return getLong(HEDGE_DELAY_MS_CONFIG);
    }

    public long firstChunkTimeoutMs() {
        return getLong(FIRST_CHUNK_TIMEOUT_MS_CONFIG);
    }

    public String fallbackMessage(FallbackReason reason, CommonConfig common) {
        String key = switch (reason) {
            case TIMEOUT, ADMISSION_UNKNOWN -> FALLBACK_TIMEOUT_CONFIG;
            case CIRCUIT_OPEN -> FALLBACK_CIRCUIT_OPEN_CONFIG;
            case BULKHEAD_FULL -> FALLBACK_BULKHEAD_FULL_CONFIG;
            case ERROR -> FALLBACK_ERROR_CONFIG;
            case STALL -> FALLBACK_STALL_CONFIG;
            case MAX_ANSWER -> FALLBACK_MAX_ANSWER_CONFIG;
        };
        String configured = getString(key);
        return configured == null || configured.isBlank() ? common.turnFallbackMessage() : configured;
    }

    public String holdMessage() {
        return getString(CAPACITY_HOLD_MESSAGE_CONFIG);
    }

    public long holdRepeatMs() {
        return getLong(CAPACITY_HOLD_REPEAT_MS_CONFIG);
    }

    /**
     * {@code socket.greeting}, declared by the ingress's config and read here from the same values with the same
     * default (as the egress does): the begin message of an admitted call whose backend says none.
     */
    public String socketGreeting() {
        Object value = originals().get(SOCKET_GREETING_CONFIG);
        return value == null ? DEFAULT_GREETING : value.toString();
    }

    /** {@code capacity.busy-message}, declared by the processor's config; read from the same values. */
    public String busyMessage() {
        Object value = originals().get(io.callguard.processor.ProcessorConfig.CAPACITY_BUSY_MESSAGE_CONFIG);
        return value == null ? io.callguard.processor.ProcessorConfig.DEFAULT_BUSY_MESSAGE : value.toString();
    }

    public boolean cacheEnabled() {
        return getBoolean(CACHE_ENABLED_CONFIG);
    }

    public long cacheTtlMs() {
        return getLong(CACHE_TTL_MS_CONFIG);
    }

    public int cacheMaxEntries() {
        return getInt(CACHE_MAX_ENTRIES_CONFIG);
    }

    /** The agents that opted in to the loose tail key; blank entries dropped. */
    public java.util.Set<String> cacheTailKeyAgents() {
        return getList(CACHE_TAIL_KEY_AGENTS_CONFIG).stream().map(String::trim).filter(a -> !a.isEmpty())
                .collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    public boolean toolsEndCallEnabled() {
        return getBoolean(TOOLS_END_CALL_ENABLED_CONFIG);
    }

    /** The static transfer number; empty when none. */
    public String toolsTransferNumber() {
        return getString(TOOLS_TRANSFER_NUMBER_CONFIG).trim();
    }

    public String toolsTransferNumberVariable() {
        return getString(TOOLS_TRANSFER_NUMBER_VARIABLE_CONFIG).trim();
    }

    public String toolsHoldingLine() {
        return getString(TOOLS_HOLDING_LINE_CONFIG);
    }

    public int toolsMaxRounds() {
        return getInt(TOOLS_MAX_ROUNDS_CONFIG);
    }

    /**
     * The operator-defined tools of {@code agent.tools.definitions}.
     *
     * @throws ConfigException naming the key, the tool and the field, when a definition is invalid
     */
    public java.util.List<ToolSpec> toolDefinitions() {
        try {
            return ToolSpec.parseAll(getString(TOOLS_DEFINITIONS_CONFIG), getLong(TOOLS_TIMEOUT_MS_CONFIG));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(TOOLS_DEFINITIONS_CONFIG + ": " + e.getMessage());
        }
    }

    public float toolsBreakerFailureRateThreshold() {
        return getDouble(TOOLS_BREAKER_FAILURE_RATE_THRESHOLD_CONFIG).floatValue();
    }

    public int toolsBreakerSlidingWindowSize() {
        return getInt(TOOLS_BREAKER_SLIDING_WINDOW_SIZE_CONFIG);
    }

    public int toolsBreakerMinimumCalls() {
        return getInt(TOOLS_BREAKER_MINIMUM_CALLS_CONFIG);
    }

    public long toolsBreakerWaitInOpenMs() {
        return getLong(TOOLS_BREAKER_WAIT_IN_OPEN_MS_CONFIG);
    }
}
