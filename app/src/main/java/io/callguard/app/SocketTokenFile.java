package io.callguard.app;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The LLM WebSocket token of a gateway with no {@code socket.token} configured: made once and kept in the data dir
 * ({@value #FILE_NAME}), so a restart on the same data dir keeps the URL set in Retell's agent. The token is a
 * secret: it is printed on the ready line only, and no message of this class quotes it.
 *
 * <p>Decisions, at start:
 * <ul>
 *   <li>no file: 24 bytes of {@link SecureRandom}, base64url without padding (32 characters, safe in a query string
 *       unencoded), written to a temporary file in the data dir that is owner-only (0600) from its creation, forced
 *       to disk, then linked into place (a hard link, which refuses to replace a file another process made first;
 *       an atomic rename where links are not supported). A crash leaves no token file or a whole one, never half
 *       of one; a stray temporary file (older than a minute) is deleted at a later start;</li>
 *   <li>a file holding one token (16 to 256 of {@code A-Z a-z 0-9 - . _ ~}, an operator's own included; one trailing
 *       newline allowed): used;</li>
 *   <li>a file that cannot be read, is not a regular file, is empty or holds anything else: start-up is refused,
 *       naming the file. Making a new token instead would silently break the URL in Retell's agent; deleting the
 *       file asks for a new one;</li>
 *   <li>a file group or others may read or write (POSIX file systems): start-up is refused, as ssh refuses an
 *       unprotected key: the secret may have leaked, and whoever may write it chooses who gets in. {@code chmod 600}
 *       keeps it; deleting it makes a new one. File systems without POSIX permissions are not checked.</li>
 * </ul>
 */
public final class SocketTokenFile {

    /** The token's file, in the data dir. */
    public static final String FILE_NAME = "socket-token";
    private static final String TEMP_PREFIX = FILE_NAME + ".tmp-";
    private static final int TOKEN_BYTES = 24;
    private static final int MAX_FILE_BYTES = 4096;
    private static final long STRAY_AGE_MS = 60_000;
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9._~-]{16,256}");
    private static final Set<PosixFilePermission> OWNER_ONLY =
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    private static final Set<PosixFilePermission> SHARED = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);
    private static final SecureRandom RANDOM = new SecureRandom();

    /**
     * The token in force and where it is kept.
     *
     * @param created true when this start made it (a new URL for Retell's agent)
     */
    public record Token(String value, Path file, boolean created) {

        @Override
        public String toString() {
            // A record prints its fields: this one must not print the secret.
            return "Token[file=" + file + ", created=" + created + "]";
        }
    }

    private SocketTokenFile() {
    }

    /**
     * The token kept in {@code dataDir}, made and kept there first when there is none.
     *
     * @param dataDir an existing directory
     * @throws IllegalStateException naming the file and what to do, when it exists but is unusable (see the class
     *                               comment), or when a new one cannot be written
     */
    public static Token loadOrCreate(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        deleteStrayTemporaryFiles(dataDir);
        if (!Files.exists(file) && !Files.isSymbolicLink(file)) {
            String made = create(dataDir, file);
            if (made != null) {
                return new Token(made, file, true);
            }
            // Another process on the same data dir made it first: its token is the one.
        }
        return new Token(read(file), file, false);
    }

    private static String read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw refused(file, "is not a regular file", "remove it");
        }
        PosixFileAttributeView posix = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (posix != null) {
            Set<PosixFilePermission> permissions;
            try {
                permissions = posix.readAttributes().permissions();
            } catch (IOException e) {
                throw refused(file, "has permissions that cannot be read (" + e.getMessage() + ")",
                        "check the data dir's ownership");
            }
            Set<PosixFilePermission> shared = EnumSet.noneOf(PosixFilePermission.class);
            shared.addAll(permissions);
            shared.retainAll(SHARED);
            if (!shared.isEmpty()) {
                throw refused(file, "may be read or written by others (" + PosixFilePermissions.toString(permissions)
                        + "): the secret may have leaked", "run chmod 600 on it to keep it");
            }
        }
        byte[] bytes;
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw refused(file, "is over " + MAX_FILE_BYTES + " bytes: it holds no token", "remove it");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw refused(file, "cannot be read (" + e + ")", "fix its ownership and permissions (600)");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.endsWith("\n")) {
            text = text.substring(0, text.length() - (text.endsWith("\r\n") ? 2 : 1));
        }
        if (text.isEmpty()) {
            throw refused(file, "is empty", "remove it");
        }
        if (!VALID.matcher(text).matches()) {
            throw refused(file, "does not hold one token (16 to 256 of A-Z a-z 0-9 - . _ ~ on one line)",
                    "put the token back or remove the file");
        }
        return text;
    }

    /** Writes a new token into place; null when another process's file was there first. */
    private static String create(Path dataDir, Path file) {
        byte[] random = new byte[TOKEN_BYTES];
        RANDOM.nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        Path temp = dataDir.resolve(TEMP_PREFIX + Long.toUnsignedString(RANDOM.nextLong(), 36));
        try {
            boolean posix = Files.getFileStore(dataDir).supportsFileAttributeView(PosixFileAttributeView.class);
            FileAttribute<?>[] ownerOnly = posix
                    ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)} : new FileAttribute<?>[0];
            Files.createFile(temp, ownerOnly);
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                out.write(ByteBuffer.wrap((token + "\n").getBytes(StandardCharsets.UTF_8)));
                out.force(true);
            }
            try {
                Files.createLink(file, temp);
            } catch (FileAlreadyExistsException e) {
                return null;
            } catch (UnsupportedOperationException | IOException e) {
                // No hard links here (some network and container file systems): rename, which is atomic too.
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
            }
            syncDirectory(dataDir);
            return token;
        } catch (IOException e) {
            throw new IllegalStateException("cannot keep a new socket token in " + file + " (" + e
                    + "); make the data dir writable, or set socket.token", e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // Left behind: the next start deletes it.
            }
        }
    }

    /** Makes the new name durable; file systems that cannot open a directory for it are left as they are. */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | RuntimeException e) {
            // Not supported here (e.g. Windows): the rename is still atomic, only its durability is the OS's.
        }
    }

    /** Deletes what a crashed start left; a recent one may be another start's, being written now. */
    private static void deleteStrayTemporaryFiles(Path dataDir) {
        long before = System.currentTimeMillis() - STRAY_AGE_MS;
        try (DirectoryStream<Path> stray = Files.newDirectoryStream(dataDir, TEMP_PREFIX + "*")) {
            for (Path p : stray) {
                if (Files.getLastModifiedTime(p).toMillis() < before) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // A stray file holds a token nobody uses; failing to delete it must not stop the start.
        }
    }

    private static IllegalStateException refused(Path file, String problem, String remedy) {
        return new IllegalStateException("socket token file " + file + " " + problem + "; " + remedy
                + " (removing it makes a new token, and Retell's agent URL must then be updated), or set socket.token");
    }
}
