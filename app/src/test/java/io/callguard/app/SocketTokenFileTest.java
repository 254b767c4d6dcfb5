package io.callguard.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketTokenFileTest {

    @TempDir
    Path dataDir;

    @Test
    void shouldMakeAnOwnerOnlyUrlSafeTokenOnceAndReadTheSameOneAfter() throws Exception {
        // Given an empty data dir
        // When the token is asked for twice, as two starts on the same data dir do
        SocketTokenFile.Token first = SocketTokenFile.loadOrCreate(dataDir);
        SocketTokenFile.Token second = SocketTokenFile.loadOrCreate(dataDir);

        // Then the first start made it, 32 URL-safe characters from 24 random bytes, and the second read it back
        assertThat(first.created()).isTrue();
        assertThat(first.value()).matches("[A-Za-z0-9_-]{32}");
        assertThat(second.created()).isFalse();
        assertThat(second.value()).isEqualTo(first.value());
        assertThat(first.file()).isEqualTo(dataDir.resolve("socket-token"));
        // And only the owner may read it, and nothing half-written is left beside it
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(first.file()))).isEqualTo("rw-------");
        assertThat(Files.readString(first.file())).isEqualTo(first.value() + "\n");
        try (Stream<Path> files = Files.list(dataDir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("socket-token");
        }
        // And the token never shows in how the record prints
        assertThat(first.toString()).doesNotContain(first.value());
    }

    @Test
    void shouldMakeADifferentTokenForAnotherDataDir(@TempDir Path other) {
        assertThat(SocketTokenFile.loadOrCreate(other).value())
                .isNotEqualTo(SocketTokenFile.loadOrCreate(dataDir).value());
    }

    @Test
    void shouldKeepAnOperatorsOwnTokenWrittenWithANewline() throws Exception {
        // Given a token an operator put there, owner-only
        Path file = write("my-own.token~value_1\r\n", "rw-------");

        // When it is read, then it is used as it is
        assertThat(SocketTokenFile.loadOrCreate(dataDir).value()).isEqualTo("my-own.token~value_1");
        assertThat(Files.readString(file)).isEqualTo("my-own.token~value_1\r\n");
    }

    @Test
    void shouldRefuseATokenFileOthersMayReadNamingItAndNotQuotingTheToken() throws Exception {
        // Given a token file copied with the usual umask (readable by all)
        String secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        write(secret + "\n", "rw-r--r--");

        // When the gateway asks for it, then start-up is refused with what to do, and the file is left alone
        assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(dataDir.resolve("socket-token").toString())
                .hasMessageContaining("rw-r--r--")
                .hasMessageContaining("chmod 600")
                .hasMessageNotContaining(secret);
        assertThat(Files.readString(dataDir.resolve("socket-token"))).isEqualTo(secret + "\n");
    }

    @Test
    void shouldRefuseATokenFileOthersMayWrite() throws Exception {
        write("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n", "rw--w----");

        assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir)).hasMessageContaining("rw--w----");
    }

    @Test
    void shouldRefuseAnEmptyOrGarbledFileRatherThanSilentlyMakeANewToken() throws Exception {
        // Given an empty file (a crash of some other tool, a truncation)
        write("", "rw-------");
        assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir)).hasMessageContaining("is empty");

        // Given two lines, a token with a space, and one too short
        for (String garbled : new String[] {"CCCCCCCCCCCCCCCCCCCC\nDDDDDDDDDDDDDDDDDDDDD\n",
                "CCCCCCCCCC CCCCCCCCCCC", "short"}) {
            write(garbled, "rw-------");
            assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir))
                    .hasMessageContaining("does not hold one token")
                    .hasMessageNotContaining("CCCCCCCCCC").hasMessageNotContaining("short");
        }
        assertThat(Files.readString(dataDir.resolve("socket-token"))).isEqualTo("short");
    }

    @Test
    void shouldRefuseSomethingThatIsNotARegularFile() throws Exception {
        // Given a directory where the file should be
        Files.createDirectory(dataDir.resolve("socket-token"));

        assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir)).hasMessageContaining("not a regular file");
    }

    @Test
    void shouldRefuseADanglingLinkInsteadOfWritingThroughIt() throws Exception {
        // Given a link to a file that does not exist
        Files.createSymbolicLink(dataDir.resolve("socket-token"), dataDir.resolve("elsewhere"));

        assertThatThrownBy(() -> SocketTokenFile.loadOrCreate(dataDir)).hasMessageContaining("not a regular file");
        assertThat(dataDir.resolve("elsewhere")).doesNotExist();
    }

    @Test
    void shouldDeleteATemporaryFileACrashedStartLeftButNotARecentOne() throws Exception {
        // Given a temporary file left by a start that crashed an hour ago, and one another start is writing now
        Path old = Files.writeString(dataDir.resolve("socket-token.tmp-crashed"), "EEEEEEEEEEEEEEEEEEEE\n");
        Files.setLastModifiedTime(old, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        Path recent = Files.writeString(dataDir.resolve("socket-token.tmp-writing"), "");

        // When a start asks for the token
        SocketTokenFile.loadOrCreate(dataDir);

        // Then the crashed one is gone, the recent one left to its writer
        assertThat(old).doesNotExist();
        assertThat(recent).exists();
    }

    private Path write(String content, String permissions) throws Exception {
        Path file = dataDir.resolve("socket-token");
        Files.write(file, content.getBytes(StandardCharsets.UTF_8));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions));
        return file;
    }
}
