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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
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
        Map<String, String> env = environment(callguard);

        // Every CALLGUARD_ variable is a declared key (an unknown one would stop start-up)
        GatewayConfig config = GatewayConfig.load(new ConfigSources(null, env, Map.of(), Map.of()));

        assertThat(env).containsKey(ConfigSources.RETELL_API_KEY_ENV);
        assertThat(config.common().bootstrapServers()).isEqualTo("kafka:9092");
        assertThat(config.common().topics().callEvents().name()).isEqualTo("callguard.call-events");
        assertThat(config.ingress().getString("http.host")).isEqualTo("0.0.0.0");

        // The public port is published on every address and is the health check's
        int port = config.ingress().httpPort();
        assertThat(callguard.get("ports").get(0).asText()).isEqualTo(port + ":" + port);
        assertThat(callguard.get("healthcheck").get("test").toString()).contains("localhost:" + port + "/readyz");

        // The admin listener listens on the compose network for Prometheus, behind a token compose insists on,
        // and is published on the host's loopback at most
        int adminPort = config.ingress().adminPort();
        assertThat(config.ingress().adminHost()).isEqualTo("0.0.0.0");
        assertThat(env.get(ConfigSources.envName("admin.token"))).isEqualTo("compose-secret");
        assertThat(callguard.get("environment").get(ConfigSources.envName("admin.token")).asText())
                .startsWith("${" + ConfigSources.envName("admin.token") + ":?");
        for (JsonNode published : callguard.get("ports")) {
            if (containerPort(published) == adminPort) {
                assertThat(published.asText()).as("the admin port published").startsWith("127.0.0.1:");
            }
        }

        // And Prometheus scrapes the admin port's /metrics with the same token, mounted as a compose secret
        JsonNode prometheus = YAML.readTree(ROOT.resolve("deploy/prometheus.yml").toFile());
        JsonNode job = prometheus.get("scrape_configs").get(0);
        assertThat(job.get("metrics_path").asText()).isEqualTo("/metrics");
        assertThat(job.get("static_configs").get(0).get("targets").get(0).asText()).isEqualTo("callguard:" + adminPort);
        assertThat(job.get("authorization").get("type").asText()).isEqualTo("Bearer");
        String secret = job.get("authorization").get("credentials_file").asText();
        assertThat(secret).startsWith("/run/secrets/");
        String secretName = secret.substring("/run/secrets/".length());
        assertThat(compose.get("services").get("prometheus").get("secrets").toString()).contains(secretName);
        assertThat(compose.get("secrets").get(secretName).get("environment").asText())
                .isEqualTo(ConfigSources.envName("admin.token"));

        // And the image exposes both listeners
        assertThat(Files.readString(ROOT.resolve("Dockerfile")))
                .containsPattern("(?m)^EXPOSE " + port + " " + adminPort + "$");

        // Kafka in compose is KRaft and advertises the address callguard is given
        JsonNode kafka = compose.get("services").get("kafka").get("environment");
        assertThat(kafka.get("KAFKA_PROCESS_ROLES").asText()).isEqualTo("broker,controller");
        assertThat(kafka.get("KAFKA_ADVERTISED_LISTENERS").asText()).contains("kafka:9092");
        assertThat(compose.get("services").get("kafka").get("image").asText()).startsWith("apache/kafka:");
    }

    @Test
    void shouldPublishNothingButThePublicListenerOnEveryAddress() throws Exception {
        // Given every port compose publishes
        JsonNode services = YAML.readTree(ROOT.resolve("docker-compose.yml").toFile()).get("services");
        int publicPort = GatewayConfig.of(Map.of()).ingress().httpPort();
        for (Iterator<Map.Entry<String, JsonNode>> it = services.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> service = it.next();
            for (JsonNode published : service.getValue().path("ports")) {
                // Then only callguard's public listener (either profile's) is on every address; the rest on the
                // host's loopback
                boolean callguard = service.getValue().has("build");
                if (!(callguard && containerPort(published) == publicPort)) {
                    assertThat(published.asText()).as(service.getKey() + " publishes " + published.asText())
                            .startsWith("127.0.0.1:");
                }
            }
        }
    }

    @Test
    void shouldRunTheClusterProfileOnThreeBrokersSetAsTheRehearsalClusterAndCallguardAsInTheSingleOne()
            throws Exception {
        // Given docker-compose.yml's services and the .env compose reads
        JsonNode services = YAML.readTree(ROOT.resolve("docker-compose.yml").toFile()).get("services");
        assertThat(Files.readAllLines(ROOT.resolve(".env"))).contains("COMPOSE_PROFILES=single");
        assertThat(services.get("kafka").get("profiles").toString()).isEqualTo("[\"single\"]");
        assertThat(services.get("callguard").get("profiles").toString()).isEqualTo("[\"single\"]");

        // Then the cluster profile has three KRaft nodes of one cluster and one quorum, each advertising its name
        List<String> advertised = new ArrayList<>();
        String clusterId = null;
        String voters = null;
        for (int n = 1; n <= 3; n++) {
            JsonNode node = services.get("kafka-" + n);
            assertThat(node).as("service kafka-" + n).isNotNull();
            assertThat(node.get("profiles").toString()).isEqualTo("[\"cluster\"]");
            JsonNode env = node.get("environment");
            assertThat(env.get("KAFKA_NODE_ID").asText()).isEqualTo(String.valueOf(n));
            assertThat(env.get("KAFKA_ADVERTISED_LISTENERS").asText()).isEqualTo("PLAINTEXT://kafka-" + n + ":9092");
            advertised.add("kafka-" + n + ":9092");
            clusterId = clusterId == null ? env.get("CLUSTER_ID").asText() : clusterId;
            voters = voters == null ? env.get("KAFKA_CONTROLLER_QUORUM_VOTERS").asText() : voters;
            assertThat(env.get("CLUSTER_ID").asText()).isEqualTo(clusterId);
            assertThat(env.get("KAFKA_CONTROLLER_QUORUM_VOTERS").asText()).isEqualTo(voters)
                    .isEqualTo("1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093");

            // And each node is set as `callguard cluster --brokers 3` sets its nodes: internal topics replicated
            // three times, two in sync, a dead node fenced as fast
            Properties rehearsal = io.callguard.app.broker.EmbeddedKafka.brokerProperties(Path.of("/tmp"), n, 9092,
                    9093, voters, 3, 1_048_576);
            for (String key : List.of("process.roles", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
                    "share.coordinator.state.topic.replication.factor", "share.coordinator.state.topic.min.isr",
                    "min.insync.replicas", "default.replication.factor", "broker.session.timeout.ms",
                    "broker.heartbeat.interval.ms", "group.initial.rebalance.delay.ms", "auto.create.topics.enable")) {
                String name = "KAFKA_" + key.toUpperCase(java.util.Locale.ROOT).replace('.', '_');
                assertThat(env.path(name).asText(null)).as("kafka-%d %s", n, name)
                        .isEqualTo(rehearsal.getProperty(key));
            }
        }

        // And callguard-cluster is callguard of the single profile on those three, with three replicas, two in sync
        Map<String, String> single = environment(services.get("callguard"));
        Map<String, String> cluster = environment(services.get("callguard-cluster"));
        GatewayConfig config = GatewayConfig.load(new ConfigSources(null, cluster, Map.of(), Map.of()));
        assertThat(config.common().bootstrapServers()).isEqualTo(String.join(",", advertised));
        assertThat(config.common().topicReplication().factor()).isEqualTo((short) 3);
        assertThat(config.common().topicReplication().minInsyncReplicas()).isEqualTo(2);
        for (String differs : List.of("bootstrap.servers", "topics.replication-factor", "topics.min-insync-replicas")) {
            single.remove(ConfigSources.envName(differs));
            cluster.remove(ConfigSources.envName(differs));
        }
        assertThat(cluster).isEqualTo(single);
        JsonNode built = services.get("callguard-cluster");
        for (String same : List.of("build", "ports", "healthcheck", "stop_grace_period")) {
            assertThat(built.get(same)).as(same).isEqualTo(services.get("callguard").get(same));
        }
        assertThat(built.get("depends_on").fieldNames()).toIterable().containsExactlyInAnyOrder("kafka-1", "kafka-2",
                "kafka-3");
        // (Prometheus scrapes `callguard`: the cluster's callguard answers to that name too)
        assertThat(built.get("networks").get("default").get("aliases").toString()).contains("\"callguard\"");
        JsonNode prometheus = services.get("prometheus").get("depends_on");
        for (String dependency : List.of("callguard", "callguard-cluster")) {
            assertThat(prometheus.get(dependency).get("required").asBoolean(true)).as(dependency).isFalse();
        }
    }

    /** A compose service's environment, secrets from the shell as {@code compose-secret}. */
    @Test
    void shouldGiveTheImageTheLaunchersClassDataArchiveTrainedWithTheOptionsThatMapIt() throws Exception {
        // Given the Dockerfile, its continued lines joined, and its ENTRYPOINT
        String dockerfile = Files.readString(ROOT.resolve("Dockerfile")).replace("\\\n", " ");
        java.util.regex.Matcher entrypoint = java.util.regex.Pattern.compile("(?m)^ENTRYPOINT (\\[.*\\])$")
                .matcher(dockerfile);
        assertThat(entrypoint.find()).isTrue();
        List<String> entry = new ArrayList<>();
        YAML.readTree(entrypoint.group(1)).forEach(arg -> entry.add(arg.asText()));
        assertThat(entry.get(0)).isEqualTo("java");
        int jar = entry.indexOf("-jar");
        List<String> options = new ArrayList<>(entry.subList(1, jar));

        // Then it maps one archive, as bin/callguard maps its own (Java 17: an AppCDS dynamic archive)
        List<String> mapped = options.stream().filter(o -> o.startsWith("-XX:SharedArchiveFile=")).toList();
        assertThat(mapped).hasSize(1);
        String archive = mapped.get(0).substring("-XX:SharedArchiveFile=".length());
        options.remove(mapped.get(0));
        String launcher = Files.readString(ROOT.resolve("bin/callguard"));
        assertThat(launcher).contains("-XX:ArchiveClassesAtExit=").contains("-XX:SharedArchiveFile=");

        // And the image build records that archive with the training script, run with exactly the ENTRYPOINT's other
        // JVM options and jar (an archive recorded otherwise is ignored), after the jar and lib/ are in place
        java.util.regex.Matcher training = java.util.regex.Pattern
                .compile("(?m)^RUN callguard-cds-archive (\\S+) java (.*) -jar (\\S+)\\s*$").matcher(dockerfile);
        assertThat(training.find()).as("the training run of the image build").isTrue();
        assertThat(training.group(1)).isEqualTo(archive);
        assertThat(List.of(training.group(2).trim().split("\\s+"))).isEqualTo(options);
        assertThat(training.group(3)).isEqualTo(entry.get(jar + 1));
        assertThat(dockerfile).containsPattern("(?m)^COPY deploy/cds-archive.sh /usr/local/bin/callguard-cds-archive$");
        assertThat(dockerfile.indexOf("COPY --from=build /src/cli/target/lib lib")).isNotNegative()
                .isLessThan(training.start());
        assertThat(options).contains("-XX:+UseZGC");

        // And the script is the launcher's mechanism: `run` recorded at its exit with -XX:ArchiveClassesAtExit
        Path script = ROOT.resolve("deploy/cds-archive.sh");
        assertThat(Files.isExecutable(script)).isTrue();
        assertThat(Files.readString(script)).contains("-XX:ArchiveClassesAtExit=\"$archive\"").contains(" run ")
                .contains("kill -TERM");
    }

    private static Map<String, String> environment(JsonNode service) {
        Map<String, String> env = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = service.get("environment").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            env.put(e.getKey(), e.getValue().asText().startsWith("${") ? "compose-secret" : e.getValue().asText());
        }
        return env;
    }

    /** The container side of a compose port mapping ({@code [host:]hostPort:containerPort}). */
    private static int containerPort(JsonNode published) {
        String[] parts = published.asText().split(":");
        return Integer.parseInt(parts[parts.length - 1].replaceFirst("/.*", ""));
    }

    @Test
    void shouldProvisionGrafanaWithThePrometheusOfComposeAndTheDashboardInTheRepository() throws Exception {
        // Given the grafana service of docker-compose.yml
        JsonNode services = YAML.readTree(ROOT.resolve("docker-compose.yml").toFile()).get("services");
        JsonNode grafana = services.get("grafana");
        assertThat(grafana).as("grafana service").isNotNull();
        assertThat(grafana.get("image").asText()).startsWith("grafana/grafana:");
        assertThat(grafana.get("ports").get(0).asText()).isEqualTo("127.0.0.1:3000:3000");
        assertThat(grafana.get("depends_on").toString()).contains("prometheus");

        // Then every mounted folder exists in the repository
        Map<String, Path> mounts = new HashMap<>();
        for (JsonNode volume : grafana.get("volumes")) {
            String[] parts = volume.asText().split(":");
            Path local = ROOT.resolve(parts[0]).normalize();
            assertThat(local).as("mounted " + parts[0]).isDirectory();
            mounts.put(parts[1], local);
        }
        Path provisioning = mounts.get("/etc/grafana/provisioning");
        assertThat(provisioning).as("provisioning mount").isNotNull();

        // And the datasource is compose's Prometheus, under the uid the dashboard's panels use
        JsonNode datasource = YAML.readTree(provisioning.resolve("datasources/prometheus.yml").toFile())
                .get("datasources").get(0);
        int prometheusPort = containerPort(services.get("prometheus").get("ports").get(0));
        assertThat(datasource.get("type").asText()).isEqualTo("prometheus");
        assertThat(datasource.get("url").asText()).isEqualTo("http://prometheus:" + prometheusPort);

        // And the dashboard provider reads the mounted dashboards folder, which holds the callguard dashboard
        String providerPath = YAML.readTree(provisioning.resolve("dashboards/callguard.yml").toFile())
                .get("providers").get(0).get("options").get("path").asText();
        assertThat(mounts).containsKey(providerPath);
        Path dashboardFile = mounts.get(providerPath).resolve("callguard.json");
        assertThat(dashboardFile).isRegularFile();
        JsonNode dashboard = new ObjectMapper().readTree(dashboardFile.toFile());
        assertThat(grafana.get("environment").get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH").asText())
                .isEqualTo(providerPath + "/callguard.json");
        assertThat(dashboard.get("panels").size()).isGreaterThanOrEqualTo(7);
        for (JsonNode panel : dashboard.get("panels")) {
            assertThat(panel.get("datasource").get("uid").asText()).as(panel.get("title").asText())
                    .isEqualTo(datasource.get("uid").asText());
            assertThat(panel.get("targets")).as(panel.get("title").asText()).isNotEmpty();
        }
    }
}
