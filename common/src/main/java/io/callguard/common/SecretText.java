package io.callguard.common;

import java.net.URI;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Text fit for a log line: the values of secret-bearing URL query parameters ({@code token}, {@code access_token},
 * {@code api_key}, {@code apikey}, {@code key}, {@code secret}, {@code password}, any case) replaced by
 * {@value #REDACTED}, wherever they occur in the text: in a URL logged on purpose, and in an exception's message
 * that quotes the URL (a failed WebSocket upgrade names the URI it asked for). Retell sends no auth header, so the
 * socket's secret travels in the query string; a URL is redacted before it is logged, never after.
 */
public final class SecretText {

    /** What a secret's value is replaced by. */
    public static final String REDACTED = "<redacted>";

    /**
     * {@code ?name=} or {@code &name=} (also percent-encoded as {@code %3F}/{@code %26}, as a URI quoted inside
     * another URL is), then the value up to the next separator, quote, space or bracket.
     */
    private static final Pattern SECRET_PARAMETER = Pattern.compile(
            "((?:[?&;]|%3[Ff]|%26)(?:token|access_token|api_key|apikey|key|secret|password)(?:=|%3[Dd]))"
                    + "[^&;#\\s\"'<>()\\[\\]{},]*",
            Pattern.CASE_INSENSITIVE);

    private SecretText() {
    }

    /** {@code text} with every secret query parameter's value redacted; null stays null. */
    public static String redact(String text) {
        if (text == null || text.isEmpty()) {
            return text;
        }
        Matcher m = SECRET_PARAMETER.matcher(text);
        return m.find() ? m.replaceAll("$1" + Matcher.quoteReplacement(REDACTED)) : text;
    }

    /** The URI as a string with its secret query parameters redacted. */
    public static String redact(URI uri) {
        return uri == null ? null : redact(uri.toString());
    }

    /** A failure as {@code toString()} gives it, redacted: for the log lines that quote an error. */
    public static String redact(Throwable error) {
        return error == null ? null : redact(error.toString());
    }
}
