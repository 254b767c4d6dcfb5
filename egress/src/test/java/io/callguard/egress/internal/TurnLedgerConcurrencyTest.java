package io.callguard.egress.internal;

import static io.callguard.egress.internal.EdgeFixture.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.testkit.RecordingSocket;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The answer, the watchdog and a reconnect racing on real threads still give one complete per turn. */
class TurnLedgerConcurrencyTest {

    private final EdgeFixture fx = new EdgeFixture();

    @Test
    void shouldSendExactlyOneCompleteWhenAnswerAndWatchdogRace() throws Exception {
        // Given
        TurnLedger ledger = fx.edge.ledger();
        RecordingSocket socket = fx.open("c1");
        ExecutorService threads = Executors.newFixedThreadPool(2);
        int turns = 500;
        try {
            for (int id = 1; id <= turns; id++) {
                TurnLedger.TurnTicket ticket = ledger.request(socket, id, T0, T0);
                CyclicBarrier start = new CyclicBarrier(2);
                long responseId = id;

                // When
                Future<?> answer = threads.submit(() -> {
                    start.await();
                    return ledger.deliver(answer(responseId, "answer"), T0 + FIRST_WORDS_MS);
                });
                Future<?> watchdog = threads.submit(() -> {
                    start.await();
                    return ledger.check(ticket.at(T0 + FIRST_WORDS_MS), T0 + FIRST_WORDS_MS);
                });
                answer.get(5, TimeUnit.SECONDS);
                watchdog.get(5, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }

        // Then
        Map<Long, Long> completesPerTurn = parsed(socket).stream()
                .filter(f -> f.get("content_complete").booleanValue())
                .collect(Collectors.groupingBy(f -> f.get("response_id").asLong(), Collectors.counting()));
        assertThat(completesPerTurn).hasSize(turns);
        assertThat(completesPerTurn.values()).containsOnly(1L);
    }

    @Test
    void shouldSendExactlyOneCompleteWhenAnswerAndReconnectRace() throws Exception {
        // Given
        ExecutorService threads = Executors.newFixedThreadPool(2);
        int rounds = 300;
        RecordingSocket current = fx.open("s0");
        try {
            for (int id = 1; id <= rounds; id++) {
                fx.request(current, id);
                fx.deliver(chunk(id, 0, "part ", false, io.callguard.schemas.ResponseKind.GENERATED));
                RecordingSocket next = new RecordingSocket(CALL, "s" + id);
                CyclicBarrier start = new CyclicBarrier(2);
                long responseId = id;

                // When the rest of the answer and a new socket arrive together
                Future<?> answer = threads.submit(() -> {
                    start.await();
                    return fx.deliver(chunk(responseId, 1, "done", true, io.callguard.schemas.ResponseKind.GENERATED));
                });
                Future<?> reconnect = threads.submit(() -> {
                    start.await();
                    fx.edge.registry().socketOpened(next);
                    return null;
                });
                answer.get(5, TimeUnit.SECONDS);
                reconnect.get(5, TimeUnit.SECONDS);

                // Then the new socket ends the turn exactly once, whichever came first
                Function<RecordingSocket, Long> completes = s -> parsed(s).stream()
                        .filter(f -> f.get("response_id").asLong() == responseId)
                        .filter(f -> f.get("content_complete").booleanValue()).count();
                long onOld = completes.apply(current);
                long onNew = completes.apply(next);
                assertThat(onOld + onNew).as("completes for turn %d", id).isEqualTo(1);
                if (onNew == 1) {
                    JsonNode last = parsed(next).get(parsed(next).size() - 1);
                    assertThat(last.get("content").asText()).endsWith("done");
                }
                current = next;
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
