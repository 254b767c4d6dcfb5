package io.callguard.ingress;

import io.callguard.schemas.CallEvent;
import io.callguard.schemas.Topics;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/** What a socket produced besides the {@code socket_opened} event every open writes, for tests about frames. */
final class ProducedEvents {

    private static final Topics TOPICS = Topics.defaults();

    private ProducedEvents() {
    }

    static List<ProducerRecord<String, byte[]>> withoutOpens(List<ProducerRecord<String, byte[]>> history) {
        return history.stream().filter(r -> !isOpen(r)).toList();
    }

    static List<ProducerRecord<String, byte[]>> opens(List<ProducerRecord<String, byte[]>> history) {
        return history.stream().filter(ProducedEvents::isOpen).toList();
    }

    private static boolean isOpen(ProducerRecord<String, byte[]> r) {
        if (!r.topic().endsWith("call-events")) {
            return false;
        }
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value());
        return CallEvent.TYPE_SOCKET_OPENED.equals(event.type());
    }
}
