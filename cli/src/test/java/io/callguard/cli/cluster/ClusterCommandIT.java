package io.callguard.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.callguard.app.Gateway;
import io.callguard.app.TopicBootstrap;
import io.callguard.app.config.GatewayConfig;
import io.callguard.common.TopicReplication;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code callguard cluster} for real: three KRaft nodes, each in its own process started by the packaged launcher;
 * a node killed with SIGKILL and started again by the cluster command; topics replicated as configured; the whole
 * cluster stopped by SIGTERM and started again on the same data.
 */
@Tag("integration")
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ClusterCommandIT {


    @TempDir
    Path dir;

    private final List<RehearsalCluster> clusters = new ArrayList<>();

    @AfterEach
    void stopAll() throws Exception {
        for (RehearsalCluster c : clusters) {
            c.close();
        }
    }

    @Test
    void shouldRunThreeBrokersThatSurviveAKilledNodeAndARestartOfTheWhole() throws Exception {
        // Given a cluster of three, started by the launcher, that starts a killed node again after a second
        RehearsalCluster cluster = start();
        assertThat(cluster.pids()).hasSize(3).doesNotContain(cluster.process().pid()).doesNotHaveDuplicates();
        for (long pid : cluster.pids()) {
            assertThat(ProcessHandle.of(pid)).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());
        }
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", cluster.bootstrap()))) {
            assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(3);
            admin.createTopics(List.of(new NewTopic("t", Optional.of(1), Optional.empty()))).all()
                    .get(30, TimeUnit.SECONDS);
            // The brokers' defaults are the ones a three-node cluster should have: three replicas, two in sync
            // (a topic just created reaches every broker's metadata a moment later: asked until it is there)
            await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() ->
                    assertThat(describe(admin, "t").partitions().get(0).replicas()).hasSize(3));
            assertThat(topicConfig(admin, "t", "min.insync.replicas")).isEqualTo("2");
            produce(cluster.bootstrap(), "before");

            // When one node is killed with SIGKILL
            long victim = cluster.pids().get(1);
            ProcessHandle.of(victim).orElseThrow().destroyForcibly();

            // Then acknowledged writes go on with two of three, the cluster command reports the exit and starts
            // the node again, and it rejoins the in-sync replicas
            produce(cluster.bootstrap(), "while-one-is-down");
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(cluster.lines())
                    .anyMatch(l -> l.startsWith("broker 2 exited")).anyMatch(l -> l.startsWith("broker 2 restarted: pid=")));
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() ->
                    assertThat(describe(admin, "t").partitions().get(0).isr()).hasSize(3));
        }

        // When the whole cluster gets SIGTERM
        List<ProcessHandle> nodes = cluster.process().descendants().filter(h -> h.info().command().isPresent()).toList();
        cluster.process().destroy();

        // Then it stops every node and exits
        assertThat(cluster.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
        await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream().noneMatch(ProcessHandle::isAlive));

        // When it starts again on the same data dir
        RehearsalCluster again = start();

        // Then it is the same cluster: same addresses, and every acknowledged record is still there
        assertThat(again.bootstrap()).isEqualTo(cluster.bootstrap());
        assertThat(consume(again.bootstrap(), "t", 2)).containsExactly("before", "while-one-is-down");
    }

    @Test
    void shouldReplicateEveryTopicTheGatewayCreatesAsConfiguredAndSayWhereExistingOnesDisagree() throws Exception {
        // Given a cluster of three
        RehearsalCluster cluster = start();

        // When a gateway starts on it with three replicas, two in sync
        Path data = dir.resolve("gw");
        Map<String, String> values = Map.of("data.dir", data.toString(), "bootstrap.servers", cluster.bootstrap(),
                "http.port", "0", "retell.api-key", "k", "socket.token", "t", "topics.partitions", "2",
                "topics.replication-factor", "3", "topics.min-insync-replicas", "2", "admin.port", "0");
        try (Gateway gateway = new Gateway(GatewayConfig.of(values), Clock.systemUTC()).start();
             Admin admin = Admin.create(Map.of("bootstrap.servers", cluster.bootstrap()))) {
            await().atMost(Duration.ofSeconds(90)).until(() -> gateway.processor().isRunning());

            // Then callguard's topics and Streams' internal ones (changelogs) have three replicas and min ISR 2
            String appId = gateway.config().processor().applicationId();
            // Streams creates its changelogs at its first assignment
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(admin.listTopics().names()
                    .get(30, TimeUnit.SECONDS)).anyMatch(n -> n.startsWith(appId + "-") && n.endsWith("-changelog")));
            Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<String> ours = names.stream().filter(n -> n.startsWith("callguard.") || n.startsWith(appId + "-"))
                    .toList();
            assertThat(ours).contains("callguard.call-events");
            for (String name : ours) {
                assertThat(describe(admin, name).partitions()).as(name)
                        .allSatisfy(p -> assertThat(p.replicas()).hasSize(3));
                assertThat(topicConfig(admin, name, "min.insync.replicas")).as(name).isEqualTo("2");
            }

            // And a configuration that disagrees with the existing topics is told which ones
            List<String> mismatches = TopicBootstrap.replicationMismatches(admin, ours,
                    new TopicReplication((short) 1, 1), 30_000);
            assertThat(mismatches).hasSize(ours.size() * 2)
                    .anyMatch(l -> l.contains("callguard.call-events has 3 replica(s) but topics.replication-factor=1"))
                    .anyMatch(l -> l.contains("min.insync.replicas=2 but topics.min-insync-replicas=1"));
        }
    }

    private RehearsalCluster start() {
        RehearsalCluster c = RehearsalCluster.start(dir.resolve("cluster"), dir.resolve("cluster-stderr.log"), "1s");
        clusters.add(c);
        return c;
    }

    private static TopicDescription describe(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
    }

    private static String topicConfig(Admin admin, String topic, String key) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigEntry e = admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r).get(key);
        return e == null ? null : e.value();
    }

    private static void produce(String bootstrap, String value) throws Exception {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap,
                "acks", "all", "delivery.timeout.ms", "60000"), new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>("t", "k", value)).get(60, TimeUnit.SECONDS);
        }
    }

    private static List<String> consume(String bootstrap, String topic, int count) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap),
                new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(Set.of(tp));
            consumer.seekToBeginning(Set.of(tp));
            List<String> seen = new ArrayList<>();
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach((ConsumerRecord<String, String> r) -> seen.add(r.value()));
                return seen.size() >= count;
            });
            return seen;
        }
    }
}
