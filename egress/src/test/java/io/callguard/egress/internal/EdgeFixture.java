package io.callguard.egress.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.egress.EgressConfig;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.Json;
import io.callguard.schemas.ResponseKind;
import io.callguard.testkit.ManualClock;
import io.callguard.testkit.ManualScheduler;
import io.callguard.testkit.RecordingSocket;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/** The edge turn path on a manual clock and scheduler, with recording sockets. */
final class EdgeFixture {

    static final long T0 = 1_700_000_000_000L;
    static final long BUDGET_MS = 800;
    static final String FALLBACK = "Sorry, one moment please.";
    static final long FIRST_WORDS_MS = 4_000;
    static final long STALL_MS = 5_000;
    static final long MAX_ANSWER_MS = 60_000;
    static final String FILLER = "One moment. ";
    static final EdgeDeadlines DEADLINES = new EdgeDeadlines(BUDGET_MS, FIRST_WORDS_MS, STALL_MS, MAX_ANSWER_MS,
            java.util.List.of("One moment.", "Just a second."), FALLBACK, "Hello! How can I help you today?");
    static final String CALL = "call-1";

    final ManualClock clock = new ManualClock(T0);
    final ManualScheduler scheduler = new ManualScheduler(clock);
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final EdgeDelivery edge;

    EdgeFixture() {
        this(DEADLINES);
    }

    EdgeFixture(EdgeDeadlines deadlines) {
        edge = new EdgeDelivery(new EgressConfig(Map.of()), deadlines, scheduler, clock, new EgressMeters(meters));
    }

    RecordingSocket open(String connectionId) {
        return open(CALL, connectionId);
    }

    RecordingSocket open(String callId, String connectionId) {
        RecordingSocket socket = new RecordingSocket(callId, connectionId);
        edge.registry().socketOpened(socket);
        return socket;
    }

    void request(RecordingSocket socket, long responseId) {
        edge.registry().turnRequested(socket, responseId, clock.millis());
    }

    /** The begin message of {@code socket} is owed by the agent, from now. */
    void begin(RecordingSocket socket) {
        edge.registry().beginRequested(socket, clock.millis());
    }

    /** The begin message of {@code socket}, said now by the edge. */
    void sayBegin(RecordingSocket socket, String content, boolean endCall) {
        edge.registry().beginNow(socket, content, endCall, clock.millis());
    }

    TurnLedger.Outcome deliver(AgentResponse response) {
        return edge.delivery().deliver(response);
    }

    static AgentResponse answer(long responseId, String content) {
        return chunk(responseId, 0, content, true, ResponseKind.GENERATED);
    }

    static AgentResponse chunk(long responseId, int index, String content, boolean complete, ResponseKind kind) {
        return chunk(CALL, responseId, index, content, complete, kind);
    }

    static AgentResponse chunk(String callId, long responseId, int index, String content, boolean complete,
                               ResponseKind kind) {
        return new AgentResponse(AgentResponse.SCHEMA_VERSION, callId, responseId, kind, null, content, complete, null,
                index, 0, T0, "node-a");
    }

    /** The frame of a begin message ({@code response_id} 0) as the ledger writes it. */
    static String begin(String content, boolean complete) {
        return "{\"response_type\":\"response\",\"response_id\":0,\"content\":\"" + content
                + "\",\"content_complete\":" + complete + "}";
    }

    static JsonNode parse(String frame) {
        try {
            return Json.mapper().readTree(frame);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<JsonNode> parsed(RecordingSocket socket) {
        return socket.frames().stream().map(EdgeFixture::parse).toList();
    }

    static long completes(RecordingSocket socket) {
        return parsed(socket).stream().filter(f -> f.path("content_complete").asBoolean()).count();
    }

    double counter(String name, String... tags) {
        Counter counter = meters.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
    }

    long timerCount(String name, String... tags) {
        Timer timer = meters.find(name).tags(tags).timer();
        return timer == null ? 0 : timer.count();
    }
}
