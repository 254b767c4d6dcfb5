package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Docker image's class-data archive, made and mapped here without Docker: the training script the Dockerfile
 * runs at image build ({@code deploy/cds-archive.sh}) with the image's own JVM options (read from the Dockerfile's
 * ENTRYPOINT), on the packaged jar; then a JVM with those options and {@code -Xshare:on} (which refuses to start
 * when the archive does not map) loads callguard's classes from it.
 */
@Tag("integration")
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class ImageClassDataIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path JAR = Path.of("target", "callguard.jar").toAbsolutePath();
    private static final Pattern ENTRYPOINT = Pattern.compile("(?m)^ENTRYPOINT (\\[.*\\])$");

    @TempDir
    Path dir;

    @Test
    void shouldTrainTheImagesArchiveWithItsOptionsAndMapIt() throws Exception {
        // Given the image's JVM options, less the archive it maps
        Matcher entrypoint = ENTRYPOINT.matcher(Files.readString(ROOT.resolve("Dockerfile")));
        assertThat(entrypoint.find()).as("the Dockerfile's ENTRYPOINT").isTrue();
        List<String> options = new ArrayList<>();
        for (JsonNode arg : Json.mapper().readTree(entrypoint.group(1))) {
            options.add(arg.asText());
        }
        options = new ArrayList<>(options.subList(1, options.indexOf("-jar")));
        assertThat(options.removeIf(o -> o.startsWith("-XX:SharedArchiveFile="))).isTrue();

        // When the training script records the archive, as the image build runs it
        Path archive = dir.resolve("cds").resolve("callguard.jsa");
        List<String> train = new ArrayList<>(List.of(ROOT.resolve("deploy/cds-archive.sh").toString(),
                archive.toString(), java()));
        train.addAll(options);
        train.addAll(List.of("-jar", JAR.toString()));
        Process training = new ProcessBuilder(train).redirectErrorStream(true)
                .redirectOutput(dir.resolve("training.log").toFile()).start();
        assertThat(training.waitFor(540, TimeUnit.SECONDS)).as("training within 9 minutes").isTrue();
        String trainingLog = Files.readString(dir.resolve("training.log"));
        assertThat(training.exitValue()).as(tail(trainingLog)).isZero();
        assertThat(trainingLog).contains("cds-archive: " + archive + " written");
        assertThat(Files.size(archive)).isPositive();

        // Then a JVM with the image's options maps it (-Xshare:on: it would refuse to start otherwise) and loads the
        // gateway's classes from it, not from the jar
        List<String> mapped = new ArrayList<>(List.of(java()));
        mapped.addAll(options);
        mapped.addAll(List.of("-XX:SharedArchiveFile=" + archive, "-Xshare:on",
                "-Xlog:class+load=info:file=" + dir.resolve("classes.log"), "-jar", JAR.toString(), "config-docs"));
        Process run = new ProcessBuilder(mapped).redirectErrorStream(true)
                .redirectOutput(dir.resolve("run.log").toFile()).start();
        assertThat(run.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(run.exitValue()).as(tail(Files.readString(dir.resolve("run.log")))).isZero();
        List<String> loaded = Files.readAllLines(dir.resolve("classes.log"));
        assertThat(loaded).anyMatch(l -> l.contains("io.callguard.cli.Main source: shared objects file (top)"));
        assertThat(loaded).anyMatch(l -> l.contains("io.callguard.app.config.GatewayConfig source: shared objects file"));
    }

    private static String tail(String log) {
        return log.substring(Math.max(0, log.length() - 4_000));
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }
}
