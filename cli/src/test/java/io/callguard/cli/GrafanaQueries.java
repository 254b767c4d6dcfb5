package io.callguard.cli;

import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Takes the metric names out of a PromQL expression (enough PromQL for the dashboards we write). */
final class GrafanaQueries {

    private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Set<String> NOT_METRICS = Set.of(
            // aggregations and their modifiers
            "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
            "group", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset",
            // functions
            "rate", "irate", "increase", "delta", "idelta", "histogram_quantile", "abs", "clamp_min", "clamp_max",
            "clamp", "vector", "scalar", "label_replace", "label_join", "sort", "sort_desc", "time", "timestamp",
            "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "last_over_time", "absent",
            "ceil", "floor", "round", "resets", "changes", "deriv", "predict_linear", "sgn", "exp", "ln", "log2",
            "log10", "sqrt", "inf", "nan");

    private GrafanaQueries() {
    }

    static Set<String> metricNames(String promql) {
        String q = promql
                .replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")       // string literals
                .replaceAll("\\{[^}]*}", " ")                          // label matchers
                .replaceAll("\\[[^]]*]", " ")                          // range selectors
                .replaceAll("\\$__[a-z_]+", " ")                       // Grafana variables
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        Set<String> names = new TreeSet<>();
        Matcher m = IDENTIFIER.matcher(q);
        while (m.find()) {
            String id = m.group();
            int end = m.end();
            // a number's exponent or unit (1e3, 5m) is not an identifier; neither is a function call
            boolean precededByDigit = m.start() > 0 && Character.isDigit(q.charAt(m.start() - 1));
            if (!NOT_METRICS.contains(id.toLowerCase()) && !precededByDigit) {
                names.add(id);
            }
        }
        return names;
    }
}
