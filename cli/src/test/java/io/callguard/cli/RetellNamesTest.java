package io.callguard.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.callguard.retell.frames.InteractionType;
import io.callguard.retell.frames.ResponseType;
import io.callguard.retell.webhook.WebhookEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Retell's frame and event type names are spelled in retell only: no other module's main code has a string literal
 * equal to one (Javadoc and comments may mention them). The names come from retell's own constants.
 */
class RetellNamesTest {

    private static final Path ROOT = Path.of("..");
    private static final Pattern MODULE = Pattern.compile("<module>([^<]+)</module>");

    @Test
    void shouldSpellRetellNamesOnlyInRetell() throws IOException {
        // Given
        Set<String> names = checkedNames();
        List<Path> modules = modulesOtherThanRetell();

        // When
        List<String> offenders = new ArrayList<>();
        for (Path module : modules) {
            Path sources = module.resolve("src/main/java");
            if (!Files.isDirectory(sources)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(sources)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                    String text = Files.readString(file, StandardCharsets.UTF_8);
                    for (Literal literal : stringLiterals(text)) {
                        if (names.contains(literal.value())) {
                            offenders.add(ROOT.relativize(file) + ":" + literal.line() + " \"" + literal.value() + "\"");
                        }
                    }
                }
            }
        }

        // Then
        assertThat(modules).as("modules scanned").hasSizeGreaterThan(5);
        assertThat(offenders).as("string literals spelling Retell's names outside retell (use retell's constants)")
                .isEmpty();
    }

    @Test
    void shouldFindLiteralsButNotCommentsOrCharacters() {
        String source = """
                /** {@code "call_started"} in Javadoc is fine. */
                class A { // "call_ended" in a comment is fine
                    char q = '"';
                    String s = "a \\" b";
                    String t = "update_only";
                    /* "ping_pong" */ String u = "x";
                }
                """;

        assertThat(stringLiterals(source)).extracting(Literal::value).containsExactly("a \\\" b", "update_only", "x");
        assertThat(stringLiterals(source)).filteredOn(l -> l.value().equals("update_only"))
                .extracting(Literal::line).containsExactly(5);
    }

    /**
     * Every interaction type, response type and webhook event with an underscore. The one-word response types
     * ({@code config}, {@code response}, {@code metadata}) are also Retell's field names and plain words
     * ({@code requireNonNull(config, "config")}), so a literal of one says nothing about where the protocol lives.
     */
    private static Set<String> checkedNames() {
        Set<String> names = new TreeSet<>();
        names.addAll(InteractionType.ALL);
        names.addAll(ResponseType.ALL);
        names.addAll(WebhookEvent.ALL);
        names.removeIf(name -> !name.contains("_"));
        assertThat(names).contains(InteractionType.RESPONSE_REQUIRED, ResponseType.AGENT_INTERRUPT,
                WebhookEvent.CALL_STARTED);
        return names;
    }

    private static List<Path> modulesOtherThanRetell() throws IOException {
        String pom = Files.readString(ROOT.resolve("pom.xml"), StandardCharsets.UTF_8);
        List<Path> modules = new ArrayList<>();
        Matcher m = MODULE.matcher(pom);
        while (m.find()) {
            String name = m.group(1).trim();
            if (!name.equals("retell")) {
                modules.add(ROOT.resolve(name));
            }
        }
        return modules;
    }

    private record Literal(String value, int line) {
    }

    /** The string literals of a Java source (text blocks skipped), with their lines; comments are not code. */
    private static List<Literal> stringLiterals(String src) {
        List<Literal> literals = new ArrayList<>();
        int line = 1;
        int i = 0;
        int n = src.length();
        while (i < n) {
            char c = src.charAt(i);
            if (c == '\n') {
                line++;
                i++;
            } else if (src.startsWith("//", i)) {
                while (i < n && src.charAt(i) != '\n') {
                    i++;
                }
            } else if (src.startsWith("/*", i)) {
                int end = src.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                line += count(src, i, end);
                i = end;
            } else if (src.startsWith("\"\"\"", i)) {
                int end = src.indexOf("\"\"\"", i + 3);
                end = end < 0 ? n : end + 3;
                line += count(src, i, end);
                i = end;
            } else if (c == '"' || c == '\'') {
                int start = ++i;
                while (i < n && src.charAt(i) != c && src.charAt(i) != '\n') {
                    i += src.charAt(i) == '\\' ? 2 : 1;
                }
                if (c == '"') {
                    literals.add(new Literal(src.substring(start, Math.min(i, n)), line));
                }
                i++;
            } else {
                i++;
            }
        }
        return literals;
    }

    private static int count(String src, int from, int to) {
        int lines = 0;
        for (int k = from; k < to; k++) {
            if (src.charAt(k) == '\n') {
                lines++;
            }
        }
        return lines;
    }
}
