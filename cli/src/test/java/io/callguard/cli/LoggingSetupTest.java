package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.ContextInitializer;
import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LoggingSetupTest {

    private final PrintStream stderr = System.err;

    @AfterEach
    void restoreLogging() throws Exception {
        System.setErr(stderr);
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        context.reset();
        new ContextInitializer(context).autoConfig();
    }

    @Test
    void shouldWriteOneJsonObjectPerLineOnStderrWhenLogFormatIsJson() throws Exception {
        // Given stderr captured and the json format applied
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        LoggingSetup.apply("json");

        // When a decision is logged
        LoggerFactory.getLogger("io.callguard.test").info("call {} admitted on partition {}", "call-json", 3);

        // Then stderr holds a JSON object with the level, the logger and the formatted message
        List<JsonNode> lines = new ArrayList<>();
        for (String line : captured.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                lines.add(Json.mapper().readTree(line));
            }
        }
        assertThat(lines).anySatisfy(l -> {
            assertThat(l.path("level").asText()).isEqualTo("INFO");
            assertThat(l.path("loggerName").asText()).isEqualTo("io.callguard.test");
            assertThat(l.path("formattedMessage").asText()).isEqualTo("call call-json admitted on partition 3");
        });
    }

    @Test
    void shouldKeepTheEmbeddedBrokerAtWarnAndCallguardAtInfoByDefault() throws Exception {
        // Given the logback.xml the launcher ships (not the tests' logback-test.xml)
        LoggerContext context = new LoggerContext();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(LoggingSetup.class.getResource("/logback.xml"));

        // Then Kafka's broker and client loggers are quiet and callguard's decisions are at INFO
        assertThat(context.getLogger("kafka.server.KafkaRaftServer").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("org.apache.kafka.clients.consumer.ConsumerConfig").getEffectiveLevel()
                .isGreaterOrEqual(Level.WARN)).isTrue();
        assertThat(context.getLogger("state.change.logger").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("io.callguard.processor.internal.CallStateProcessor").getEffectiveLevel())
                .isEqualTo(Level.INFO);
        context.stop();
    }
}
