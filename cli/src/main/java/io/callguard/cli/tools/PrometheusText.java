package io.callguard.cli.tools;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A scrape of {@code GET /metrics} (Prometheus text format), read into series: for the load tools and tests. */
public final class PrometheusText {

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})?\\s+(\\S+).*$");

    /** Series as written ({@code name{labels}}) to their value. */
    private final Map<String, Double> series = new LinkedHashMap<>();
    private final Set<String> names = new TreeSet<>();

    public PrometheusText(String text) {
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            if (m.matches()) {
                names.add(m.group(1));
                series.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), parse(m.group(3)));
            }
        }
    }

    private static double parse(String v) {
        return switch (v) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(v);
        };
    }

    /** Every sample name in the scrape (histograms as their _bucket, _count and _sum series). */
    public Set<String> names() {
        return names;
    }

    /** The sum of every series of {@code name} carrying all {@code labels} ({@code key, value, ...}); 0 when none. */
    public double sum(String name, String... labels) {
        double total = 0;
        for (Map.Entry<String, Double> e : series.entrySet()) {
            if (matches(e.getKey(), name, labels) && !Double.isNaN(e.getValue())) {
                total += e.getValue();
            }
        }
        return total;
    }

    /**
     * The series of {@code name} summed by the value of one label, e.g. fallbacks by {@code reason}; series
     * without that label are left out.
     */
    public Map<String, Double> sumBy(String name, String label) {
        Pattern value = Pattern.compile("[{,]" + Pattern.quote(label) + "=\"([^\"]*)\"");
        Map<String, Double> out = new TreeMap<>();
        for (Map.Entry<String, Double> e : series.entrySet()) {
            if (matches(e.getKey(), name) && !Double.isNaN(e.getValue())) {
                Matcher m = value.matcher(e.getKey());
                if (m.find()) {
                    out.merge(m.group(1), e.getValue(), Double::sum);
                }
            }
        }
        return out;
    }

    /** Whether any series of {@code name} carries all {@code labels}. */
    public boolean has(String name, String... labels) {
        return series.keySet().stream().anyMatch(k -> matches(k, name, labels));
    }

    private static boolean matches(String key, String name, String... labels) {
        if (!key.equals(name) && !key.startsWith(name + "{")) {
            return false;
        }
        for (int i = 0; i + 1 < labels.length; i += 2) {
            String pair = labels[i] + "=\"" + labels[i + 1] + "\"";
            if (!key.contains("{" + pair) && !key.contains("," + pair)) {
                return false;
            }
        }
        return true;
    }
}
