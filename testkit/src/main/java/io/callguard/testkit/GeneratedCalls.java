package io.callguard.testkit;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.retell.frames.ResponseType;
import io.callguard.retell.webhook.WebhookEvent;
import io.callguard.schemas.Json;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Retell's end-of-call webhooks ({@code call_ended}, {@code call_analyzed}) of a generated conversation of any
 * length, shaped as Retell sends them: the call object with {@code transcript} (the text, one line per utterance),
 * {@code transcript_object} (each utterance with its {@code words[{word,start,end}]}, times in seconds from the
 * call's start) and {@code transcript_with_tool_calls} (the same utterances, words included, with the tool call
 * invocations and results in between), latency and cost. Deterministic for a seed.
 *
 * <p>The conversation: the agent speaks first; agent and caller take turns of one to three sentences (agent 6-18
 * words a sentence at about 160 words a minute, caller 3-16 at about 140, as measured for conversational
 * English), a 0.4-1.5 s gap between turns, and one agent turn in twelve calls a tool first (an order lookup, its
 * JSON result of a few hundred bytes). That comes to about 130 words a minute of call, both roles together.
 * Words are drawn, most frequent first, from a vocabulary of everyday and customer-service English, so their
 * lengths are those of speech, not of random letters.
 */
public final class GeneratedCalls {

    /** Utterance roles in Retell's transcripts. */
    static final String AGENT = "agent";
    static final String USER = "user";

    private static final long START_TIMESTAMP = 1_700_000_000_000L;
    private static final String[] VOCABULARY = ("the I you to a and it that is of for on my can your we have this be "
            + "what in with so do me was just not it's I'm are yes okay at but if there like know one order get "
            + "about would they all no right our let see go help sure will thank could here account number now "
            + "then check please how some time an need want or from today yeah can't up out when which by any "
            + "send make think well give been call that's were look moment two also back again email address "
            + "card payment delivery package week day next last days through new update fine great perfect "
            + "problem issue sorry understand tracking refund return item price shipping date Monday Tuesday "
            + "Friday morning afternoon customer service appointment store online phone name confirm correct "
            + "information policy balance three five twenty hundred minutes actually really probably exactly "
            + "everything something anything because should still only other first thanks hello hi bye").split(" ");
    private static final String[] TOOLS = {"lookup_order", "check_delivery", "get_account_balance"};

    private GeneratedCalls() {
    }

    /** The body of a signed-to-be {@code call_ended} webhook of a call of {@code length}. */
    public static String callEnded(String callId, Duration length, long seed) {
        return Json.mapper().createObjectNode().put(WebhookEvent.FIELD, WebhookEvent.CALL_ENDED)
                .<ObjectNode>set("call", call(callId, length, seed, false)).toString();
    }

    /** The body of a {@code call_analyzed} webhook: the same call with its {@code call_analysis}. */
    public static String callAnalyzed(String callId, Duration length, long seed) {
        return Json.mapper().createObjectNode().put(WebhookEvent.FIELD, WebhookEvent.CALL_ANALYZED)
                .<ObjectNode>set("call", call(callId, length, seed, true)).toString();
    }

    private static ObjectNode call(String callId, Duration length, long seed, boolean analyzed) {
        SplittableRandom random = new SplittableRandom(seed);
        Conversation talk = converse(random, length.toMillis() / 1000.0);
        ObjectNode call = Json.mapper().createObjectNode()
                .put("call_type", "phone_call")
                .put("from_number", "+14155550123")
                .put("to_number", "+14155550188")
                .put("direction", "inbound")
                .put("call_id", callId)
                .put("agent_id", "agent_3f9a1c2e4b5d6e7f8a9b0c1d2e")
                .put("agent_version", 7)
                .put("call_status", "ended");
        call.putObject("metadata").put("crm_contact_id", "0035e00000XyZaBQAV");
        call.putObject("retell_llm_dynamic_variables").put("customer_name", "Jordan Avery")
                .put("account_tier", "gold");
        long durationMs = Math.round(talk.endSeconds * 1000);
        call.put("start_timestamp", START_TIMESTAMP)
                .put("end_timestamp", START_TIMESTAMP + durationMs)
                .put("duration_ms", durationMs)
                .put("transcript", talk.text.toString())
                .set("transcript_object", talk.utterances);
        call.set("transcript_with_tool_calls", talk.withToolCalls);
        call.put("recording_url", "https://dxc03zgurdly9.cloudfront.net/" + callId + "/recording.wav")
                .put("public_log_url", "https://dxc03zgurdly9.cloudfront.net/" + callId + "/public.log")
                .put("disconnection_reason", "user_hangup")
                .put("opt_out_sensitive_data_storage", false);
        ObjectNode latency = call.putObject("latency");
        for (String stage : new String[] {"e2e", "llm", "tts", "asr"}) {
            latency.set(stage, latency(random, talk.agentTurns, stage.equals("e2e") ? 900 : 300));
        }
        ObjectNode cost = call.putObject("call_cost");
        ArrayNode products = cost.putArray("product_costs");
        double minutes = durationMs / 60_000.0;
        for (String product : new String[] {"elevenlabs_tts", "gpt_4o", "retell_platform"}) {
            products.addObject().put("product", product).put("unit_price", 0.0117).put("cost", round(minutes * 1.17));
        }
        cost.put("total_duration_seconds", durationMs / 1000).put("combined_cost", round(minutes * 3.51));
        if (analyzed) {
            call.putObject("call_analysis")
                    .put("call_summary", "The caller asked about a delayed order and a refund. The agent looked "
                            + "the order up, confirmed the delivery date and the refund policy, updated the email "
                            + "address on the account and sent a confirmation. The caller was satisfied.")
                    .put("in_voicemail", false)
                    .put("user_sentiment", "Positive")
                    .put("call_successful", true)
                    .putObject("custom_analysis_data").put("order_found", true);
        }
        return call;
    }

    /** Utterances until {@code seconds} have passed, in Retell's three transcript forms at once. */
    private static Conversation converse(SplittableRandom random, double seconds) {
        Conversation talk = new Conversation();
        double t = 0.3;
        boolean agent = true;
        int toolCalls = 0;
        while (t < seconds) {
            if (agent && talk.agentTurns > 0 && random.nextInt(12) == 0) {
                t = toolCall(random, talk, "tool_call_" + (++toolCalls), t);
            }
            t = utterance(random, talk, agent, t);
            if (agent) {
                talk.agentTurns++;
            }
            t += 0.4 + random.nextDouble() * 1.1;
            agent = !agent;
        }
        talk.endSeconds = Math.max(t, seconds);
        return talk;
    }

    private static double utterance(SplittableRandom random, Conversation talk, boolean agent, double start) {
        String role = agent ? AGENT : USER;
        // Nominal seconds per word; with the pauses between words and sentences, about 160 (agent) and 140 (caller) words a minute.
        double secondsPerWord = agent ? 60.0 / 175 : 60.0 / 155;
        ArrayNode words = Json.mapper().createArrayNode();
        List<String> spoken = new ArrayList<>();
        double t = start;
        int sentences = 1 + random.nextInt(agent ? 3 : 2);
        for (int s = 0; s < sentences; s++) {
            int count = agent ? 6 + random.nextInt(13) : 3 + random.nextInt(14);
            for (int w = 0; w < count; w++) {
                String word = word(random, w == 0);
                if (w == count - 1) {
                    word += random.nextInt(4) == 0 ? "?" : ".";
                }
                double duration = secondsPerWord * (0.55 + 0.09 * word.length()) * (0.8 + random.nextDouble() * 0.4);
                double gap = 0.02 + random.nextDouble() * 0.1;
                words.addObject().put("word", word).put("start", round(t)).put("end", round(t + duration));
                spoken.add(word);
                t += duration + gap;
            }
            t += 0.25 + random.nextDouble() * 0.3;
        }
        String content = String.join(" ", spoken);
        talk.text.append(agent ? "Agent: " : "User: ").append(content).append('\n');
        talk.utterances.addObject().put("role", role).put("content", content).set("words", words);
        talk.withToolCalls.addObject().put("role", role).put("content", content).set("words", words.deepCopy());
        return t;
    }

    private static double toolCall(SplittableRandom random, Conversation talk, String id, double t) {
        String tool = TOOLS[random.nextInt(TOOLS.length)];
        String orderId = "A" + (10_000 + random.nextInt(90_000));
        talk.withToolCalls.addObject().put("role", ResponseType.TOOL_CALL_INVOCATION).put("tool_call_id", id)
                .put("name", tool).put("arguments", "{\"order_id\":\"" + orderId + "\",\"include_history\":true}");
        ObjectNode result = Json.mapper().createObjectNode().put("order_id", orderId).put("status", "in_transit")
                .put("carrier", "UPS").put("tracking_number", "1Z999AA1" + (10_000_000 + random.nextInt(89_999_999)))
                .put("estimated_delivery", "2026-12-0" + (1 + random.nextInt(9)))
                .put("shipping_address", "1234 Market Street, Apt 5B, San Francisco, CA 94103");
        ArrayNode items = result.putArray("items");
        for (int i = 0, n = 1 + random.nextInt(4); i < n; i++) {
            items.addObject().put("sku", "SKU-" + (100_000 + random.nextInt(900_000))).put("name", "Wireless earbuds")
                    .put("quantity", 1 + random.nextInt(3)).put("price", round(10 + random.nextDouble() * 190));
        }
        talk.withToolCalls.addObject().put("role", ResponseType.TOOL_CALL_RESULT).put("tool_call_id", id)
                .put("content", result.toString()).put("successful", true);
        return t + 1 + random.nextDouble() * 2;
    }

    /** A word, frequent ones more often (a Zipf-like draw from the vocabulary). */
    private static String word(SplittableRandom random, boolean capitalized) {
        double u = random.nextDouble();
        String word = VOCABULARY[(int) (VOCABULARY.length * u * u)];
        return capitalized && !word.isEmpty() ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : word;
    }

    private static ObjectNode latency(SplittableRandom random, int turns, int medianMs) {
        ObjectNode stage = Json.mapper().createObjectNode();
        ArrayNode values = Json.mapper().createArrayNode();
        for (int i = 0; i < turns; i++) {
            values.add(medianMs / 2 + random.nextInt(medianMs * 2));
        }
        stage.put("p50", medianMs).put("p90", medianMs * 1.6).put("p95", medianMs * 1.9).put("p99", medianMs * 2.4)
                .put("min", medianMs / 2).put("max", medianMs * 5 / 2).put("num", turns).set("values", values);
        return stage;
    }

    /** Seconds (or money) to three decimals, as Retell's word timings are written. */
    private static BigDecimal round(double value) {
        return BigDecimal.valueOf(value).setScale(3, RoundingMode.HALF_UP);
    }

    private static final class Conversation {
        final StringBuilder text = new StringBuilder();
        final ArrayNode utterances = Json.mapper().createArrayNode();
        final ArrayNode withToolCalls = Json.mapper().createArrayNode();
        int agentTurns;
        double endSeconds;
    }
}
