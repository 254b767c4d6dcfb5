package io.callguard.cli.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The drill's and bench-webhooks' argument checks, which refuse before anything is sent. */
class DrillCommandTest {

    private final StringWriter err = new StringWriter();

    private int execute(String... args) {
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(new StringWriter()));
        cli.setErr(new PrintWriter(err));
        return cli.execute(args);
    }

    @Test
    void shouldRefuseAWarmupShorterThanOneTurn() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--turn-interval", "1s", "--warmup", "500ms");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("duration >= turn-interval").doesNotContain("warm-up, ");
    }

    @Test
    void shouldRefuseAnUnknownHealMeasureBeforeTheWarmup() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--warmup", "1s", "--kill", "4242@1s", "--heal-on", "bridged");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--heal-on takes whole or answered").doesNotContain("warm-up, ");
    }

    @Test
    void shouldRefuseANegativeWarmup() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--warmup", "-5s");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--warmup must not be negative, was -5s");
    }

    @Test
    void shouldRefuseAnInterruptRateOutsideZeroToOne() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--interrupt-rate", "1.5");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--interrupt-rate must be within 0..1, was 1.5");
    }

    @Test
    void shouldRefuseAMinWholeAnswersOutsideZeroToOne() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--min-whole-answers", "99");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--min-whole-answers must be within 0..1, was 99.0");
    }

    @Test
    void shouldRefuseBlankFillerOrClosingLines() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--filler-lines", " | ");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--filler-lines needs at least one non-blank line, was ' | '");
    }

    @Test
    void shouldRefuseAnExpectEchoThatIsNotABoolean() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--expect-echo", "maybe");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--expect-echo");
    }

    @Test
    void shouldRefuseEndingRatesAddingUpToMoreThanOne() {
        int exit = execute("drill", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k", "--socket-token", "t",
                "--end-call-rate", "0.6", "--transfer-rate", "0.5");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--end-call-rate and --transfer-rate must be within 0..1 and add up to "
                + "at most 1, were 0.6 and 0.5");
    }

    @Test
    void shouldRefuseASocketUrlWithoutTheCallId() {
        int exit = execute("drill", "--webhooks", "false", "--socket-url", "ws://127.0.0.1:9000/llm-websocket/");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--socket-url must be a ws:// or wss:// URL with {call_id}, e.g. "
                + "ws://127.0.0.1:9000/llm-websocket/{call_id}, was 'ws://127.0.0.1:9000/llm-websocket/'");
    }

    @Test
    void shouldRefuseWebhookFaultsWithWebhooksOff() {
        int exit = execute("drill", "--webhooks", "false", "--socket-url", "ws://127.0.0.1:9/llm-websocket/{call_id}",
                "--bad-input", "0.1");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--duplicate-webhooks, --out-of-order and --bad-input play webhooks: "
                + "not with --webhooks false");
    }

    @Test
    void shouldRefuseWebhooksWithoutATarget() {
        int exit = execute("drill", "--retell-api-key", "k", "--socket-token", "t", "--socket-url",
                "ws://127.0.0.1:9/llm-websocket/{call_id}");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("give --target: the webhooks go to <target>/webhook");
    }

    @Test
    void benchWebhooksShouldRefuseANegativeRate() {
        int exit = execute("bench-webhooks", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k",
                "--rate", "-1");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--warmup and --rate >= 0");
    }

    @Test
    void benchWebhooksShouldRefuseABadDrainTimeout() {
        int exit = execute("bench-webhooks", "--target", "http://127.0.0.1:9/", "--retell-api-key", "k",
                "--drain-timeout", "soon");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--drain-timeout: not a duration: 'soon'");
    }
}
