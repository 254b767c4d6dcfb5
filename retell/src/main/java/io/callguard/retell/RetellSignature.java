package io.callguard.retell;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies Retell's {@code x-retell-signature} header: {@code v=<timestamp ms>,d=<hex HMAC-SHA256>}, keyed
 * with the API key, over the raw body bytes followed by the timestamp digits. Thread-safe.
 *
 * <p>The digest is checked before the timestamp, so {@link Verdict#STALE} always means "signed with our key,
 * but too old or too new": a clock skew or a replay, never a forgery.
 */
public final class RetellSignature {

    /** The header Retell signs webhooks with. */
    public static final String HEADER = "x-retell-signature";

    /** Retell's own tolerance between the signature's timestamp and the clock. */
    public static final long DEFAULT_TOLERANCE_MS = 300_000L;

    private static final String ALGORITHM = "HmacSHA256";
    // Upper-case hex is accepted like the official TypeScript SDK does.
    private static final Pattern FORMAT = Pattern.compile("^v=(\\d+),d=([0-9a-fA-F]{64})$");

    /** The outcome of a verification. */
    public enum Verdict {
        OK("ok"),
        MISSING("signature_missing"),
        MALFORMED("signature_malformed"),
        STALE("signature_stale"),
        MISMATCH("signature_mismatch");

        private final String reason;

        Verdict(String reason) {
            this.reason = reason;
        }

        public boolean isOk() {
            return this == OK;
        }

        /** A short machine-readable reason, e.g. {@code signature_stale}; used in responses and metric tags. */
        public String reason() {
            return reason;
        }
    }

    private final SecretKeySpec key;
    private final Clock clock;
    private final long toleranceMs;

    /**
     * @param apiKey      the Retell API key; its UTF-8 bytes are the HMAC key
     * @param clock       the clock timestamps are checked against
     * @param toleranceMs largest accepted |now - timestamp|, at least 0
     * @throws IllegalArgumentException when the key is empty or the tolerance negative
     */
    public RetellSignature(String apiKey, Clock clock, long toleranceMs) {
        Objects.requireNonNull(apiKey, "apiKey");
        if (apiKey.isEmpty()) {
            throw new IllegalArgumentException("the Retell API key must not be empty");
        }
        if (toleranceMs < 0) {
            throw new IllegalArgumentException("toleranceMs must be at least 0, was " + toleranceMs);
        }
        this.key = new SecretKeySpec(apiKey.getBytes(StandardCharsets.UTF_8), ALGORITHM);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.toleranceMs = toleranceMs;
    }

    /**
     * Verifies a header against the exact bytes received.
     *
     * @param body   the raw request body, never re-serialized
     * @param header the header's value, or null when absent
     */
    public Verdict verify(byte[] body, String header) {
        if (header == null || header.isEmpty()) {
            return Verdict.MISSING;
        }
        Matcher m = FORMAT.matcher(header);
        if (!m.matches()) {
            return Verdict.MALFORMED;
        }
        String digits = m.group(1);
        long timestamp;
        try {
            timestamp = Long.parseLong(digits);
        } catch (NumberFormatException tooLong) {
            return Verdict.MALFORMED;
        }
        byte[] expected = hmac(body, digits);
        byte[] given = HexFormat.of().parseHex(m.group(2));
        if (!MessageDigest.isEqual(expected, given)) {
            return Verdict.MISMATCH;
        }
        if (Math.abs(clock.millis() - timestamp) > toleranceMs) {
            return Verdict.STALE;
        }
        return Verdict.OK;
    }

    /** The header value Retell would send with this body at this instant; for our own tools and tests. */
    public String sign(byte[] body, long timestampMs) {
        String digits = Long.toString(timestampMs);
        return "v=" + digits + ",d=" + HexFormat.of().formatHex(hmac(body, digits));
    }

    private byte[] hmac(byte[] body, String timestampDigits) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            mac.update(body == null ? new byte[0] : body);
            return mac.doFinal(timestampDigits.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    @Override
    public String toString() {
        return "RetellSignature[toleranceMs=" + toleranceMs + "]";
    }
}
