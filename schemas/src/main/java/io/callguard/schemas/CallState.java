package io.callguard.schemas;

import java.util.Objects;

/**
 * The latest state of one call, on the compacted {@code callguard.call-state} topic keyed by call id.
 * A change is a copy: {@code state.toBuilder().status(...).build()}.
 *
 * @param schemaVersion always {@link #SCHEMA_VERSION} when written by this code
 * @param callId the call
 * @param status callguard's view: queued, active, ended, expired or rejected
 * @param retellStatus Retell's last reported {@code call_status}
 * @param agentId Retell agent id
 * @param agentVersion Retell agent version
 * @param callType {@code phone_call} or {@code web_call}
 * @param direction {@code inbound} or {@code outbound}
 * @param fromNumber caller number
 * @param toNumber callee number
 * @param startTimestamp call start, ms since the epoch, as Retell reported it
 * @param endTimestamp call end, ms since the epoch, as Retell reported it
 * @param durationMs call duration as Retell reported it
 * @param disconnectionReason Retell's disconnection reason
 * @param started a {@code call_started} was applied
 * @param ended a {@code call_ended} was applied
 * @param analyzed a {@code call_analyzed} was applied
 * @param rejectionReason why the call was refused, when rejected
 * @param turnCount turns requested so far ({@code response_required} and {@code reminder_required})
 * @param latestResponseId the highest {@code response_id} requested
 * @param transcriptLength entries in the latest transcript seen
 * @param metadata the call's {@code metadata}, for later turns
 * @param dynamicVariables the call's {@code retell_llm_dynamic_variables}
 * @param eventsApplied events folded into this state
 * @param duplicatesDropped duplicate deliveries dropped for this call
 * @param fallbacks fallback answers sent for this call
 * @param reconnects socket reconnects seen for this call
 * @param queuedAtMs when the call joined the capacity queue
 * @param admittedAtMs when the call got a capacity slot
 * @param connectionId the call's current socket: the latest one opened ({@code socket_opened}, by edge receipt time);
 *                     null while no socket was seen (a call known by webhooks only)
 * @param socketOpenedAtMs edge receipt time of the current socket's opening; null when none was seen
 * @param socketLostAtMs when the current socket closed with no later socket opened, processor wall-clock ms (the start
 *                       of {@code capacity.socket-lost-grace-ms}); null while a socket is open or none was seen
 * @param firstEventAtMs edge receipt time of the first event applied
 * @param lastEventAtMs edge receipt time of the latest event applied
 * @param updatedAtMs when the processor last changed this state
 */
public record CallState(
        int schemaVersion,
        String callId,
        CallStatus status,
        String retellStatus,
        String agentId,
        Integer agentVersion,
        String callType,
        String direction,
        String fromNumber,
        String toNumber,
        Long startTimestamp,
        Long endTimestamp,
        Long durationMs,
        String disconnectionReason,
        boolean started,
        boolean ended,
        boolean analyzed,
        String rejectionReason,
        int turnCount,
        Long latestResponseId,
        int transcriptLength,
        com.fasterxml.jackson.databind.JsonNode metadata,
        com.fasterxml.jackson.databind.JsonNode dynamicVariables,
        long eventsApplied,
        long duplicatesDropped,
        long fallbacks,
        long reconnects,
        Long queuedAtMs,
        Long admittedAtMs,
        String connectionId,
        Long socketOpenedAtMs,
        Long socketLostAtMs,
        long firstEventAtMs,
        long lastEventAtMs,
        long updatedAtMs) {

    /** Version 2 added the socket fields ({@code connection_id}, {@code socket_opened_at_ms}, {@code socket_lost_at_ms}). */
    public static final int SCHEMA_VERSION = 2;

    /** {@code rejection_reason} of a call refused because its partition's slots and queue were full. */
    public static final String REJECTED_QUEUE_FULL = "queue_full";
    /** {@code rejection_reason} of a call that waited in the queue past {@code capacity.queue-timeout-ms}. */
    public static final String REJECTED_QUEUE_TIMEOUT = "queue_timeout";

    public CallState {
        Objects.requireNonNull(callId, "callId");
        Objects.requireNonNull(status, "status");
    }

    /** A fresh state for a call first seen at {@code atMs}. */
    public static CallState initial(String callId, CallStatus status, long atMs) {
        return builder(callId).status(status).firstEventAtMs(atMs).lastEventAtMs(atMs).updatedAtMs(atMs).build();
    }

    public static Builder builder(String callId) {
        return new Builder().schemaVersion(SCHEMA_VERSION).callId(callId);
    }

    /** A builder holding every field of this state. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.schemaVersion = schemaVersion;
        b.callId = callId;
        b.status = status;
        b.retellStatus = retellStatus;
        b.agentId = agentId;
        b.agentVersion = agentVersion;
        b.callType = callType;
        b.direction = direction;
        b.fromNumber = fromNumber;
        b.toNumber = toNumber;
        b.startTimestamp = startTimestamp;
        b.endTimestamp = endTimestamp;
        b.durationMs = durationMs;
        b.disconnectionReason = disconnectionReason;
        b.started = started;
        b.ended = ended;
        b.analyzed = analyzed;
        b.rejectionReason = rejectionReason;
        b.turnCount = turnCount;
        b.latestResponseId = latestResponseId;
        b.transcriptLength = transcriptLength;
        b.metadata = metadata;
        b.dynamicVariables = dynamicVariables;
        b.eventsApplied = eventsApplied;
        b.duplicatesDropped = duplicatesDropped;
        b.fallbacks = fallbacks;
        b.reconnects = reconnects;
        b.queuedAtMs = queuedAtMs;
        b.admittedAtMs = admittedAtMs;
        b.connectionId = connectionId;
        b.socketOpenedAtMs = socketOpenedAtMs;
        b.socketLostAtMs = socketLostAtMs;
        b.firstEventAtMs = firstEventAtMs;
        b.lastEventAtMs = lastEventAtMs;
        b.updatedAtMs = updatedAtMs;
        return b;
    }

    /** The one way to make a changed copy. */
    public static final class Builder {
        private int schemaVersion;
        private String callId;
        private CallStatus status;
        private String retellStatus;
        private String agentId;
        private Integer agentVersion;
        private String callType;
        private String direction;
        private String fromNumber;
        private String toNumber;
        private Long startTimestamp;
        private Long endTimestamp;
        private Long durationMs;
        private String disconnectionReason;
        private boolean started;
        private boolean ended;
        private boolean analyzed;
        private String rejectionReason;
        private int turnCount;
        private Long latestResponseId;
        private int transcriptLength;
        private com.fasterxml.jackson.databind.JsonNode metadata;
        private com.fasterxml.jackson.databind.JsonNode dynamicVariables;
        private long eventsApplied;
        private long duplicatesDropped;
        private long fallbacks;
        private long reconnects;
        private Long queuedAtMs;
        private Long admittedAtMs;
        private String connectionId;
        private Long socketOpenedAtMs;
        private Long socketLostAtMs;
        private long firstEventAtMs;
        private long lastEventAtMs;
        private long updatedAtMs;

        private Builder() {
        }

        public Builder schemaVersion(int value) {
            this.schemaVersion = value;
            return this;
        }

        public Builder callId(String value) {
            this.callId = value;
            return this;
        }

        public Builder status(CallStatus value) {
            this.status = value;
            return this;
        }

        public Builder retellStatus(String value) {
            this.retellStatus = value;
            return this;
        }

        public Builder agentId(String value) {
            this.agentId = value;
            return this;
        }

        public Builder agentVersion(Integer value) {
            this.agentVersion = value;
            return this;
        }

        public Builder callType(String value) {
            this.callType = value;
            return this;
        }

        public Builder direction(String value) {
            this.direction = value;
            return this;
        }

        public Builder fromNumber(String value) {
            this.fromNumber = value;
            return this;
        }

        public Builder toNumber(String value) {
            this.toNumber = value;
            return this;
        }

        public Builder startTimestamp(Long value) {
            this.startTimestamp = value;
            return this;
        }

        public Builder endTimestamp(Long value) {
            this.endTimestamp = value;
            return this;
        }

        public Builder durationMs(Long value) {
            this.durationMs = value;
            return this;
        }

        public Builder disconnectionReason(String value) {
            this.disconnectionReason = value;
            return this;
        }

        public Builder started(boolean value) {
            this.started = value;
            return this;
        }

        public Builder ended(boolean value) {
            this.ended = value;
            return this;
        }

        public Builder analyzed(boolean value) {
            this.analyzed = value;
            return this;
        }

        public Builder rejectionReason(String value) {
            this.rejectionReason = value;
            return this;
        }

        public Builder turnCount(int value) {
            this.turnCount = value;
            return this;
        }

        public Builder latestResponseId(Long value) {
            this.latestResponseId = value;
            return this;
        }

        public Builder transcriptLength(int value) {
            this.transcriptLength = value;
            return this;
        }

        public Builder metadata(com.fasterxml.jackson.databind.JsonNode value) {
            this.metadata = value;
            return this;
        }

        public Builder dynamicVariables(com.fasterxml.jackson.databind.JsonNode value) {
            this.dynamicVariables = value;
            return this;
        }

        public Builder eventsApplied(long value) {
            this.eventsApplied = value;
            return this;
        }

        public Builder duplicatesDropped(long value) {
            this.duplicatesDropped = value;
            return this;
        }

        public Builder fallbacks(long value) {
            this.fallbacks = value;
            return this;
        }

        public Builder reconnects(long value) {
            this.reconnects = value;
            return this;
        }

        public Builder queuedAtMs(Long value) {
            this.queuedAtMs = value;
            return this;
        }

        public Builder admittedAtMs(Long value) {
            this.admittedAtMs = value;
            return this;
        }

        public Builder connectionId(String value) {
            this.connectionId = value;
            return this;
        }

        public Builder socketOpenedAtMs(Long value) {
            this.socketOpenedAtMs = value;
            return this;
        }

        public Builder socketLostAtMs(Long value) {
            this.socketLostAtMs = value;
            return this;
        }

        public Builder firstEventAtMs(long value) {
            this.firstEventAtMs = value;
            return this;
        }

        public Builder lastEventAtMs(long value) {
            this.lastEventAtMs = value;
            return this;
        }

        public Builder updatedAtMs(long value) {
            this.updatedAtMs = value;
            return this;
        }

        public CallState build() {
            return new CallState(schemaVersion, callId, status, retellStatus, agentId, agentVersion, callType, direction, fromNumber, toNumber, startTimestamp, endTimestamp, durationMs, disconnectionReason, started, ended, analyzed, rejectionReason, turnCount, latestResponseId, transcriptLength, metadata, dynamicVariables, eventsApplied, duplicatesDropped, fallbacks, reconnects, queuedAtMs, admittedAtMs, connectionId, socketOpenedAtMs, socketLostAtMs, firstEventAtMs, lastEventAtMs, updatedAtMs);
        }
    }
}
