package io.callguard.egress.internal;

import io.callguard.common.SpokenText;
import io.callguard.egress.EgressMetrics;
import io.callguard.retell.frames.FrameWriter;
import io.callguard.retell.frames.ServerFrame;
import io.callguard.retell.socket.CallSocket;
import io.callguard.schemas.AgentFrame;
import io.callguard.schemas.AgentResponse;
import io.callguard.schemas.ResponseKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Per call, the socket that currently carries it and the state of its latest turn; applies Retell's
 * rules to everything that would write a {@code response} frame.
 *
 * <p>Rules (retell-protocol.md section 2): only the latest requested {@code response_id} of a call is
 * answered, older ids are dropped; every turn gets exactly one {@code content_complete:true} per socket;
 * chunks after it are dropped; a filler is spoken only as a turn's first words (one that comes after anything,
 * the edge's own filler included, is dropped); {@code response_id} 0 (begin or busy message) is deliverable from
 * the moment the socket is attached, before any request.
 *
 * <p>Answer records of schema version 2 carry more than words, applied here by the same rules:
 * <ul>
 *   <li>After-speech actions ({@code end_call}, {@code transfer_number} with {@code show_transferee_as_caller},
 *       {@code digit_to_press}) accumulate over the turn's accepted records ({@code end_call} if any says so;
 *       the first transfer, the first digit) and go only on the turn's {@code content_complete} frame, at most
 *       one, {@code end_call} before the transfer before the digit: on the answer's complete frame, on the
 *       watchdog's closing line (the agent asked to hang up; a stall after that still hangs up) and on a complete
 *       frame re-sent on a reconnect. {@code no_interruption_allowed} belongs to its record's frame only.</li>
 *   <li>A record's {@code frames} (tool calls and results, agent updates, metadata) are written in order before
 *       its content; a record with frames and empty, non-complete content sends only the frames. A record dropped
 *       (duplicate chunk, after the turn completed, stale) is dropped with its frames, so a tool frame never goes
 *       twice; a late filler's words are dropped but its frames go. Frames of a record held while the call is
 *       detached are not sent: the catch-up on a reconnect re-sends the words only. An {@code agent_config}
 *       Retell would refuse is dropped and counted.</li>
 *   <li>{@code quiet_until_ms} (a tool is running, from the latest record that says so): the turn's stall deadline
 *       is {@code max(last frame + stall, quiet until)} and, before its first words, its first-words deadline is
 *       {@code max(start + first-words deadline, quiet until)}; the hard cap still applies.</li>
 *   <li>Scope {@code interrupt}: written as {@code agent_interrupt}. Per call, the chunks of the latest interrupt
 *       id in chunk order; an older id is dropped (Retell discards the earlier interrupt anyway), as are a
 *       duplicate chunk and chunks after the interrupt's complete one. Its actions accumulate like a turn's and go
 *       on its complete chunk. Interrupts never touch the turn state.</li>
 *   <li>Scope {@code call}: its frames are written at once, no turn rules.</li>
 *   <li>Interrupt and call records for a call whose socket is detached here are dropped and counted, not held:
 *       they belong to their moment, and a reconnect re-sends only the owed turn.</li>
 * </ul>
 *
 * <p>The begin message ({@code response_id} 0) goes through here too, so this is the socket's one writer of
 * responses: said now by the edge ({@link #begin(CallSocket, String, boolean, long)}: the busy line with
 * {@code end_call}, a reconnect's empty begin, or the greeting) as turn 0's one complete frame, or owed to the
 * pipeline ({@link #begin(CallSocket, long)}): turn 0 is then watched like a turn, bridged at the budget by the
 * greeting (a neutral filler line while the call is not known admitted here: {@link #admissionFrom}) and, when the pipeline's begin has not come by the first-words deadline, completed with nothing more
 * (the greeting was said; no closing line). Records of kind {@code hold} and {@code busy} are answers like any
 * other: a busy record with {@code end_call} on the latest response id completes that turn with {@code end_call}.
 *
 * <p>The socket binding lives here rather than in a separate map because "which socket gets the owed
 * answer" must be decided atomically with the turn's state: a chunk read by the Kafka thread and a
 * reconnect on a socket thread would otherwise race and lose the answer on a dead socket.
 *
 * <p>Drain ({@link #drain}): a node about to stop hands each dial-in call over between two turns: its socket is
 * closed by the drain's closer shortly after the call's latest turn completed (at once when none is open), so the
 * caller's reconnect, to another node, happens while nobody is speaking. Every operation that can complete a turn
 * checks its call afterwards, and {@link #handOverSettled} those whose settle time passed.
 *
 * <p>Thread safety: every operation runs inside {@link ConcurrentHashMap#compute} on the call's entry, so
 * the Kafka poll thread, watchdog threads and socket threads see one order per call. Frames are sent inside
 * that critical section; this is safe because {@link CallSocket#send} never blocks by contract, and it is
 * what makes "exactly one complete" hold. Old sockets are closed by the caller, outside it.
 */
public final class TurnLedger {

    /** What became of an answer handed to {@link #deliver}. */
    public enum Outcome {
        /** Written to the call's socket. */
        SENT,
        /** Recorded for the call, whose socket is closed or detached: a reconnect gets it. */
        HELD,
        /** No socket of this call was ever attached here (or it expired): another node holds it. */
        NOT_HELD,
        /** For an older response id than the call's latest request. */
        STALE,
        /** For a response id newer than anything the current socket requested. */
        UNREQUESTED,
        /** The turn already had its complete answer. */
        AFTER_COMPLETE,
        /** A chunk index already delivered. */
        DUPLICATE_CHUNK,
        /** A filler that came after the turn's first words, or after the edge's own filler. */
        LATE_FILLER,
        /** An interrupt chunk for an older interrupt id than the call's latest. */
        STALE_INTERRUPT,
        /** An interrupt or call-level record for a call whose socket is detached here. */
        NO_SOCKET
    }

    /** What {@link #attach} did: the socket it replaced (to be closed by the caller), if any. */
    public record Attached(CallSocket previous, boolean reconnect, boolean duplicate) {
    }

    /** A turn for the watchdog to check at {@code deadlineMs}. */
    public record TurnTicket(String callId, long turnSeq, long responseId, long deadlineMs) {

        /** The same turn, to check again at {@code atMs}. */
        public TurnTicket at(long atMs) {
            return new TurnTicket(callId, turnSeq, responseId, atMs);
        }
    }

    /** The outcome of a delivery and, when it opened a turn the socket had not requested, its ticket. */
    public record Delivered(Outcome outcome, TurnTicket opened) {
    }

    /** A drain under way: how sockets are closed, and what completes once none is left attached here. */
    private record Drain(Consumer<CallSocket> closer, long settleMs, CompletableFuture<Void> done) {
    }

    /**
     * A request this soon after the socket of a call new to this node opened, for a response id above 1, is a turn
     * the caller asked before the call moved here (its node died or dropped it mid-turn; the caller has waited for
     * an unknown time already, often most of the budget): it is bridged at once ({@link #TAKEOVER_BRIDGE_MS}) unless
     * its answer is here, not at the budget. In the cluster chaos drill, a gateway killed mid-turn left turns with no
     * first words within a second without it: asked 650-900 ms before the kill, bridged 200 ms after the takeover,
     * their first words came 1.04-1.18 s after they were asked.
     */
    static final long TAKEOVER_WINDOW_MS = 250;
    /** When a taken-over turn (see {@link #TAKEOVER_WINDOW_MS}) is bridged, from its arrival here. */
    static final long TAKEOVER_BRIDGE_MS = 0;

    private final ConcurrentHashMap<String, CallLine> lines = new ConcurrentHashMap<>();
    /** Answers of calls another node holds, for a call that moves here mid-turn ({@link HeldElsewhere}). */
    private final HeldElsewhere heldElsewhere = new HeldElsewhere();
    /** Null until {@link #drain}; volatile so every turn-completing operation sees it without a lock. */
    private volatile Drain drain;
    private final AtomicLong turnSeq = new AtomicLong();
    private final EdgeDeadlines deadlines;
    private final long budgetMs;
    private final EgressMeters meters;

    /**
     * Whether this node knows the call as admitted (active on call-state); see {@link #admissionFrom}. Until one is
     * given every call counts as admitted (an edge with no view of call-state bridges with the greeting).
     */
    private volatile Predicate<String> admitted = callId -> true;

    /** @param deadlines the turn's deadlines, filler lines and closing line */
    public TurnLedger(EdgeDeadlines deadlines, EgressMeters meters) {
        this.deadlines = Objects.requireNonNull(deadlines, "deadlines");
        this.budgetMs = deadlines.budgetMs();
        this.meters = Objects.requireNonNull(meters, "meters");
    }

    /**
     * Where the begin's bridge learns whether a call is admitted, from the call state this node sees (its processor's
     * store, or a view of call-state). An owed begin is bridged at the budget with the greeting only for a call known
     * admitted: the greeting commits to a service that a queued caller (who hears the hold line next) or a refused one
     * (the busy line) will not get. Any other call's begin is bridged with the first of the filler lines (one that
     * commits to nothing, such as the default "One moment."), then the pipeline's begin, hold or busy line follows.
     *
     * @param admitted true when the call is known admitted here; must be fast and must not block
     */
    public void admissionFrom(Predicate<String> admitted) {
        this.admitted = Objects.requireNonNull(admitted, "admitted");
    }

    private boolean knownAdmitted(String callId) {
        try {
            return admitted.test(callId);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * Makes {@code socket} the call's current socket. When it replaces another, the answer still owed for
     * the latest turn goes to the new socket at once: the whole answer as one complete frame if it had
     * fully arrived; the fallback if the budget is spent; the part received so far (not complete, more
     * chunks follow) otherwise. A turn already completed on the old socket is not re-sent: it was written,
     * and Retell ignores content for a completed id. Attaching the current socket again does nothing.
     */
    public Attached attach(CallSocket socket, long nowMs) {
        Attached[] result = new Attached[1];
        boolean admittedHere = knownAdmitted(socket.callId());
        lines.compute(socket.callId(), (callId, line) -> {
            if (line == null) {
                line = new CallLine(newTurn(0, 0, null));
                line.socket = socket;
                line.newHereAtMs = nowMs;
                result[0] = new Attached(null, false, false);
                return line;
            }
            if (line.socket != null && line.socket.connectionId().equals(socket.connectionId())) {
                result[0] = new Attached(null, false, true);
                return line;
            }
            result[0] = new Attached(line.socket, true, false);
            line.socket = socket;
            line.detachSeq++;
            settleOwed(line, nowMs, admittedHere);
            return line;
        });
        handOverIfDraining(socket.callId(), nowMs);
        return result[0];
    }

    private void settleOwed(CallLine line, long nowMs, boolean admittedHere) {
        Turn turn = line.turn;
        if (turn.completedOn != null) {
            return;
        }
        if (turn.answerArrived) {
            if (send(line, turn.content.toString(), true, null)) {
                meters.resent();
                spoke(turn, turn.kind, turn.startMs, turn.content, nowMs);
                completed(line, turn, turn.kind, turn.startMs, nowMs, true);
            }
        } else if ((turn.responseId > 0 || turn.begin) && turn.startMs > 0 && turn.content.length() == 0
                && nowMs >= turn.bridgeAtMs) {
            // Nothing was said yet and the budget is spent: bridge now; the watchdog's next check closes if needed.
            if (nowMs >= turn.startMs + deadlines.firstWordsDeadlineMs() && turn.begin) {
                sendBeginEnd(line, turn, nowMs);
            } else if (nowMs >= turn.startMs + deadlines.firstWordsDeadlineMs()) {
                sendClosing(line, turn, nowMs);
            } else {
                sendFiller(line, turn, nowMs, admittedHere);
            }
        } else if (turn.content.length() > 0) {
            // Only part of the answer is here: catch the new socket up and let the rest stream after it.
            if (send(line, turn.content.toString(), false, null)) {
                meters.resent();
                spoke(turn, turn.wordsSent ? turn.kind : ResponseKind.FILLER, turn.startMs, turn.content, nowMs);
            }
        }
    }

    /**
     * Detaches {@code socket} if it is the call's current socket; the call's turn state stays for a
     * reconnect until {@link #evictIfDetached} removes it.
     *
     * @return the detach sequence to pass to {@link #evictIfDetached}, or -1 when the socket was not current
     */
    public long detach(CallSocket socket) {
        long[] seq = {-1};
        lines.computeIfPresent(socket.callId(), (callId, line) -> {
            if (line.socket != null && line.socket.connectionId().equals(socket.connectionId())) {
                line.socket = null;
                seq[0] = ++line.detachSeq;
            }
            return line;
        });
        completeDrainIfDone();
        return seq[0];
    }

    /** Forgets the call if it is still detached since the detach that returned {@code detachSeq}. */
    public void evictIfDetached(String callId, long detachSeq) {
        lines.computeIfPresent(callId, (id, line) -> line.socket == null && line.detachSeq == detachSeq ? null : line);
    }

    /**
     * Records that Retell asked for {@code responseId} on {@code socket}. A request supersedes the older turn
     * when its id is higher, or when it is the first request on a new socket with another id (Retell does not
     * document whether ids continue across a reconnect; a restart at 1 must not silence the call). Asked again
     * for the same id on a new socket after the turn completed on an older one, the recorded answer is re-sent
     * complete at once. Requests from a socket that is not the call's current one, and repeats on the same
     * socket, are ignored.
     *
     * @return the new turn's ticket for the watchdog, or null when no new turn was opened
     */
    public TurnTicket request(CallSocket socket, long responseId, long receivedAtMs, long nowMs) {
        TurnTicket[] ticket = new TurnTicket[1];
        lines.computeIfPresent(socket.callId(), (callId, line) -> {
            if (line.socket == null || !line.socket.connectionId().equals(socket.connectionId())) {
                return line;
            }
            String connection = socket.connectionId();
            Turn turn = line.turn;
            boolean sameSocket = connection.equals(turn.requestConnection);
            if (sameSocket && responseId <= turn.responseId) {
                return line;
            }
            if (!sameSocket && responseId == turn.responseId && turn.responseId > 0) {
                turn.requestConnection = connection;
                if (turn.completedOn != null && !turn.completedOn.equals(connection)
                        && send(line, turn.content.toString(), true, null)) {
                    turn.completedOn = connection;
                    turn.completedAtMs = nowMs;
                    meters.resent();
                }
                return line;
            }
            line.turn = newTurn(responseId, receivedAtMs, connection);
            boolean newHere = line.newHereAtMs > 0;
            boolean takenOver = newHere && responseId > 1 && receivedAtMs - line.newHereAtMs <= TAKEOVER_WINDOW_MS;
            line.newHereAtMs = 0;
            if (takenOver) {
                line.turn.bridgeAtMs = receivedAtMs + Math.min(budgetMs, TAKEOVER_BRIDGE_MS);
                meters.takenOver();
            }
            if (newHere) {
                // Asked again after the call moved here: its answer may have gone to the node it left.
                sayHeldElsewhere(callId, line, line.turn, nowMs);
            }
            ticket[0] = new TurnTicket(callId, line.turn.seq, responseId, line.turn.bridgeAtMs);
            return line;
        });
        handOverIfDraining(socket.callId(), nowMs);
        return ticket[0];
    }

    /**
     * The begin message ({@code response_id} 0) of {@code socket}, said now: {@code text}, complete, with
     * {@code end_call} when {@code endCall}. At most one begin per socket, and one complete frame for id 0 on it:
     * <ul>
     *   <li>turn 0 not begun yet (a first open): written as turn 0's complete answer, so a record for id 0 that
     *       comes later (the pipeline's begin or busy line) is dropped as after complete;</li>
     *   <li>turn 0 owed by the pipeline and still open (a reconnect before it completed; the attach caught the new
     *       socket up): an empty text leaves it owed; any other completes it, after what was already said;</li>
     *   <li>otherwise (a reconnect after turn 0 completed, or when later turns were asked for): one complete id 0
     *       frame on this socket, the call's turn untouched (Retell does not say whether ids restart on a new
     *       socket; for an older id it drops the frame).</li>
     * </ul>
     * Ignored when the socket is not the call's current one (it was superseded), or it already had its begin.
     *
     * @return whether a frame was written
     */
    public boolean begin(CallSocket socket, String text, boolean endCall, long nowMs) {
        Objects.requireNonNull(text, "text");
        boolean[] written = {false};
        lines.computeIfPresent(socket.callId(), (callId, line) -> {
            String connection = socket.connectionId();
            if (line.socket == null || !line.socket.connectionId().equals(connection)
                    || connection.equals(line.begunOn)) {
                return line;
            }
            line.begunOn = connection;
            Turn turn = line.turn;
            if (turn.responseId == 0 && turn.completedOn == null && !turn.answerArrived) {
                boolean owedOpen = turn.begin || turn.nextChunk > 0 || turn.content.length() > 0;
                if (!(owedOpen && text.isEmpty() && !endCall)) {
                    written[0] = sayBegin(line, turn, text, endCall, nowMs);
                    if (written[0] && endCall) {
                        meters.edgeBusy(true);
                    }
                }
            } else if (!(turn.responseId == 0 && connection.equals(turn.completedOn))) {
                ServerFrame.Response frame = ServerFrame.Response.of(0, text, true);
                if (endCall) {
                    meters.actionSent(EgressMetrics.ACTION_END_CALL, EgressMetrics.SCOPE_TURN);
                    frame = frame.withEndCall(Boolean.TRUE);
                }
                written[0] = line.socket.send(FrameWriter.write(frame));
                if (written[0] && endCall) {
                    meters.edgeBusy(false);
                }
            }
            return line;
        });
        handOverIfDraining(socket.callId(), nowMs);
        return written[0];
    }

    /** Completes turn 0 with the edge's begin, after anything already said of it (a bridged greeting). */
    private boolean sayBegin(CallLine line, Turn turn, String text, boolean endCall, long nowMs) {
        String content = text.isEmpty() ? "" : SpokenText.joinClosing(turn.content, text);
        turn.actions.endCall |= endCall;
        if (!send(line, content, true, null)) {
            return false;
        }
        turn.content.append(content);
        turn.answerArrived = true;
        turn.kind = endCall ? ResponseKind.BUSY : ResponseKind.GENERATED;
        turn.wordsSent |= !content.isEmpty();
        turn.reason = endCall ? EgressMetrics.REASON_BUSY : null;
        spoke(turn, turn.kind, turn.startMs, content, nowMs);
        completed(line, turn, turn.kind, turn.startMs, nowMs, false);
        return true;
    }

    /**
     * Records that the begin message ({@code response_id} 0) of {@code socket} is owed by the pipeline, its budget
     * started at {@code receivedAtMs}: turn 0 is watched from then on. Ignored when the socket is not the call's
     * current one, when a later turn was already asked for, or when turn 0 already has content or completed (the
     * agent's begin is being said already).
     *
     * @return turn 0's ticket for the watchdog, at the budget, or null when nothing was opened
     */
    public TurnTicket begin(CallSocket socket, long receivedAtMs) {
        TurnTicket[] ticket = new TurnTicket[1];
        lines.computeIfPresent(socket.callId(), (callId, line) -> {
            Turn turn = line.turn;
            if (line.socket == null || !line.socket.connectionId().equals(socket.connectionId())
                    || socket.connectionId().equals(line.begunOn)
                    || turn.responseId != 0 || turn.completedOn != null || turn.answerArrived
                    || turn.nextChunk > 0 || turn.content.length() > 0) {
                return line;
            }
            line.begunOn = socket.connectionId();
            line.turn = newTurn(0, receivedAtMs, null);
            line.turn.begin = true;
            ticket[0] = new TurnTicket(callId, line.turn.seq, 0, receivedAtMs + budgetMs);
            return line;
        });
        return ticket[0];
    }

    /**
     * Completes the begin message owed on {@code ticket} with an empty one when nothing of it was said yet (the
     * socket is known by now to be a reconnect's, whose begin is empty: not to be bridged with the greeting). The
     * pipeline's begin that comes later is dropped as after complete.
     *
     * @return whether it was completed
     */
    public boolean completeBeginEmpty(TurnTicket ticket, long nowMs) {
        boolean[] done = {false};
        lines.computeIfPresent(ticket.callId(), (callId, line) -> {
            Turn turn = line.turn;
            if (line.socket != null && turn.seq == ticket.turnSeq() && turn.begin && turn.completedOn == null
                    && !turn.answerArrived && turn.content.length() == 0) {
                done[0] = sayBegin(line, turn, "", false, nowMs);
            }
            return line;
        });
        return done[0];
    }

    /** Applies the turn rules to one answer or chunk and writes it to the call's socket when they allow. */
    public Delivered deliver(AgentResponse response, long nowMs) {
        Delivered[] result = {new Delivered(Outcome.NOT_HELD, null)};
        lines.computeIfPresent(response.callId(), (callId, line) -> {
            if (!response.inTurn()) {
                result[0] = new Delivered(AgentResponse.SCOPE_INTERRUPT.equals(response.scope())
                        ? applyInterrupt(line, response) : applyCallFrames(line, response), null);
                return line;
            }
            Turn turn = line.turn;
            TurnTicket opened = null;
            if (response.responseId() < turn.responseId) {
                result[0] = new Delivered(Outcome.STALE, null);
                return line;
            }
            if (response.responseId() > turn.responseId) {
                if (line.socket != null && line.socket.connectionId().equals(turn.requestConnection)) {
                    result[0] = new Delivered(Outcome.UNREQUESTED, null);
                    return line;
                }
                // The current socket has asked nothing yet: this is owed from before a reconnect (perhaps
                // to another node), so it opens the turn; its budget started when the request arrived.
                long start = response.requestReceivedAtMs() > 0 ? response.requestReceivedAtMs() : nowMs;
                turn = newTurn(response.responseId(), start, null);
                line.turn = turn;
                opened = new TurnTicket(callId, turn.seq, turn.responseId, start + budgetMs);
                if (line.newHereAtMs > 0) {
                    // A call that moved here mid-answer: the answer's first records went to the node it left.
                    line.newHereAtMs = 0;
                    sayHeldElsewhere(callId, line, turn, nowMs);
                }
            }
            result[0] = new Delivered(apply(line, turn, response, nowMs), opened);
            return line;
        });
        switch (result[0].outcome()) {
            case NOT_HELD -> {
                meters.notHeld();
                heldElsewhere.keep(response, nowMs);
            }
            case STALE -> meters.stale();
            case UNREQUESTED -> meters.dropped(EgressMetrics.REASON_UNREQUESTED);
            case AFTER_COMPLETE -> meters.dropped(EgressMetrics.REASON_AFTER_COMPLETE);
            case DUPLICATE_CHUNK -> meters.dropped(EgressMetrics.REASON_DUPLICATE_CHUNK);
            case LATE_FILLER -> meters.dropped(EgressMetrics.REASON_LATE_FILLER);
            case STALE_INTERRUPT -> meters.dropped(EgressMetrics.REASON_STALE_INTERRUPT);
            case NO_SOCKET -> meters.dropped(EgressMetrics.REASON_NO_SOCKET);
            default -> {
            }
        }
        handOverIfDraining(response.callId(), nowMs);
        return result[0];
    }

    /**
     * Says what {@link HeldElsewhere} kept of {@code turn}'s answer, a call that moved here having left it behind,
     * through the usual rules, as if it had arrived now; counted as re-sent. Nothing when nothing was kept.
     */
    private void sayHeldElsewhere(String callId, CallLine line, Turn turn, long nowMs) {
        List<AgentResponse> kept = heldElsewhere.take(callId, turn.responseId, nowMs);
        if (kept.isEmpty()) {
            return;
        }
        kept.forEach(response -> apply(line, turn, response, nowMs));
        meters.resent();
    }

    /** Calls another node holds whose latest answer is kept here, for {@link HeldElsewhere}'s bounds. */
    int heldElsewhereCount() {
        return heldElsewhere.size();
    }

    private Outcome apply(CallLine line, Turn turn, AgentResponse response, long nowMs) {
        if (turn.completedOn != null || turn.answerArrived) {
            return Outcome.AFTER_COMPLETE;
        }
        if (response.chunkIndex() < turn.nextChunk) {
            return Outcome.DUPLICATE_CHUNK;
        }
        boolean filler = response.kind() == ResponseKind.FILLER;
        if (filler && (turn.content.length() > 0 || response.contentComplete())) {
            // A filler after words (or the edge's own filler) would be heard twice; it never completes a turn.
            if (response.frames().isEmpty() || response.contentComplete()) {
                return Outcome.LATE_FILLER;
            }
            // Its words go, its tool frames must not: a holding line carries the invocation.
            meters.dropped(EgressMetrics.REASON_LATE_FILLER);
            turn.nextChunk = response.chunkIndex() + 1;
            turn.quietUntilMs = quietUntil(response);
            if (line.socket == null) {
                return Outcome.HELD;
            }
            sendFrames(line, response.frames());
            turn.lastFrameAtMs = nowMs;
            return Outcome.SENT;
        }
        turn.content.append(response.content());
        turn.nextChunk = response.chunkIndex() + 1;
        if (filler) {
            turn.fillerSent = true;
        } else {
            turn.kind = response.kind();
            turn.wordsSent |= !response.content().isEmpty();
        }
        turn.actions.add(response);
        turn.quietUntilMs = quietUntil(response);
        turn.answerArrived = response.contentComplete();
        if (response.contentComplete()) {
            turn.reason = response.reason();
        }
        if (line.socket == null) {
            return Outcome.HELD;
        }
        sendFrames(line, response.frames());
        boolean framesOnly = !response.frames().isEmpty() && response.content().isEmpty()
                && !response.contentComplete();
        if (framesOnly) {
            turn.lastFrameAtMs = nowMs;
            return Outcome.SENT;
        }
        if (!send(line, response.content(), response.contentComplete(), response.noInterruptionAllowed())) {
            return Outcome.HELD;
        }
        turn.lastFrameAtMs = nowMs;
        long start = response.requestReceivedAtMs() > 0 ? response.requestReceivedAtMs() : turn.startMs;
        spoke(turn, response.kind(), start, response.content(), nowMs);
        if (response.contentComplete()) {
            completed(line, turn, response.kind(), start, nowMs, true);
        } else if (!turn.firstChunkSent) {
            turn.firstChunkSent = true;
            meters.firstChunk(response.kind(), start, nowMs);
        }
        return Outcome.SENT;
    }

    /** An {@code agent_interrupt} chunk, under the call's interrupt rules; the turn is not touched. */
    private Outcome applyInterrupt(CallLine line, AgentResponse response) {
        if (line.socket == null) {
            return Outcome.NO_SOCKET;
        }
        long id = response.interruptId();
        Interrupt interrupt = line.interrupt;
        if (interrupt != null && id < interrupt.id) {
            return Outcome.STALE_INTERRUPT;
        }
        if (interrupt == null || id > interrupt.id) {
            interrupt = new Interrupt(id);
            line.interrupt = interrupt;
        }
        if (interrupt.completed) {
            return Outcome.AFTER_COMPLETE;
        }
        if (response.chunkIndex() < interrupt.nextChunk) {
            return Outcome.DUPLICATE_CHUNK;
        }
        interrupt.nextChunk = response.chunkIndex() + 1;
        interrupt.actions.add(response);
        interrupt.completed = response.contentComplete();
        sendFrames(line, response.frames());
        if (!response.frames().isEmpty() && response.content().isEmpty() && !response.contentComplete()) {
            return Outcome.SENT;
        }
        ServerFrame.AgentInterrupt frame = new ServerFrame.AgentInterrupt(id, response.content(),
                response.contentComplete(), null, null, null, response.noInterruptionAllowed());
        if (response.contentComplete()) {
            frame = interrupt.actions.on(frame, meters);
        }
        if (line.socket.send(FrameWriter.write(frame))) {
            meters.interruptSent();
        }
        return Outcome.SENT;
    }

    /** Frames of the call, not of a turn: written at once when the socket is attached. */
    private Outcome applyCallFrames(CallLine line, AgentResponse response) {
        if (line.socket == null) {
            return Outcome.NO_SOCKET;
        }
        sendFrames(line, response.frames());
        return Outcome.SENT;
    }

    /** Writes {@code frames} in order; one Retell would refuse is dropped and counted. */
    private void sendFrames(CallLine line, List<AgentFrame> frames) {
        for (AgentFrame frame : frames) {
            ServerFrame out = AgentFrames.toServerFrame(frame);
            if (out == null) {
                meters.agentFrameInvalid();
            } else if (line.socket.send(FrameWriter.write(out))) {
                meters.agentFrameSent(frame.type());
            }
        }
    }

    private static long quietUntil(AgentResponse response) {
        return response.quietUntilMs() == null ? 0 : response.quietUntilMs();
    }

    /**
     * The watchdog's check of a turn, at one of its deadlines: when the turn is still the call's latest and not
     * complete on the socket, it bridges (the filler at the budget, when nothing was said) or closes (the closing
     * line, joined to what was said, when no words came by the first-words deadline, when the words stopped for
     * the stall limit, or at the hard cap). A detached call is checked again later; a reconnect settles it first.
     *
     * @return when to check the turn again, or -1 when it needs no more checks
     */
    public long check(TurnTicket ticket, long nowMs) {
        long[] next = {-1};
        // Looked up outside the call's critical section; only a begin message's bridge needs it.
        boolean admittedHere = ticket.responseId() != 0 || knownAdmitted(ticket.callId());
        lines.computeIfPresent(ticket.callId(), (callId, line) -> {
            Turn turn = line.turn;
            if (turn.seq != ticket.turnSeq() || turn.completedOn != null) {
                return line;
            }
            long start = turn.startMs;
            long cap = start + deadlines.maxAnswerMs();
            if (!turn.wordsSent) {
                long giveUp = Math.min(cap, Math.max(start + deadlines.firstWordsDeadlineMs(), turn.quietUntilMs));
                if (line.socket == null) {
                    next[0] = nowMs < giveUp ? giveUp : cap;
                } else if (nowMs >= giveUp) {
                    if (turn.begin) {
                        sendBeginEnd(line, turn, nowMs);
                    } else {
                        sendClosing(line, turn, nowMs);
                    }
                } else if (turn.content.length() == 0 && nowMs >= turn.bridgeAtMs) {
                    sendFiller(line, turn, nowMs, admittedHere);
                    next[0] = giveUp;
                } else {
                    next[0] = turn.content.length() == 0 ? turn.bridgeAtMs : giveUp;
                }
                return line;
            }
            long stalledAt = Math.max(turn.lastFrameAtMs + deadlines.stallMs(), turn.quietUntilMs);
            if (line.socket != null && (nowMs >= stalledAt || nowMs >= cap)) {
                sendClosing(line, turn, nowMs);
            } else {
                next[0] = line.socket == null ? cap : Math.min(stalledAt, cap);
            }
            return line;
        });
        handOverIfDraining(ticket.callId(), nowMs);
        return next[0];
    }

    /**
     * The bridge: the next filler line; for a begin message the greeting (nothing when it is empty) when the call is
     * known admitted here, else the first filler line (see {@link #admissionFrom}).
     */
    private void sendFiller(CallLine line, Turn turn, long nowMs, boolean admittedHere) {
        String filler;
        if (turn.begin) {
            filler = admittedHere || deadlines.greeting().isEmpty() ? deadlines.greeting() : deadlines.fillers().get(0);
        } else {
            filler = deadlines.fillers().get(Math.floorMod(line.nextFiller++, deadlines.fillers().size()));
        }
        if (!filler.isEmpty() && send(line, filler, false, null)) {
            turn.content.append(filler);
            turn.fillerSent = true;
            turn.lastFrameAtMs = nowMs;
            meters.edgeFiller();
            spoke(turn, ResponseKind.FILLER, turn.startMs, filler, nowMs);
        }
    }

    private boolean sendClosing(CallLine line, Turn turn, long nowMs) {
        String closing = SpokenText.joinClosing(turn.content, deadlines.closingLine());
        if (!send(line, closing, true, null)) {
            return false;
        }
        turn.content.append(closing);
        turn.kind = ResponseKind.FALLBACK;
        turn.reason = EgressMetrics.REASON_EDGE_TIMEOUT;
        meters.edgeTimeoutFallback();
        spoke(turn, ResponseKind.FALLBACK, turn.startMs, closing, nowMs);
        // The watchdog fires at its deadlines by design; its lateness shows in the latency, not as over-budget.
        completed(line, turn, ResponseKind.FALLBACK, turn.startMs, nowMs, false);
        return true;
    }

    /** Completes a begin message the agent did not say in time with nothing more: the greeting (if any) was said. */
    private void sendBeginEnd(CallLine line, Turn turn, long nowMs) {
        if (!send(line, "", true, null)) {
            return;
        }
        turn.kind = ResponseKind.FALLBACK;
        turn.reason = EgressMetrics.REASON_EDGE_TIMEOUT;
        meters.edgeTimeoutFallback();
        completed(line, turn, ResponseKind.FALLBACK, turn.startMs, nowMs, false);
    }

    private void completed(CallLine line, Turn turn, ResponseKind kind, long startMs, long nowMs,
                           boolean countOverBudget) {
        turn.completedOn = line.socket.connectionId();
        turn.completedAtMs = nowMs;
        meters.completed(kind, startMs, nowMs, budgetMs, countOverBudget);
        meters.outcome(kind, turn.fillerSent, turn.reason, startMs);
    }

    /** Records the turn's first words the first time a non-empty frame of it goes out (filler included). */
    private void spoke(Turn turn, ResponseKind kind, long startMs, CharSequence content, long nowMs) {
        if (!turn.firstWordsSent && content.length() > 0) {
            turn.firstWordsSent = true;
            meters.firstWords(kind, startMs, nowMs);
        }
    }

    /** A response frame of the call's turn; a complete one carries the turn's action (absent, not false, else). */
    private boolean send(CallLine line, String content, boolean complete, Boolean noInterruptionAllowed) {
        Turn turn = line.turn;
        ServerFrame.Response frame = ServerFrame.Response.of(turn.responseId, content, complete)
                .withNoInterruptionAllowed(noInterruptionAllowed);
        if (complete) {
            frame = turn.actions.on(frame, meters);
        }
        return line.socket.send(FrameWriter.write(frame));
    }

    private Turn newTurn(long responseId, long startMs, String requestConnection) {
        Turn turn = new Turn(turnSeq.incrementAndGet(), responseId, startMs, requestConnection);
        turn.bridgeAtMs = startMs + budgetMs;
        return turn;
    }

    /**
     * Starts handing the calls held here over, each between two turns: every dial-in socket that was asked nothing
     * yet, or whose latest turn completed at least {@code settleMs} ago, is closed with {@code closer} now; one whose
     * turn is open is closed {@code settleMs} after that turn completes (its answer, or the watchdog's closing line at
     * the latest), once an operation or {@link #handOverSettled} finds it so. The settle time lets the other edge
     * nodes read the answer just delivered here before the caller reconnects to them: read after the new socket is
     * attached, it would be taken as owed from before the reconnect and said again. Dial-out sockets are left to the
     * dial-out role. A second call changes nothing and returns the first call's future.
     *
     * @param closer   closes a socket handed over (outside any call's critical section); must not block
     * @param settleMs how long after a turn's complete frame its socket is kept, 0 or more
     * @return completed once no dial-in socket is left attached here that was not handed over
     */
    public CompletableFuture<Void> drain(Consumer<CallSocket> closer, long settleMs, long nowMs) {
        Objects.requireNonNull(closer, "closer");
        if (settleMs < 0) {
            throw new IllegalArgumentException("settleMs must be 0 or more, was " + settleMs);
        }
        synchronized (this) {
            if (drain == null) {
                drain = new Drain(closer, settleMs, new CompletableFuture<>());
            }
        }
        handOverSettled(nowMs);
        completeDrainIfDone();
        return drain.done();
    }

    /** While draining: hands over every call whose latest turn completed and settled by {@code nowMs}. */
    public void handOverSettled(long nowMs) {
        lines.keySet().forEach(callId -> handOverIfDraining(callId, nowMs));
    }

    /**
     * The drain's time is up: closes, with the drain's closer, every dial-in socket still held, mid-turn or not (the
     * caller's reconnect asks again for the open turn on another node).
     *
     * @return the sockets closed
     * @throws IllegalStateException before {@link #drain}
     */
    public int drainNow() {
        Drain current = drain;
        if (current == null) {
            throw new IllegalStateException("drainNow() before drain()");
        }
        List<CallSocket> cut = new ArrayList<>();
        for (String callId : lines.keySet()) {
            lines.computeIfPresent(callId, (id, line) -> {
                if (heldForDrain(line)) {
                    line.handedOver = line.socket.connectionId();
                    cut.add(line.socket);
                }
                return line;
            });
        }
        cut.forEach(socket -> {
            current.closer().accept(socket);
            meters.handedOver(EgressMetrics.WHEN_MID_TURN);
        });
        current.done().complete(null);
        return cut.size();
    }

    /** While draining: hands the call's socket over when its latest turn is complete and settled. */
    private void handOverIfDraining(String callId, long nowMs) {
        Drain current = drain;
        if (current == null) {
            return;
        }
        CallSocket[] handOver = {null};
        lines.computeIfPresent(callId, (id, line) -> {
            if (heldForDrain(line) && settled(line.turn, nowMs, current.settleMs())) {
                line.handedOver = line.socket.connectionId();
                handOver[0] = line.socket;
            }
            return line;
        });
        if (handOver[0] != null) {
            current.closer().accept(handOver[0]);
            meters.handedOver(EgressMetrics.WHEN_BETWEEN_TURNS);
            completeDrainIfDone();
        }
    }

    private void completeDrainIfDone() {
        Drain current = drain;
        if (current != null && !current.done().isDone()
                && lines.values().stream().noneMatch(TurnLedger::heldForDrain)) {
            current.done().complete(null);
        }
    }

    /** A dial-in socket attached to the call and not handed over yet. */
    private static boolean heldForDrain(CallLine line) {
        CallSocket socket = line.socket;
        return socket != null && !socket.dialledOut() && !socket.connectionId().equals(line.handedOver);
    }

    /**
     * Nothing is owed on the call's socket now, and nothing was just said: its latest turn completed at least
     * {@code settleMs} ago, or nothing was asked or owed yet.
     */
    private static boolean settled(Turn turn, long nowMs, long settleMs) {
        if (turn.completedOn != null) {
            return nowMs >= turn.completedAtMs + settleMs;
        }
        return turn.responseId == 0 && !turn.begin && turn.startMs == 0 && !turn.answerArrived
                && turn.content.length() == 0;
    }

    /** The socket currently carrying the call on this node, if any. */
    public Optional<CallSocket> socket(String callId) {
        CallLine line = lines.get(callId);
        return line == null ? Optional.empty() : Optional.ofNullable(line.socket);
    }

    /** Calls whose socket is attached here now. */
    public int attachedCount() {
        int count = 0;
        for (CallLine line : lines.values()) {
            if (line.socket != null) {
                count++;
            }
        }
        return count;
    }

    /** Calls tracked here, attached or waiting for a reconnect. */
    public int size() {
        return lines.size();
    }

    /** One call; every field is guarded by the map entry's compute. */
    private static final class CallLine {
        volatile CallSocket socket;
        long detachSeq;
        /** The connection whose begin message was said or owed; a socket gets one begin. */
        String begunOn;
        /** The next edge filler's index, rotated per call. */
        int nextFiller;
        /**
         * When this node first saw the call, by its socket's attach (epoch ms), until the first request on it; 0
         * after that, and for a call this node held before (see {@link #TAKEOVER_WINDOW_MS}).
         */
        long newHereAtMs;
        /** The connection the drain handed over (closed); null before. */
        String handedOver;
        Turn turn;
        /** The latest agent interrupt; null before the first. */
        Interrupt interrupt;

        CallLine(Turn turn) {
            this.turn = turn;
        }
    }

    /** The call's latest turn. */
    private static final class Turn {
        final long seq;
        final long responseId;
        /** Budget start in epoch ms; 0 when unknown (the begin message). */
        final long startMs;
        /** When the edge bridges it if nothing was said: the budget's end, sooner for a taken-over turn. */
        long bridgeAtMs;
        /** The socket that requested it; null for the begin message or a turn owed from before a reconnect. */
        String requestConnection;
        final StringBuilder content = new StringBuilder();
        int nextChunk;
        ResponseKind kind = ResponseKind.GENERATED;
        final Actions actions = new Actions();
        /** The begin message owed by the agent: bridged by the greeting, never closed with the closing line. */
        boolean begin;
        /** A tool is running: no stall (and no first-words give-up) before this epoch ms; 0 for none. */
        long quietUntilMs;
        /** The last chunk ({@code content_complete}) was received, whether or not it could be written. */
        boolean answerArrived;
        boolean firstChunkSent;
        /** A non-empty frame of this turn went out (its first words were timed). */
        boolean firstWordsSent;
        /** The complete answer's reason (a closing line's), when it has one. */
        String reason;
        /** A filler was said (the responder's or the edge's). */
        boolean fillerSent;
        /** Words other than a filler were said. */
        boolean wordsSent;
        /** When the last frame of this turn was written, for the stall limit. */
        long lastFrameAtMs;
        /** The socket the complete frame went out on; null while the turn is still owed. */
        String completedOn;
        /** When the complete frame went out (epoch ms); 0 before. */
        long completedAtMs;

        Turn(long seq, long responseId, long startMs, String requestConnection) {
            this.seq = seq;
            this.responseId = responseId;
            this.startMs = startMs;
            this.requestConnection = requestConnection;
        }
    }

    /** The call's latest agent interrupt. */
    private static final class Interrupt {
        final long id;
        int nextChunk;
        boolean completed;
        final Actions actions = new Actions();

        Interrupt(long id) {
            this.id = id;
        }
    }

    /**
     * The after-speech actions asked for by a turn's (or an interrupt's) records so far: {@code end_call} when any
     * record asks, the first transfer, the first digit. One acts, in Retell's order.
     */
    private static final class Actions {
        boolean endCall;
        String transferNumber;
        Boolean showTransfereeAsCaller;
        String digitToPress;

        void add(AgentResponse record) {
            endCall |= Boolean.TRUE.equals(record.endCall());
            if (transferNumber == null && record.transferNumber() != null) {
                transferNumber = record.transferNumber();
                showTransfereeAsCaller = record.showTransfereeAsCaller();
            }
            if (digitToPress == null && record.digitToPress() != null) {
                digitToPress = record.digitToPress();
            }
        }

        ServerFrame.Response on(ServerFrame.Response frame, EgressMeters meters) {
            if (endCall) {
                meters.actionSent(EgressMetrics.ACTION_END_CALL, EgressMetrics.SCOPE_TURN);
                return frame.withEndCall(Boolean.TRUE);
            }
            if (transferNumber != null) {
                meters.actionSent(EgressMetrics.ACTION_TRANSFER, EgressMetrics.SCOPE_TURN);
                return frame.withTransfer(transferNumber, showTransfereeAsCaller);
            }
            if (digitToPress != null) {
                meters.actionSent(EgressMetrics.ACTION_DIGIT, EgressMetrics.SCOPE_TURN);
                return frame.withDigitToPress(digitToPress);
            }
            return frame;
        }

        ServerFrame.AgentInterrupt on(ServerFrame.AgentInterrupt frame, EgressMeters meters) {
            String scope = EgressMetrics.SCOPE_INTERRUPT;
            if (endCall) {
                meters.actionSent(EgressMetrics.ACTION_END_CALL, scope);
                return new ServerFrame.AgentInterrupt(frame.interruptId(), frame.content(), frame.contentComplete(),
                        Boolean.TRUE, null, null, frame.noInterruptionAllowed());
            }
            if (transferNumber != null) {
                meters.actionSent(EgressMetrics.ACTION_TRANSFER, scope);
                return new ServerFrame.AgentInterrupt(frame.interruptId(), frame.content(), frame.contentComplete(),
                        null, transferNumber, null, frame.noInterruptionAllowed());
            }
            if (digitToPress != null) {
                meters.actionSent(EgressMetrics.ACTION_DIGIT, scope);
                return new ServerFrame.AgentInterrupt(frame.interruptId(), frame.content(), frame.contentComplete(),
                        null, null, digitToPress, frame.noInterruptionAllowed());
            }
            return frame;
        }
    }
}
