package io.callguard.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

/** The one factory of client properties: servers, and client ids named after role and node. */
class KafkaClientsTest {

    @Test
    void shouldNameClientsAfterTheNode() {
        KafkaClients clients = new KafkaClients("k1:9092,k2:9092", "edge-a");

        Map<String, Object> producer = clients.producer("callguard-ingress");

        assertThat(producer).containsEntry(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, "k1:9092,k2:9092")
                .containsEntry(CommonClientConfigs.CLIENT_ID_CONFIG, "callguard-ingress-edge-a");
        assertThat(clients.uniqueClientId("callguard-egress")).isEqualTo("callguard-egress-edge-a");
        assertThat(clients.streams()).containsOnlyKeys(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
    }

    @Test
    void shouldCarryTheTurnLingerFromConfigKeepingEverythingElse() {
        // Given the default config and one that sends every record at once
        int lingerByDefault = new CommonConfig(Map.of()).turnKafkaLingerMs();
        int none = new CommonConfig(Map.of(CommonConfig.TURN_KAFKA_LINGER_MS_CONFIG, "0")).turnKafkaLingerMs();
        KafkaClients clients = new KafkaClients("k:9092", "edge-a", 4096);

        // When
        KafkaClients lingering = clients.withTurnLingerMs(lingerByDefault);

        // Then: Kafka's own producer default, and nothing else changed
        assertThat(lingerByDefault).isEqualTo(5);
        assertThat(none).isZero();
        assertThat(clients.turnLingerMs()).isZero();
        assertThat(lingering.turnLingerMs()).isEqualTo(5);
        assertThat(lingering.producer("p")).isEqualTo(clients.producer("p"));
        assertThat(lingering.maxRecordBytes()).isEqualTo(4096);
        assertThatThrownBy(() -> new CommonConfig(Map.of(CommonConfig.TURN_KAFKA_LINGER_MS_CONFIG, "-1")))
                .hasMessageContaining(CommonConfig.TURN_KAFKA_LINGER_MS_CONFIG);
        assertThatThrownBy(() -> clients.withTurnLingerMs(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldLeaveTheNodeOutWhenThereIsNoneAndHandOutFreshMaps() {
        KafkaClients clients = new KafkaClients("k:9092", "");

        Map<String, Object> first = clients.consumer("callguard-responder");
        first.put("group.id", "g");

        assertThat(first).containsEntry(CommonClientConfigs.CLIENT_ID_CONFIG, "callguard-responder");
        assertThat(clients.consumer("callguard-responder")).doesNotContainKey("group.id");
        assertThat(clients.admin(null)).doesNotContainKey(CommonClientConfigs.CLIENT_ID_CONFIG);
        assertThat(clients.uniqueClientId("callguard-egress")).matches("callguard-egress-[0-9a-f]{8}");
    }

    @Test
    void shouldLetEveryProducerSendTheLargestRecordTheBodyLimitMakes() {
        // Given clients for bodies of up to 8 MiB
        int maxRecord = RecordLimits.maxRecordBytes(8 * 1024 * 1024);
        KafkaClients clients = new KafkaClients("k:9092", "edge-a", maxRecord);

        // When
        Map<String, Object> producer = clients.producer("callguard-ingress");

        // Then its requests take such a record, and its buffer a few of them
        assertThat(clients.maxRecordBytes()).isEqualTo(maxRecord);
        assertThat(producer).containsEntry(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxRecord);
        assertThat((Long) producer.get(ProducerConfig.BUFFER_MEMORY_CONFIG)).isGreaterThanOrEqualTo(3L * maxRecord);
        assertThat(new KafkaClients("k:9092", "").maxRecordBytes())
                .isEqualTo(RecordLimits.maxRecordBytes(RecordLimits.DEFAULT_MAX_BODY_BYTES));
    }

    @Test
    void shouldSizeRecordsForABodyInBase64WithItsEnvelope() {
        // A dead letter carries the body in base64: 4 bytes for every 3, rounded up, plus 256 KiB
        assertThat(RecordLimits.maxRecordBytes(3)).isEqualTo(4 + 256 * 1024);
        assertThat(RecordLimits.maxRecordBytes(4)).isEqualTo(8 + 256 * 1024);
        assertThat(RecordLimits.maxRecordBytes(8 * 1024 * 1024)).isEqualTo(11_184_812 + 256 * 1024);
        assertThatThrownBy(() -> RecordLimits.maxRecordBytes(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0");
        assertThatThrownBy(() -> RecordLimits.maxRecordBytes(Integer.MAX_VALUE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Kafka");
    }
}
