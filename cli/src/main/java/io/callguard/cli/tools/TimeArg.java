package io.callguard.cli.tools;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the time arguments of the operator tools: an ISO time, or a duration back from now ({@code 10m}). */
public final class TimeArg {

    private static final Pattern AGO = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    private TimeArg() {
    }

    /**
     * The instant meant by {@code text}.
     *
     * @param text  {@code 2026-11-29T12:00:00Z}, {@code 2026-11-29T12:00:00+01:00}, {@code 2026-11-29} (UTC midnight),
     *              epoch milliseconds, or a duration back from {@code now}: {@code 500ms}, {@code 30s}, {@code 10m},
     *              {@code 2h}, {@code 1d}, or ISO-8601 {@code PT10M}
     * @param now   the current instant
     * @throws IllegalArgumentException naming the text and the forms allowed
     */
    public static Instant parse(String text, Instant now) {
        String t = text == null ? "" : text.trim();
        Matcher ago = AGO.matcher(t.toLowerCase(Locale.ROOT));
        try {
            if (ago.matches()) {
                long n = Long.parseLong(ago.group(1));
                Duration d = switch (ago.group(2)) {
                    case "ms" -> Duration.ofMillis(n);
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
                return now.minus(d);
            }
            if (t.startsWith("P") || t.startsWith("p")) {
                return now.minus(Duration.parse(t));
            }
            if (t.matches("\\d{10,}")) {
                return Instant.ofEpochMilli(Long.parseLong(t));
            }
            if (t.matches("\\d{4}-\\d{2}-\\d{2}")) {
                return LocalDate.parse(t).atStartOfDay().toInstant(ZoneOffset.UTC);
            }
            if (t.endsWith("Z") || t.endsWith("z")) {
                return Instant.parse(t.toUpperCase(Locale.ROOT));
            }
            return OffsetDateTime.parse(t).toInstant();
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException(bad(text));
        }
    }

    private static String bad(String text) {
        return "not a time: '" + text + "' (use an ISO time like 2026-11-29T12:00:00Z or 2026-11-29T13:00:00+01:00, "
                + "a date, epoch ms, or a duration back from now like 30s, 10m, 2h, 1d)";
    }
}
