package io.callguard.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
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
    void shouldLeaveTheNodeOutWhenThereIsNoneAndHandOutFreshMaps() {
        KafkaClients clients = new KafkaClients("k:9092", "");

        Map<String, Object> first = clients.consumer("callguard-responder");
        first.put("group.id", "g");

        assertThat(first).containsEntry(CommonClientConfigs.CLIENT_ID_CONFIG, "callguard-responder");
        assertThat(clients.consumer("callguard-responder")).doesNotContainKey("group.id");
        assertThat(clients.admin(null)).doesNotContainKey(CommonClientConfigs.CLIENT_ID_CONFIG);
        assertThat(clients.uniqueClientId("callguard-egress")).matches("callguard-egress-[0-9a-f]{8}");
    }
}
