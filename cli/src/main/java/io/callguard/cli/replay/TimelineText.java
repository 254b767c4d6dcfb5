package io.callguard.cli.replay;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
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
            int chunks = 0;
            for (JsonNode a : e.path("answers")) {
                chunks++;
                if (!a.path("complete").asBoolean()) {
                    continue;
                }
                s.append(String.format("    answer id=%d %s%s, %d%s latency %d ms: %s%n", a.path("response_id").asLong(),
                        a.path("kind").asText(), a.path("reason").isNull() ? "" : " (" + a.path("reason").asText() + ")",
                        chunks, " chunk(s), complete,", a.path("latency_ms").asLong(), a.path("content").asText()));
                chunks = 0;
            }
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
                        + "which a replay does not re-run; or events outside --since/--until)\n");
        if (t.has("republished")) {
            s.append("re-published ").append(t.path("republished").path("events").asInt()).append(" events to ")
                    .append(t.path("republished").path("topic").asText()).append('\n');
        }
        if (t.has("warning")) {
            s.append("WARNING: ").append(t.path("warning").asText()).append('\n');
        }
        return s.toString();
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
