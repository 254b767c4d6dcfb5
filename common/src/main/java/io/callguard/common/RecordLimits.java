package io.callguard.common;

/**
 * How large a callguard record may be, derived from the largest webhook body accepted, so that the producers'
 * {@code max.request.size}, the topics' {@code max.message.bytes} and the embedded broker's {@code message.max.bytes}
 * are one number and cannot disagree.
 *
 * <p>The default body limit is sized from the largest webhooks Retell sends: {@code call_ended} and
 * {@code call_analyzed} carry the whole call's transcript three times ({@code transcript}, {@code transcript_object}
 * and {@code transcript_with_tool_calls}, the last two with every word's timing). A generated hour-long call
 * (both roles at 140-155 words a minute, word timings to the millisecond, tool calls; the test kit's
 * {@code GeneratedCalls}) comes to 0.87 MB, a 4-hour one to 3.5 MB. 8 MiB takes a 4-hour call with 2.4 times its
 * size to spare (faster talkers, timings written with more digits, fields Retell adds), or a 9-hour call at that
 * rate: a refused {@code call_ended} would hold the call's capacity slot until its TTL.
 */
public final class RecordLimits {

    /** The default {@code webhook.max-body-bytes}: 8 MiB (see the class comment). */
    public static final int DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

    /**
     * Room for what wraps a body: a call event's envelope (ids, times, keys), or a dead letter's (reason, detail,
     * source coordinates); both are well under a kilobyte, the rest is margin.
     */
    static final int ENVELOPE_BYTES = 256 * 1024;

    private RecordLimits() {
    }

    /**
     * The largest record callguard writes when bodies of up to {@code maxBodyBytes} are accepted: a dead letter
     * carries the original bytes in base64 (4 bytes for every 3), the largest form a body takes on a topic, plus
     * its envelope. A call event carries the body as JSON, no larger than the body itself.
     *
     * @throws IllegalArgumentException when {@code maxBodyBytes} is not positive or the record would not fit an int
     */
    public static int maxRecordBytes(int maxBodyBytes) {
        if (maxBodyBytes <= 0) {
            throw new IllegalArgumentException("maxBodyBytes must be positive, was " + maxBodyBytes);
        }
        long bytes = 4L * ((maxBodyBytes + 2L) / 3) + ENVELOPE_BYTES;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a body of " + maxBodyBytes + " bytes makes records of " + bytes
                    + " bytes, more than Kafka can take");
        }
        return (int) bytes;
    }

    /**
     * The largest {@code webhook.max-body-bytes} whose records fit a topic taking records of up to
     * {@code maxMessageBytes} (the inverse of {@link #maxRecordBytes}); 0 when not even the envelope fits.
     */
    public static int maxBodyBytesFor(long maxMessageBytes) {
        long groups = (maxMessageBytes - ENVELOPE_BYTES) / 4;
        return groups <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, 3 * groups);
    }
}
