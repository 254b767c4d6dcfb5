package io.callguard.schemas;

import static io.callguard.schemas.SchemaAssertions.assertMatchesSchema;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class JsonSerdeTest {

    /** A CallEvent without its call_id, and one with a source the schema does not know. */
    private static final String MISSING_CALL_ID = "{\"schema_version\":1,\"event_id\":\"e\",\"source\":\"webhook\","
            + "\"type\":\"call_started\",\"received_at_ms\":1,\"payload\":{}}";
    private static final String BAD_SOURCE = MISSING_CALL_ID.replace("\"source\":\"webhook\"",
            "\"source\":\"carrier-pigeon\",\"call_id\":\"c\"");

    static Stream<Object> samples() {
        return Stream.of(
                SampleRecords.webhookEvent("call-1", "call_started"),
                SampleRecords.webhookEvent("call-1", "transcript_updated"),
                SampleRecords.socketEvent("call-1", "response_required", 3),
                SampleRecords.response("call-1", 3, ResponseKind.GENERATED),
                SampleRecords.response("call-1", 3, ResponseKind.FALLBACK),
                SampleRecords.response("call-1", 0, ResponseKind.BUSY),
                SampleRecords.fullResponse("call-1"),
                SampleRecords.fullState("call-1"),
                SampleRecords.minimalState("call-1"),
                SampleRecords.archive("call-1"),
                SampleRecords.deadLetter(),
                SampleRecords.cachedAnswer());
    }

    @ParameterizedTest
    @MethodSource("samples")
    void shouldRoundTripEveryRecordType(Object record) {
        JsonSerde<Object> serde = serdeFor(record);

        byte[] bytes = serde.serializer().serialize("t", record);
        Object back = serde.deserializer().deserialize("t", bytes);

        assertThat(back).isEqualTo(record);
    }

    @ParameterizedTest
    @MethodSource("samples")
    void shouldProduceJsonThatMatchesItsSchemaFile(Object record) {
        assertMatchesSchema(record);
    }

    @Test
    void shouldMapNullToNullBothWays() {
        for (Class<?> type : RecordSchemas.types()) {
            JsonSerde<?> serde = JsonSerde.of(type);
            assertThat(serde.serializer().serialize("t", null)).isNull();
            assertThat(serde.deserializer().deserialize("t", null)).isNull();
        }
    }

    @Test
    void shouldRefuseBytesThatAreNotJsonWithAClearError() {
        JsonSerde<CallEvent> serde = JsonSerde.of(CallEvent.class);

        assertThatThrownBy(() -> serde.fromBytes("{nope".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageStartingWith("not a JSON CallEvent");
        assertThatThrownBy(() -> serde.fromBytes("[1,2]".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("expected an object");
    }

    @Test
    void shouldRefuseJsonThatBreaksTheSchemaNamingTheField() {
        JsonSerde<CallEvent> serde = JsonSerde.of(CallEvent.class);

        assertThatThrownBy(() -> serde.fromBytes(MISSING_CALL_ID.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("invalid CallEvent")
                .hasMessageContaining("call_id");
        assertThatThrownBy(() -> serde.fromBytes(BAD_SOURCE.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("source");
    }

    @ParameterizedTest
    @MethodSource("samples")
    void shouldReadWhatTheValidatingReaderReadsWhenTrusting(Object record) {
        JsonSerde<Object> serde = serdeFor(record);
        byte[] bytes = serde.toBytes(record);

        assertThat(serde.fromTrustedBytes(bytes)).isEqualTo(serde.fromBytes(bytes)).isEqualTo(record);
        assertThat(serde.trustingDeserializer().deserialize("t", null)).isNull();
    }

    @Test
    void shouldStillRefuseMalformedMistypedOrIncompleteRecordsWhenTrusting() {
        JsonSerde<CallEvent> serde = JsonSerde.of(CallEvent.class);

        for (String bad : List.of("{nope", "[1,2]", "{} {}", MISSING_CALL_ID, BAD_SOURCE,
                MISSING_CALL_ID.replace("\"received_at_ms\":1", "\"received_at_ms\":\"soon\",\"call_id\":\"c\""))) {
            assertThatThrownBy(() -> serde.fromTrustedBytes(bad.getBytes(StandardCharsets.UTF_8)))
                    .as(bad)
                    .isInstanceOf(SerializationException.class)
                    .hasMessageStartingWith("invalid CallEvent");
        }
    }

    @Test
    void shouldBindAPayloadAsParsedWhatEverItHolds() throws Exception {
        // Given a call event whose payload holds a transcript, nested arrays, nulls, floats and big integers
        String json = "{\"schema_version\":1,\"event_id\":\"e\",\"call_id\":\"c\",\"source\":\"socket\","
                + "\"type\":\"response_required\",\"received_at_ms\":7,\"response_id\":3,\"extra\":[1],"
                + "\"payload\":{\"transcript\":[{\"role\":\"user\",\"content\":\"Grüße \\u00e9\",\"words\":[]}],"
                + "\"n\":null,\"f\":1.25,\"big\":123456789012345678901234567890,\"deep\":[[{\"a\":[]}]]}}";
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);

        // When the validating reader reads it
        CallEvent event = JsonSerde.of(CallEvent.class).fromBytes(bytes);

        // Then it is the event Jackson binds, with the payload exactly as parsed
        assertThat(event).isEqualTo(Json.mapper().readValue(bytes, CallEvent.class));
        assertThat(event.payload()).isEqualTo(Json.mapper().readTree(bytes).get("payload"));
        assertThat(event.responseId()).isEqualTo(3L);
        assertThat(event.receivedAtMs()).isEqualTo(7L);
    }

    @Test
    void shouldIgnoreUnknownFieldsSoNewerWritersDoNotBreakOlderReaders() {
        CallState state = SampleRecords.minimalState("c-9");
        String json = new String(JsonSerde.of(CallState.class).toBytes(state), StandardCharsets.UTF_8);
        String withExtra = json.replaceFirst("\\{", "{\"added_in_v2\":{\"x\":1},");

        assertThat(JsonSerde.of(CallState.class).fromBytes(withExtra.getBytes(StandardCharsets.UTF_8))).isEqualTo(state);
    }

    @Test
    void shouldReadAVersionOneCallStateWithoutItsSocketFields() {
        byte[] v1 = ("{\"schema_version\":1,\"call_id\":\"c-1\",\"status\":\"active\",\"started\":true,"
                + "\"ended\":false,\"analyzed\":false,\"turn_count\":2,\"transcript_length\":3,"
                + "\"events_applied\":4,\"duplicates_dropped\":0,\"fallbacks\":0,\"reconnects\":0,"
                + "\"admitted_at_ms\":5,\"first_event_at_ms\":5,\"last_event_at_ms\":6,\"updated_at_ms\":7}")
                .getBytes(StandardCharsets.UTF_8);

        CallState read = JsonSerde.of(CallState.class).fromBytes(v1);

        assertThat(read.schemaVersion()).isEqualTo(1);
        assertThat(read.status()).isEqualTo(CallStatus.ACTIVE);
        assertThat(read.turnCount()).isEqualTo(2);
        assertThat(read.connectionId()).isNull();
        assertThat(read.socketOpenedAtMs()).isNull();
        assertThat(read.socketLostAtMs()).isNull();
    }

    @Test
    void shouldWriteSnakeCaseNamesAndLeaveNullsOut() {
        String json = new String(JsonSerde.of(CallState.class).toBytes(SampleRecords.minimalState("c-1")),
                StandardCharsets.UTF_8);

        assertThat(json).contains("\"call_id\":\"c-1\"", "\"schema_version\":2", "\"status\":\"active\"")
                .doesNotContain("agent_id", "null");
    }

    @Test
    void shouldDescribeEveryTopicOnceUnderItsPrefix() {
        Topics topics = Topics.withPrefix("staging.");

        assertThat(topics.all()).extracting(Topic::name).containsExactly("staging.call-events",
                "staging.responses", "staging.call-state", "staging.call-archive", "staging.dead-letters",
                "staging.response-cache");
        assertThat(topics.callState().compacted()).isTrue();
        assertThat(topics.responseCache().compacted()).isTrue();
        assertThat(topics.byName("staging.responses")).contains(topics.responses());
        assertThatThrownBy(() -> Topics.withPrefix("bad prefix/"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad prefix/");
    }

    @Test
    void shouldHaveASchemaFileWithAVersionForEveryRecordType() {
        assertThat(RecordSchemas.types()).containsExactlyInAnyOrderElementsOf(List.of(CallEvent.class,
                AgentResponse.class, CallState.class, CallArchive.class, DeadLetter.class, CachedAnswer.class));
        for (Class<?> type : RecordSchemas.types()) {
            assertThat(RecordSchemas.class.getResource(RecordSchemas.resourceFor(type))).isNotNull();
        }
    }

    @Test
    void shouldReadACachedAnswerWrittenBeforeItHadASchemaVersion() {
        byte[] old = "{\"answer\":\"We open at nine.\",\"expires_at_ms\":5}".getBytes(StandardCharsets.UTF_8);

        CachedAnswer read = JsonSerde.of(CachedAnswer.class).fromBytes(old);

        assertThat(read.answer()).isEqualTo("We open at nine.");
        assertThat(read.expiresAtMs()).isEqualTo(5L);
        assertThat(read.schemaVersion()).isZero();
    }

    @Test
    void shouldRefuseACachedAnswerWithoutItsAnswer() {
        byte[] bad = "{\"schema_version\":1,\"expires_at_ms\":5}".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> JsonSerde.of(CachedAnswer.class).fromBytes(bad))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("CachedAnswer")
                .hasMessageContaining("answer");
    }

    @SuppressWarnings("unchecked")
    private static JsonSerde<Object> serdeFor(Object record) {
        return (JsonSerde<Object>) JsonSerde.of(record.getClass());
    }
}
