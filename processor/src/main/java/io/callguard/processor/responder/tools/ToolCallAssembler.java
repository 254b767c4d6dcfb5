package io.callguard.processor.responder.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Puts together the tool calls of one streamed completion from its {@code delta.tool_calls[]} items, as OpenAI
 * sends them: each item has an {@code index}; the first for an index carries the {@code id} and
 * {@code function.name}, later ones pieces of {@code function.arguments} to append.
 *
 * <p>Lenient where servers differ: an item without {@code index} continues the last call unless it carries a new
 * {@code id} or name (then it starts the next one); a name sent again for the same index is kept as first seen.
 * Not thread-safe: one stream feeds it, in order.
 */
public final class ToolCallAssembler {

    /** A tool call as streamed so far; {@code llmId} may be empty (some servers send none). */
    public record Call(int index, String llmId, String name, String arguments) {
    }

    private final Map<Integer, Builder> calls = new TreeMap<>();
    private int last = -1;

    /**
     * Adds one delta's {@code tool_calls} array.
     *
     * @return the names of calls first named by this delta, in index order (to decide on a holding line early)
     */
    public List<String> accept(JsonNode toolCalls) {
        List<String> named = new ArrayList<>();
        if (toolCalls == null || !toolCalls.isArray()) {
            return named;
        }
        for (JsonNode item : toolCalls) {
            JsonNode function = item.path("function");
            String id = item.path("id").asText("");
            String name = function.path("name").asText("");
            int index;
            if (item.path("index").canConvertToInt()) {
                index = item.path("index").asInt();
            } else {
                index = last < 0 || !id.isEmpty() || !name.isEmpty() ? last + 1 : last;
            }
            last = Math.max(last, index);
            Builder call = calls.computeIfAbsent(index, Builder::new);
            if (call.llmId.isEmpty()) {
                call.llmId = id;
            }
            if (call.name.isEmpty() && !name.isEmpty()) {
                call.name = name;
                named.add(name);
            }
            JsonNode arguments = function.path("arguments");
            // Arguments are a string in pieces; a server that sends an object whole gets it as its JSON text.
            call.arguments.append(arguments.isTextual() ? arguments.asText()
                    : arguments.isMissingNode() || arguments.isNull() ? "" : arguments.toString());
        }
        return named;
    }

    /** Whether any tool call was streamed. */
    public boolean isEmpty() {
        return calls.isEmpty();
    }

    /** The calls, by index. */
    public List<Call> calls() {
        return calls.values().stream().map(b -> new Call(b.index, b.llmId, b.name, b.arguments.toString())).toList();
    }

    private static final class Builder {
        final int index;
        String llmId = "";
        String name = "";
        final StringBuilder arguments = new StringBuilder();

        Builder(int index) {
            this.index = index;
        }
    }
}
