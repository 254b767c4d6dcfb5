package io.callguard.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;

/** Shared by every module's tests: what the code produced must validate against its schema file. */
public final class SchemaAssertions {

    private SchemaAssertions() {
    }

    /** Asserts that a record, serialized as it goes on its topic, is valid against its schema file. */
    public static void assertMatchesSchema(Object record) {
        JsonNode tree = Json.mapper().valueToTree(record);
        assertThat(RecordSchemas.violations(record.getClass(), tree))
                .as("schema violations of %s", tree)
                .isEmpty();
    }
}
