package io.callguard.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The test signer matches the vectors of retell-protocol.md, produced by Retell's official SDK. */
class RetellWebhooksTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "'{\"event\":\"call_started\",\"call\":{\"call_id\":\"abc123\"}}' | test_key | v=1700000000000,d=b4a9a474d5b18c2e80b3f59c175f3bf32dcd4687dcb8d36b05b493ab6b576d12",
        "'{\"event\":\"call_ended\"}' | test-api-key | v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e",
        "'{\"name\":\"José\"}' | test_key | v=1700000000000,d=b0d6a4e27f5a65e75b6a63c873795aa3271a70f92ac3723200816cff9bf71948",
        "'' | test_key | v=1700000000000,d=ec23adcbe01500d07e00d4d314826b3d04878e7c78de245136f9184394c2b398",
    })
    void shouldSignExactlyLikeRetellsSdk(String body, String key, String header) {
        assertThat(RetellWebhooks.sign(key, body.getBytes(StandardCharsets.UTF_8), 1_700_000_000_000L))
                .isEqualTo(header);
    }
}
