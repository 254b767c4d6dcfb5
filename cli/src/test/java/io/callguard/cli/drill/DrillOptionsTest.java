package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a drill needs to dial and sign, by whether it sends webhooks, and the endings' shares. */
class DrillOptionsTest {

    private static DrillOptions options(URI target, String apiKey, String token, boolean webhooks, String socketUrl,
                                        double endCallRate, double transferRate) {
        return new DrillOptions(target, apiKey, token, 2, Duration.ofSeconds(2), Duration.ofMillis(200),
                Duration.ofSeconds(1), 1, 0, false, 0, 1, Duration.ZERO, 0, List.of("One moment."),
                List.of("Sorry."), true, 0.99, webhooks, socketUrl, endCallRate, transferRate, null);
    }

    @Test
    void shouldDialTheGatewayWithItsTokenByDefault() {
        DrillOptions options = options(URI.create("http://127.0.0.1:8080"), "k", "a b&c", true, null, 0, 0);

        assertThat(options.socketUri("call-1"))
                .isEqualTo(URI.create("ws://127.0.0.1:8080/llm-websocket/call-1?token=a+b%26c"));
        assertThat(options.describeTarget()).isEqualTo("http://127.0.0.1:8080/");
    }

    @Test
    void shouldPlaySocketsOnlyWithNeitherApiKeyNorToken() {
        // A template without {token}, and the default URL without a token once webhooks are off
        DrillOptions direct = options(null, null, null, false, "ws://127.0.0.1:9000/llm-websocket/{call_id}", 0, 0);
        DrillOptions defaultUrl = options(URI.create("http://127.0.0.1:9000/"), "", "", false, null, 0, 0);

        assertThat(direct.socketUri("c1")).isEqualTo(URI.create("ws://127.0.0.1:9000/llm-websocket/c1"));
        assertThat(direct.describeTarget()).isEqualTo("ws://127.0.0.1:9000/llm-websocket/{call_id}");
        assertThat(defaultUrl.socketUri("c1")).isEqualTo(URI.create("ws://127.0.0.1:9000/llm-websocket/c1"));
    }

    @Test
    void shouldPutTheTokenWhereTheTemplateSaysAndRequireIt() {
        String template = "wss://agent.internal/socket/{call_id}?secret={token}";

        assertThat(options(null, "", "s3", false, template, 0, 0).socketUri("c1"))
                .isEqualTo(URI.create("wss://agent.internal/socket/c1?secret=s3"));
        assertThatThrownBy(() -> options(null, "", "", false, template, 0, 0))
                .hasMessage("give --socket-token (or CALLGUARD_SOCKET_TOKEN): the --socket-url needs it");
    }

    @Test
    void shouldRequireWhatWebhooksNeed() {
        URI target = URI.create("http://127.0.0.1:8080/");

        assertThatThrownBy(() -> options(target, "", "t", true, null, 0, 0)).hasMessage("give --retell-api-key "
                + "(or RETELL_API_KEY) to sign the webhooks, or --webhooks false to play the sockets only");
        assertThatThrownBy(() -> options(target, "k", null, true, null, 0, 0))
                .hasMessage("give --socket-token (or CALLGUARD_SOCKET_TOKEN): the gateway's socket URL needs it");
        assertThatThrownBy(() -> options(null, "k", "t", false, null, 0, 0))
                .hasMessage("give --target or --socket-url");
    }

    @Test
    void shouldRefuseEndingSharesOutOfRange() {
        URI target = URI.create("http://127.0.0.1:8080/");

        assertThat(options(target, "k", "t", true, null, 0.5, 0.5).endCallRate()).isEqualTo(0.5);
        assertThatThrownBy(() -> options(target, "k", "t", true, null, -0.1, 0)).hasMessage("--end-call-rate and "
                + "--transfer-rate must be within 0..1 and add up to at most 1, were -0.1 and 0.0");
        assertThatThrownBy(() -> options(target, "k", "t", true, null, 0, Double.NaN))
                .hasMessageStartingWith("--end-call-rate and --transfer-rate must be within 0..1");
    }

    @Test
    void shouldPickEndingsByTheirShares() {
        assertThat(Ending.pick(0.1, 0.3, 0.3)).isEqualTo(Ending.END_CALL);
        assertThat(Ending.pick(0.3, 0.3, 0.3)).isEqualTo(Ending.TRANSFER);
        assertThat(Ending.pick(0.6, 0.3, 0.3)).isEqualTo(Ending.NONE);
        assertThat(Ending.pick(0.0, 0, 0)).isEqualTo(Ending.NONE);
    }

    @Test
    void shouldReadTheGatewaysMetricsBesideTheTargetUnlessToldWhere() {
        // Given a drill against a gateway, told nothing of its admin listener
        DrillOptions options = options(URI.create("http://10.0.0.5:9000"), "k", "t", true, null, 0, 0);

        // Then its metrics are read on the target's host at the default admin port, without a token
        assertThat(options.admin().metrics()).isEqualTo(URI.create("http://10.0.0.5:8081/metrics"));
        assertThat(options.admin().token()).isEmpty();
        assertThat(GatewayAdmin.beside(URI.create("http://[::1]:8080/"), "").url())
                .isEqualTo(URI.create("http://[::1]:8081/"));
        assertThat(GatewayAdmin.beside(URI.create("http://gw.internal/"), "").url())
                .isEqualTo(URI.create("http://gw.internal:8081/"));

        // And when told, where it is told, for the warm-up too; a socket-only drill with no target reads none
        GatewayAdmin told = new GatewayAdmin(URI.create("http://127.0.0.1:41234"), "adm-secret");
        assertThat(options.withAdmin(told).withDuration(Duration.ofSeconds(3)).admin().metrics())
                .isEqualTo(URI.create("http://127.0.0.1:41234/metrics"));
        assertThat(options(null, "", "", false, "ws://127.0.0.1:9000/s/{call_id}", 0, 0).admin()).isNull();
        assertThat(told.toString()).doesNotContain("adm-secret");
        assertThatThrownBy(() -> new GatewayAdmin(URI.create("ws://127.0.0.1:8081/"), ""))
                .hasMessageContaining("--admin-url must be an http:// or https:// URL");
    }
}
