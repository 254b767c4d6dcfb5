package io.callguard.retell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.callguard.retell.RetellSignature.Verdict;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class RetellSignatureTest {

    private static final long VECTOR_TS = 1_700_000_000_000L;
    private static final byte[] BODY = "{\"event\":\"call_started\",\"call\":{\"call_id\":\"abc123\"}}"
            .getBytes(StandardCharsets.UTF_8);
    private static final String BODY_HEADER =
            "v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12";

    private static RetellSignature at(String key, long nowMs) {
        return new RetellSignature(key, Clock.fixed(Instant.ofEpochMilli(nowMs), ZoneOffset.UTC),
                RetellSignature.DEFAULT_TOLERANCE_MS);
    }

    /** The test vectors of retell-protocol.md, produced by Retell's official SDK. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "'{\"event\":\"call_started\",\"call\":{\"call_id\":\"abc123\"}}' | test_key | v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "'{\"event\":\"call_ended\"}' | test-api-key | v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e",
        "'{\"name\":\"José\"}' | test_key | v=1700000000000,d=b0d6a4e27f5a65e75b6a63c873795aa3271a70f92ac3723200816cff9bf71948",
        "'' | test_key | v=1700000000000,d=ec23adcbe01500d07e00d4d314826b3d04878e7c78de245136f9184394c2b398",
    })
    void shouldAcceptEveryProtocolTestVector(String body, String key, String header) {
        // Given the SDK's vector and a clock at its timestamp
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        RetellSignature signature = at(key, VECTOR_TS);

        // When / Then it verifies, and our signer produces the very same header
        assertThat(signature.verify(raw, header)).isEqualTo(Verdict.OK);
        assertThat(signature.sign(raw, VECTOR_TS)).isEqualTo(header);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{}", "{\"event\":\"call_ended\",\"call\":{\"call_id\":\"c-1\"}}", "José 🎧"})
    void shouldSignLikeAnIndependentHmac(String body) {
        // Given an HMAC-SHA256 built by hand from SHA-256 (RFC 2104), sharing no code with RetellSignature
        byte[] raw = body.getBytes(StandardCharsets.UTF_8);
        long ts = 1_712_345_678_901L;
        byte[] message = concat(raw, Long.toString(ts).getBytes(StandardCharsets.US_ASCII));
        String expected = HexFormat.of().formatHex(handMadeHmacSha256("k€y-with-ütf8".getBytes(StandardCharsets.UTF_8), message));

        // When
        String header = at("k€y-with-ütf8", ts).sign(raw, ts);

        // Then
        assertThat(header).isEqualTo("v=" + ts + ",d=" + expected);
        assertThat(at("k€y-with-ütf8", ts).verify(raw, "v=" + ts + ",d=" + expected)).isEqualTo(Verdict.OK);
    }

    @Test
    void shouldAgreeWithIndependentHmacForKeysLongerThanOneBlock() {
        String longKey = "x".repeat(100);
        byte[] expected = handMadeHmacSha256(longKey.getBytes(StandardCharsets.UTF_8),
                concat(BODY, "1700000000000".getBytes(StandardCharsets.US_ASCII)));

        assertThat(at(longKey, VECTOR_TS).sign(BODY, VECTOR_TS)).endsWith(HexFormat.of().formatHex(expected));
    }

    @Test
    void shouldRefuseTamperedBody() {
        byte[] tampered = new String(BODY, StandardCharsets.UTF_8).replace("abc123", "abc124")
                .getBytes(StandardCharsets.UTF_8);

        assertThat(at("test_key", VECTOR_TS).verify(tampered, BODY_HEADER)).isEqualTo(Verdict.MISMATCH);
    }

    @Test
    void shouldRefuseBodyReserializedWithDifferentSpacing() {
        byte[] reserialized = "{\"event\": \"call_started\", \"call\": {\"call_id\": \"abc123\"}}"
                .getBytes(StandardCharsets.UTF_8);

        assertThat(at("test_key", VECTOR_TS).verify(reserialized, BODY_HEADER)).isEqualTo(Verdict.MISMATCH);
    }

    @Test
    void shouldRefuseSignatureMadeWithAnotherKey() {
        assertThat(at("other_key", VECTOR_TS).verify(BODY, BODY_HEADER)).isEqualTo(Verdict.MISMATCH);
    }

    @Test
    void shouldRefuseTimestampInSeconds() {
        // Given a correct HMAC over the timestamp in seconds, checked at that same instant
        RetellSignature signature = at("test_key", VECTOR_TS);
        String inSeconds = signature.sign(BODY, VECTOR_TS / 1000);

        // When / Then: 1.7e9 ms is 1970, far outside the tolerance
        assertThat(signature.verify(BODY, inSeconds)).isEqualTo(Verdict.STALE);
    }

    @ParameterizedTest
    @ValueSource(longs = {300_001L, -300_001L, 3_600_000L, -86_400_000L})
    void shouldRefuseStaleSignature(long clockOffsetMs) {
        // Given the clock further than 300 000 ms from the vector's timestamp
        RetellSignature signature = at("test_key", VECTOR_TS + clockOffsetMs);

        // When / Then
        assertThat(signature.verify(BODY, BODY_HEADER)).isEqualTo(Verdict.STALE);
    }

    @ParameterizedTest
    @ValueSource(longs = {300_000L, -300_000L, 1L, -1L})
    void shouldAcceptSignatureAtTheEdgeOfTolerance(long clockOffsetMs) {
        assertThat(at("test_key", VECTOR_TS + clockOffsetMs).verify(BODY, BODY_HEADER)).isEqualTo(Verdict.OK);
    }

    @Test
    void shouldAcceptUpperCaseHexDigest() {
        String upper = BODY_HEADER.substring(0, BODY_HEADER.indexOf("d=") + 2)
                + BODY_HEADER.substring(BODY_HEADER.indexOf("d=") + 2).toUpperCase(Locale.ROOT);

        assertThat(at("test_key", VECTOR_TS).verify(BODY, upper)).isEqualTo(Verdict.OK);
    }

    @Test
    void shouldReportMissingHeader() {
        assertThat(at("test_key", VECTOR_TS).verify(BODY, null)).isEqualTo(Verdict.MISSING);
        assertThat(at("test_key", VECTOR_TS).verify(BODY, "")).isEqualTo(Verdict.MISSING);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "garbage",
        "v=1700000000000",
        "d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d1",
        "v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12a",
        "v=1700000000000,d=g4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "v=-1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "v=1700000000000;d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12,v=1700000000000",
        " v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12\n",
        "v=99999999999999999999999,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
    })
    void shouldRefuseMalformedHeader(String header) {
        assertThat(at("test_key", VECTOR_TS).verify(BODY, header)).isEqualTo(Verdict.MALFORMED);
    }

    @Test
    void shouldNotShowTheKeyInToString() {
        assertThat(at("super-secret-key", VECTOR_TS).toString()).doesNotContain("super-secret-key");
    }

    @Test
    void shouldRefuseEmptyKey() {
        assertThatThrownBy(() -> at("", VECTOR_TS)).isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] handMadeHmacSha256(byte[] key, byte[] message) {
        try {
            int block = 64;
            byte[] k = key.length > block ? MessageDigest.getInstance("SHA-256").digest(key) : key;
            k = Arrays.copyOf(k, block);
            byte[] ipad = new byte[block];
            byte[] opad = new byte[block];
            for (int i = 0; i < block; i++) {
                ipad[i] = (byte) (k[i] ^ 0x36);
                opad[i] = (byte) (k[i] ^ 0x5c);
            }
            byte[] inner = MessageDigest.getInstance("SHA-256").digest(concat(ipad, message));
            return MessageDigest.getInstance("SHA-256").digest(concat(opad, inner));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
