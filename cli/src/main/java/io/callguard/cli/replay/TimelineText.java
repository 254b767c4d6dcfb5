package io.callguard.cli.replay;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The replay timeline as a person reads it, from its JSON form (so the two never disagree). */
final class TimelineText {

    private TimelineText() {
    }

    static String render(JsonNode t) {
        StringBuilder s = new StringBuilder();
        JsonNode scan = t.path("scan");
        s.append(String.format("call %s: %d events on %s-%d (offsets %d..%d; earliest retained %d at %s), %d answer records%n",
                t.path("call_id").asText(), scan.path("events").asInt(), t.path("topic").asText(),
                t.path("partition").asInt(), scan.path("from_offset").asLong(), scan.path("to_offset").asLong(),
                scan.path("earliest_offset").asLong(), scan.path("earliest_timestamp").asText("-"),
                scan.path("answers").asInt()));
        for (JsonNode e : t.path("timeline")) {
            String kind = e.path("kind").asText();
            if (kind.equals("event")) {
                s.append(String.format("%s  %-7s %-18s", e.path("time").asText(), e.path("source").asText(),
                        e.path("type").asText()));
                if (e.has("response_id")) {
                    s.append(" response_id=").append(e.path("response_id").asLong());
                }
                s.append("  key=").append(e.path("idempotency_key").asText("-")).append("  @").append(e.path("offset"))
                        .append('\n');
            } else if (kind.equals("timers")) {
                s.append(e.path("time").asText()).append("  (wall clock advanced: timers)\n");
            } else {
                s.append("  answers with no request among the events scanned:\n");
            }
            JsonNode tr = e.path("transition");
            if (!tr.isMissingNode()) {
                s.append("    state ").append(tr.path("status_before").asText("(new)")).append(" -> ")
                        .append(tr.path("status_after").asText("(none)"));
                Iterator<Map.Entry<String, JsonNode>> fields = tr.path("changed").fields();
                StringBuilder changed = new StringBuilder();
                while (fields.hasNext()) {
                    Map.Entry<String, JsonNode> f = fields.next();
                    if (f.getKey().equals("status")) {
                        continue;
                    }
                    changed.append(changed.length() == 0 ? "" : ", ").append(f.getKey()).append(' ')
                            .append(shorten(f.getValue().get(0))).append("->").append(shorten(f.getValue().get(1)));
                }
                if (changed.length() > 0) {
                    s.append("  (").append(changed).append(')');
                }
                s.append('\n');
            }
            if (e.path("decisions").size() > 0) {
                s.append("    decisions: ");
                for (int i = 0; i < e.path("decisions").size(); i++) {
                    s.append(i == 0 ? "" : ", ").append(e.path("decisions").get(i).asText());
                }
                s.append('\n');
            }
            if (e.has("live_admission")) {
                s.append("    live admission (call-state): ");
                for (int i = 0; i < e.path("live_admission").size(); i++) {
                    JsonNode d = e.path("live_admission").get(i);
                    s.append(i == 0 ? "" : ", ").append(d.path("decision").asText()).append(" at ")
                            .append(d.path("time").asText());
                }
                s.append("; re-made for this call alone: ").append(e.path("admission_remade").isEmpty() ? "(none)"
                        : String.join(", ", texts(e.path("admission_remade")))).append('\n');
            }
            answers(s, e.path("answers"));
        }
        JsonNode replayed = t.path("replayed").path("final_state");
        JsonNode live = t.path("live").path("final_state");
        s.append("replayed: ").append(summary(replayed)).append(t.path("replayed").path("archived").isNull() ? ""
                : ", archived " + t.path("replayed").path("archived").asText()).append('\n');
        s.append("live:     ").append(summary(live)).append(t.path("live").path("archived").isNull() ? ""
                : ", archived " + t.path("live").path("archived").asText()).append('\n');
        JsonNode matches = t.path("matches_live");
        s.append(matches.isNull() || matches.isMissingNode() ? "no live state to compare (removed and archive not found)\n"
                : matches.asBoolean() ? "the replay reached the live state\n"
                : "the replay differs from the live state (capacity decisions depend on the partition's other calls, "
                        + "which a replay does not re-run; or events outside --since/--until; or a live call's latest "
                        + "turns, whose counters call-state publishes every call.state-counters-interval-ms)\n");
        if (t.path("live").path("admission_differs").asBoolean()) {
            s.append("admission: the live decisions (from call-state) differ from the ones re-made for this call alone; "
                    + "the live ones are what the caller got\n");
        }
        if (t.has("republished")) {
            s.append("re-published ").append(t.path("republished").path("events").asInt()).append(" events to ")
                    .append(t.path("republished").path("topic").asText()).append('\n');
        }
        if (t.has("warning")) {
            s.append("WARNING: ").append(t.path("warning").asText()).append('\n');
        }
        return s.toString();
    }

    /**
     * A turn's answer as one line at its complete chunk, with what its chunks did besides words (tool frames,
     * actions) in order; an interrupt likewise, under its own id; call-level frames at once; and what an answer
     * left incomplete did.
     */
    private static void answers(StringBuilder s, JsonNode answers) {
        Map<String, Pending> open = new LinkedHashMap<>();
        for (JsonNode a : answers) {
            String scope = a.path("scope").asText("turn");
            if (scope.equals("call")) {
                s.append("    call-level: ").append(joined(a.path("effects"))).append('\n');
                continue;
            }
            String key = scope.equals("interrupt") ? "interrupt id=" + a.path("interrupt_id").asLong()
                    : "answer id=" + a.path("response_id").asLong();
            Pending p = open.computeIfAbsent(key, k -> new Pending());
            p.chunks++;
            a.path("effects").forEach(x -> p.effects.add(x.asText()));
            if (!a.path("complete").asBoolean()) {
                continue;
            }
            open.remove(key);
            s.append(String.format("    %s %s%s, %d%s latency %d ms: %s%s%n", key, a.path("kind").asText(),
                    a.path("reason").isNull() || a.path("reason").isMissingNode() ? ""
                            : " (" + a.path("reason").asText() + ")",
                    p.chunks, " chunk(s), complete,", a.path("latency_ms").asLong(), a.path("content").asText(),
                    p.effects.isEmpty() ? "" : "  [" + String.join(", ", p.effects) + "]"));
        }
        open.forEach((key, p) -> {
            if (!p.effects.isEmpty()) {
                s.append(String.format("    %s, %d chunk(s), not complete: [%s]%n", key, p.chunks,
                        String.join(", ", p.effects)));
            }
        });
    }

    /** Chunks of an answer (or interrupt) seen so far, and their effects. */
    private static final class Pending {
        int chunks;
        final List<String> effects = new ArrayList<>();
    }

    private static String joined(JsonNode effects) {
        List<String> all = texts(effects);
        return all.isEmpty() ? "(nothing)" : String.join(", ", all);
    }

    private static List<String> texts(JsonNode array) {
        List<String> all = new ArrayList<>();
        array.forEach(x -> all.add(x.asText()));
        return all;
    }

    private static String summary(JsonNode state) {
        if (state == null || state.isNull() || state.isMissingNode()) {
            return "(none)";
        }
        return "status " + state.path("status").asText() + ", turns " + state.path("turn_count").asInt()
                + ", latest response_id " + state.path("latest_response_id").asText("-") + ", events applied "
                + state.path("events_applied").asLong() + ", duplicates dropped "
                + state.path("duplicates_dropped").asLong();
    }

    private static String shorten(JsonNode v) {
        String text = v == null || v.isNull() ? "null" : v.isTextual() ? v.asText() : v.toString();
        return text.length() > 40 ? text.substring(0, 37) + "..." : text;
    }
}
