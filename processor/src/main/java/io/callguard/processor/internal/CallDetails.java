package io.callguard.processor.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.CallState;

/**
 * The fields of Retell's call object that a {@link CallState} carries, as one event reported them.
 * Missing or ill-typed fields are null: Retell adds and omits fields freely.
 */
public record CallDetails(
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
        JsonNode metadata,
        JsonNode dynamicVariables) {

    /** No field known. */
    public static final CallDetails EMPTY = new CallDetails(null, null, null, null, null, null, null, null, null,
            null, null, null, null);

    /** Reads a call object leniently; a missing or non-object node gives {@link #EMPTY}. */
    public static CallDetails fromCallObject(JsonNode call) {
        if (call == null || !call.isObject()) {
            return EMPTY;
        }
        Long version = JsonFields.longValue(call, "agent_version");
        return new CallDetails(
                JsonFields.text(call, "call_status"),
                JsonFields.text(call, "agent_id"),
                version != null && version >= Integer.MIN_VALUE && version <= Integer.MAX_VALUE ? version.intValue() : null,
                JsonFields.text(call, "call_type"),
                JsonFields.text(call, "direction"),
                JsonFields.text(call, "from_number"),
                JsonFields.text(call, "to_number"),
                JsonFields.longValue(call, "start_timestamp"),
                JsonFields.longValue(call, "end_timestamp"),
                JsonFields.longValue(call, "duration_ms"),
                JsonFields.text(call, "disconnection_reason"),
                JsonFields.present(call, "metadata"),
                JsonFields.present(call, "retell_llm_dynamic_variables"));
    }

    /** These details with every field that {@code later} knows taken from {@code later}. */
    public CallDetails overriddenBy(CallDetails later) {
        return new CallDetails(
                pick(later.retellStatus, retellStatus),
                pick(later.agentId, agentId),
                pick(later.agentVersion, agentVersion),
                pick(later.callType, callType),
                pick(later.direction, direction),
                pick(later.fromNumber, fromNumber),
                pick(later.toNumber, toNumber),
                pick(later.startTimestamp, startTimestamp),
                pick(later.endTimestamp, endTimestamp),
                pick(later.durationMs, durationMs),
                pick(later.disconnectionReason, disconnectionReason),
                pick(later.metadata, metadata),
                pick(later.dynamicVariables, dynamicVariables));
    }

    /** Sets every call-object field of the builder from these details (null included: they are the whole truth). */
    public CallState.Builder applyTo(CallState.Builder builder) {
        return builder.retellStatus(retellStatus).agentId(agentId).agentVersion(agentVersion).callType(callType)
                .direction(direction).fromNumber(fromNumber).toNumber(toNumber).startTimestamp(startTimestamp)
                .endTimestamp(endTimestamp).durationMs(durationMs).disconnectionReason(disconnectionReason)
                .metadata(metadata).dynamicVariables(dynamicVariables);
    }

    private static <T> T pick(T preferred, T fallback) {
        return preferred != null ? preferred : fallback;
    }
}
