package io.callguard.processor.responder.tools;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How streamed {@code delta.tool_calls[]} items become whole calls, OpenAI's way and the lenient ways. */
class ToolCallAssemblerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final ToolCallAssembler assembler = new ToolCallAssembler();

    @Test
    void shouldAssembleOpenAisDeltasByIndex() throws Exception {
        // Given two calls streamed interleaved: id and name first, then the arguments in pieces
        List<String> first = assembler.accept(delta("[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":"
                + "\"lookup_order\",\"arguments\":\"\"}},{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":"
                + "\"end_call\"}}]"));
        assembler.accept(delta("[{\"index\":0,\"function\":{\"arguments\":\"{\\\"order\"}}]"));
        assembler.accept(delta("[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]"));
        assembler.accept(delta("[{\"index\":0,\"function\":{\"arguments\":\"_id\\\":\\\"42\\\"}\"}}]"));

        // Then
        assertThat(first).containsExactly("lookup_order", "end_call");
        assertThat(assembler.calls()).containsExactly(
                new ToolCallAssembler.Call(0, "call_a", "lookup_order", "{\"order_id\":\"42\"}"),
                new ToolCallAssembler.Call(1, "call_b", "end_call", "{}"));
    }

    @Test
    void shouldContinueTheLastCallForItemsWithoutIndexAndStartTheNextOnANewIdOrName() throws Exception {
        // When a server sends no index at all
        assembler.accept(delta("[{\"id\":\"call_a\",\"function\":{\"name\":\"lookup_order\"}}]"));
        List<String> continued = assembler.accept(delta("[{\"function\":{\"arguments\":\"{\\\"order_id\\\":\"}}]"));
        assembler.accept(delta("[{\"function\":{\"arguments\":\"\\\"7\\\"}\"}}]"));
        List<String> next = assembler.accept(delta("[{\"id\":\"call_b\",\"function\":{\"name\":\"end_call\","
                + "\"arguments\":\"{}\"}}]"));
        assembler.accept(delta("[{\"function\":{\"name\":\"transfer_call\",\"arguments\":\"\"}}]"));

        // Then pieces go to the call being streamed; a new id, or a name, starts the next call
        assertThat(continued).isEmpty();
        assertThat(next).containsExactly("end_call");
        assertThat(assembler.calls()).containsExactly(
                new ToolCallAssembler.Call(0, "call_a", "lookup_order", "{\"order_id\":\"7\"}"),
                new ToolCallAssembler.Call(1, "call_b", "end_call", "{}"),
                new ToolCallAssembler.Call(2, "", "transfer_call", ""));
    }

    @Test
    void shouldKeepTheFirstNameWhenAServerRepeatsItForTheSameIndex() throws Exception {
        // When every delta of one index repeats the id and the name
        List<String> first = assembler.accept(delta("[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":"
                + "\"lookup_order\",\"arguments\":\"{\\\"a\\\":\"}}]"));
        List<String> again = assembler.accept(delta("[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":"
                + "\"lookup_order\",\"arguments\":\"1}\"}}]"));
        assembler.accept(delta("[{\"index\":0,\"id\":\"call_x\",\"function\":{\"name\":\"other\"}}]"));

        // Then it stays one call, named once, with the first id and name
        assertThat(first).containsExactly("lookup_order");
        assertThat(again).isEmpty();
        assertThat(assembler.calls()).containsExactly(
                new ToolCallAssembler.Call(0, "call_a", "lookup_order", "{\"a\":1}"));
    }

    @Test
    void shouldTakeArgumentsSentAsAnObjectAsTheirJsonText() throws Exception {
        // When a server sends the arguments whole, as an object rather than a string
        assembler.accept(delta("[{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":\"lookup_order\","
                + "\"arguments\":{\"order_id\":\"42\",\"rush\":true}}}]"));
        assembler.accept(delta("[{\"index\":0,\"function\":{\"arguments\":null}}]"));

        // Then they are that object's JSON text (a null piece adds nothing)
        ToolCallAssembler.Call call = assembler.calls().get(0);
        assertThat(JSON.readTree(call.arguments())).isEqualTo(JSON.readTree("{\"order_id\":\"42\",\"rush\":true}"));
    }

    @Test
    void shouldIgnoreAMissingOrNonArrayToolCalls() throws Exception {
        assertThat(assembler.accept(null)).isEmpty();
        assertThat(assembler.accept(JSON.readTree("{\"index\":0}"))).isEmpty();
        assertThat(assembler.isEmpty()).isTrue();
    }

    private static JsonNode delta(String toolCalls) throws Exception {
        return JSON.readTree(toolCalls);
    }
}
