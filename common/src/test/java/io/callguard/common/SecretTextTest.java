package io.callguard.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

class SecretTextTest {

    @Test
    void shouldRedactTheTokenOfAUrlAndKeepTheRest() {
        // Given a dial-out URL with its token
        URI url = URI.create("wss://agent.example:8443/llm-websocket/call-1?token=s3cr3t_TOKEN-x&lang=en#frag");

        // When it is redacted
        String redacted = SecretText.redact(url);

        // Then only the token's value is gone
        assertThat(redacted).isEqualTo("wss://agent.example:8443/llm-websocket/call-1?token=<redacted>&lang=en#frag");
    }

    @Test
    void shouldRedactEverySecretParameterAnywhereInAMessageWhateverItsCase() {
        // Given an exception message that quotes two URLs, one percent-encoded inside another
        String message = "Failed to upgrade to websocket: Unexpected HTTP Response Status Code: 401 Unauthorized "
                + "[ws://h/a?x=1&Token=abc;def] via http://proxy/?target=ws%3A%2F%2Fh%2Fb%3Fapi_key%3Dk3y&SECRET=p";

        // When it is redacted
        String redacted = SecretText.redact(message);

        // Then no secret value is left, and the words around them are
        assertThat(redacted).doesNotContain("abc").doesNotContain("k3y").doesNotContain("=p")
                .contains("Token=<redacted>;def]").contains("api_key%3D<redacted>").contains("SECRET=<redacted>")
                .startsWith("Failed to upgrade to websocket: Unexpected HTTP Response Status Code: 401");
    }

    @Test
    void shouldLeaveTextWithoutSecretsAndWordsThatOnlyLookLikeThemAlone() {
        assertThat(SecretText.redact("call c-1: dial-out to ws://h/agent/c-1?lang=en failed: ConnectException"))
                .isEqualTo("call c-1: dial-out to ws://h/agent/c-1?lang=en failed: ConnectException");
        assertThat(SecretText.redact("the token= in the docs and ?tokens=3&monkey=1"))
                .isEqualTo("the token= in the docs and ?tokens=3&monkey=1");
        assertThat(SecretText.redact((String) null)).isNull();
        assertThat(SecretText.redact(new IllegalStateException("ws://h/?token=t"))).isEqualTo(
                "java.lang.IllegalStateException: ws://h/?token=<redacted>");
    }
}
