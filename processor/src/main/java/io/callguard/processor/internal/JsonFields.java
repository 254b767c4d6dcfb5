package io.callguard.processor.internal;

import com.fasterxml.jackson.databind.JsonNode;

/** Lenient reads of Retell JSON: a missing, null or ill-typed field reads as null. */
final class JsonFields {

    private JsonFields() {
    }

    static String text(JsonNode parent, String field) {
        JsonNode node = parent == null ? null : parent.get(field);
        return node != null && node.isValueNode() && !node.isNull() ? node.asText() : null;
    }

    static Long longValue(JsonNode parent, String field) {
        JsonNode node = parent == null ? null : parent.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isIntegralNumber() && node.canConvertToLong()) {
            return node.asLong();
        }
        if (node.isNumber()) {
            return (long) node.asDouble();
        }
        if (node.isTextual()) {
            try {
                return Long.parseLong(node.asText().trim());
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    static JsonNode present(JsonNode parent, String field) {
        JsonNode node = parent == null ? null : parent.get(field);
        return node == null || node.isNull() || node.isMissingNode() ? null : node;
    }

    /** Size of an array field, or -1 when the field is not an array. */
    static int arraySize(JsonNode parent, String field) {
        JsonNode node = parent == null ? null : parent.get(field);
        return node != null && node.isArray() ? node.size() : -1;
    }
}
