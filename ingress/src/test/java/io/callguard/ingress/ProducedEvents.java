package io.callguard.ingress;

import io.callguard.schemas.CallEvent;
import io.callguard.schemas.Topics;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What a socket produced besides the {@code socket_opened} and {@code socket_closed} events every open and close
 * writes, for tests about frames.
 */
final class ProducedEvents {

    private static final Topics TOPICS = Topics.defaults();

    private ProducedEvents() {
    }

    static List<ProducerRecord<String, byte[]>> withoutOpens(List<ProducerRecord<String, byte[]>> history) {
        return history.stream().filter(r -> !isOpen(r) && !isType(r, CallEvent.TYPE_SOCKET_CLOSED)).toList();
    }

    static List<ProducerRecord<String, byte[]>> opens(List<ProducerRecord<String, byte[]>> history) {
        return history.stream().filter(ProducedEvents::isOpen).toList();
    }

    /** The call events produced, in order, of every type. */
    static List<CallEvent> callEvents(List<ProducerRecord<String, byte[]>> history) {
        return history.stream().filter(r -> r.topic().endsWith("call-events"))
                .map(r -> TOPICS.callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value())).toList();
    }

    private static boolean isOpen(ProducerRecord<String, byte[]> r) {
        return isType(r, CallEvent.TYPE_SOCKET_OPENED);
    }

    private static boolean isType(ProducerRecord<String, byte[]> r, String type) {
        if (!r.topic().endsWith("call-events")) {
            return false;
        }
        CallEvent event = TOPICS.callEvents().valueSerde().deserializer().deserialize(r.topic(), r.value());
        return type.equals(event.type());
    }
}
