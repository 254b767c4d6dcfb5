package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.callguard.app.config.ConfigDocs;
import io.callguard.app.config.ConfigSources;
import io.callguard.app.config.GatewayConfig;
import io.callguard.schemas.Topic;
import io.callguard.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README and docker-compose.yml must say what the code does: checked against the declarations. */
class DocsAndDeploymentTest {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @Test
    void shouldDocumentEveryConfigKeyInTheReadmeExactlyAsDeclared() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        String table = ConfigDocs.markdownTable(GatewayConfig.definition());

        assertThat(readme)
                .as("README's configuration table; regenerate it with `bin/callguard config-docs`")
                .contains(table);
    }

    @Test
    void shouldNameTheTopicsOfTheCodeInTheReadme() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        for (Topic<String, ?> topic : Topics.defaults().all()) {
            assertThat(readme).contains("`" + topic.name() + "`");
        }
    }

    @Test
    void shouldConfigureCallguardInComposeOnlyWithKeysTheCodeKnows() throws Exception {
        JsonNode compose = YAML.readTree(ROOT.resolve("docker-compose.yml").toFile());
        JsonNode callguard = compose.get("services").get("callguard");
        Map<String, String> env = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = callguard.get("environment").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            env.put(e.getKey(), e.getValue().asText().startsWith("${") ? "compose-secret" : e.getValue().asText());
        }

        // Every CALLGUARD_ variable is a declared key (an unknown one would stop start-up)
        GatewayConfig config = GatewayConfig.load(new ConfigSources(null, env, Map.of(), Map.of()));

        assertThat(env).containsKey(ConfigSources.RETELL_API_KEY_ENV);
        assertThat(config.common().bootstrapServers()).isEqualTo("kafka:9092");
        assertThat(config.common().topics().callEvents().name()).isEqualTo("callguard.call-events");
        assertThat(config.ingress().getString("http.host")).isEqualTo("0.0.0.0");

        // The published port, the health check and Prometheus' target are the configured HTTP port
        int port = config.ingress().getInt("http.port");
        assertThat(callguard.get("ports").get(0).asText()).endsWith(":" + port);
        assertThat(callguard.get("healthcheck").get("test").toString()).contains("localhost:" + port + "/readyz");
        JsonNode prometheus = YAML.readTree(ROOT.resolve("deploy/prometheus.yml").toFile());
        JsonNode job = prometheus.get("scrape_configs").get(0);
        assertThat(job.get("metrics_path").asText()).isEqualTo("/metrics");
        assertThat(job.get("static_configs").get(0).get("targets").get(0).asText()).isEqualTo("callguard:" + port);

        // Kafka in compose is KRaft and advertises the address callguard is given
        JsonNode kafka = compose.get("services").get("kafka").get("environment");
        assertThat(kafka.get("KAFKA_PROCESS_ROLES").asText()).isEqualTo("broker,controller");
        assertThat(kafka.get("KAFKA_ADVERTISED_LISTENERS").asText()).contains("kafka:9092");
        assertThat(compose.get("services").get("kafka").get("image").asText()).startsWith("apache/kafka:");
    }
}
