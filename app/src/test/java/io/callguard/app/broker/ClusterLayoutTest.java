package io.callguard.app.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterLayoutTest {

    @TempDir
    Path dir;

    @Test
    void shouldLayOutDistinctPortsOnceAndReadTheSameLayoutAgain() {
        // Given a cluster of three laid out under a fresh directory
        ClusterLayout first = ClusterLayout.loadOrCreate(dir, 3);

        // When it is laid out again under the same directory
        ClusterLayout again = ClusterLayout.loadOrCreate(dir, 3);

        // Then every port is distinct, and the second start finds the same cluster id, ports and quorum
        Set<Integer> ports = new HashSet<>();
        for (int id = 1; id <= 3; id++) {
            ports.add(first.clientPort(id));
            ports.add(first.controllerPort(id));
            assertThat(again.clientPort(id)).isEqualTo(first.clientPort(id));
            assertThat(again.controllerPort(id)).isEqualTo(first.controllerPort(id));
        }
        assertThat(ports).hasSize(6);
        assertThat(again.clusterId()).isEqualTo(first.clusterId());
        assertThat(first.voters()).isEqualTo("1@127.0.0.1:" + first.controllerPort(1) + ",2@127.0.0.1:"
                + first.controllerPort(2) + ",3@127.0.0.1:" + first.controllerPort(3));
        assertThat(first.bootstrapServers().split(",")).hasSize(3);
        assertThat(first.nodeDir(2)).isEqualTo(dir.toAbsolutePath().resolve("broker-2"));
        assertThat(first.replicas()).isEqualTo(3);
    }

    @Test
    void shouldRefuseAnotherSizeOverAnExistingLayout() {
        ClusterLayout.loadOrCreate(dir, 3);

        assertThatThrownBy(() -> ClusterLayout.loadOrCreate(dir, 5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 brokers, not 5");
    }

    @Test
    void shouldRefuseAnOutOfRangeSizeAndAnUnknownNode() {
        assertThatThrownBy(() -> ClusterLayout.loadOrCreate(dir, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ClusterLayout.loadOrCreate(dir, ClusterLayout.MAX_NODES + 1))
                .isInstanceOf(IllegalArgumentException.class);
        ClusterLayout layout = ClusterLayout.loadOrCreate(dir, 1);
        assertThatThrownBy(() -> layout.clientPort(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no broker 2");
        assertThat(layout.replicas()).isEqualTo(1);
    }

    @Test
    void shouldNameTheFileOfADamagedLayout() throws Exception {
        ClusterLayout.loadOrCreate(dir, 3);
        Path file = dir.resolve(ClusterLayout.FILE);
        Files.writeString(file, Files.readString(file).replaceAll("node\\.2\\.client-port=\\d+", "node.2.client-port=x"));

        assertThatThrownBy(() -> ClusterLayout.load(dir)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(ClusterLayout.FILE).hasMessageContaining("damaged");
        assertThatThrownBy(() -> ClusterLayout.load(dir.resolve("nowhere"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no readable cluster layout");
    }
}
