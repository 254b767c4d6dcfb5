package io.callguard.processor.responder.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.callguard.schemas.Json;
import java.util.Set;

/**
 * The tools callguard itself answers, in Retell's convention: {@code end_call} and {@code transfer_call}, each
 * with a {@code message} argument, said before the call ends or is transferred.
 */
public final class BuiltinTools {

    public static final String END_CALL = "end_call";
    public static final String TRANSFER_CALL = "transfer_call";
    /** Their names, which operator-defined tools may not take. */
    public static final Set<String> NAMES = Set.of(END_CALL, TRANSFER_CALL);
    /** The argument said before acting. */
    public static final String MESSAGE = "message";

    private BuiltinTools() {
    }

    /** The {@code tools[]} entry of {@code end_call}. */
    public static ObjectNode endCall() {
        return function(END_CALL, "End the call. Use it when the conversation is over or the caller wants to hang "
                + "up.", "What to say before hanging up, e.g. a short goodbye.");
    }

    /** The {@code tools[]} entry of {@code transfer_call}. */
    public static ObjectNode transferCall() {
        return function(TRANSFER_CALL, "Transfer the call to a human. Use it when the caller asks for a person or "
                + "the request is beyond what you can do.", "What to say before transferring, e.g. that you are "
                + "connecting them now.");
    }

    private static ObjectNode function(String name, String description, String messageDescription) {
        ObjectNode parameters = Json.mapper().createObjectNode().put("type", "object");
        parameters.putObject("properties").putObject(MESSAGE).put("type", "string")
                .put("description", messageDescription);
        parameters.putArray("required").add(MESSAGE);
        return entry(name, description, parameters);
    }

    /** A {@code tools[]} entry of the chat completions request, for any function. */
    static ObjectNode entry(String name, String description, com.fasterxml.jackson.databind.JsonNode parameters) {
        ObjectNode tool = Json.mapper().createObjectNode().put("type", "function");
        ObjectNode function = tool.putObject("function").put("name", name);
        if (!description.isEmpty()) {
            function.put("description", description);
        }
        function.set("parameters", parameters);
        return tool;
    }
}
