package io.callguard.cli.drill;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/** A self-contained HTML page with the drill's numbers and a latency-by-percentile plot (inline SVG). */
final class DrillHtml {

    private static final double[] PERCENTILES = {0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100};
    private static final int WIDTH = 760;
    private static final int HEIGHT = 360;
    private static final int PAD = 50;

    private DrillHtml() {
    }

    static String render(DrillReport report, DrillOptions options) {
        List<Map.Entry<String, Histogram>> series = List.of(Map.entry("first words", report.firstWords()),
                Map.entry("whole answer", report.turns()), Map.entry("webhook ack", report.webhooks()));
        String[] colors = {"#d62728", "#1f77b4", "#2ca02c"};
        double maxMs = 1;
        for (Map.Entry<String, Histogram> s : series) {
            maxMs = Math.max(maxMs, s.getValue().getMaxValue() / 1e6);
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d'>",
                WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<rect width='%d' height='%d' fill='white'/>", WIDTH, HEIGHT));
        // x: percentile on the usual 1/(1-p) log scale; y: latency in ms, linear.
        double xMax = Math.log10(1 / (1 - 0.9999));
        for (double p : PERCENTILES) {
            double x = x(p, xMax);
            svg.append(String.format(Locale.ROOT, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#ddd'/>", x, PAD, x,
                    HEIGHT - PAD));
            svg.append(String.format(Locale.ROOT, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>p%s</text>",
                    x, HEIGHT - PAD + 14, trim(p)));
        }
        for (int i = 0; i <= 4; i++) {
            double ms = maxMs * i / 4;
            double y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * i / 4;
            svg.append(String.format(Locale.ROOT, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#eee'/>", PAD, y,
                    WIDTH - PAD, y));
            svg.append(String.format(Locale.ROOT, "<text x='%d' y='%.1f' font-size='10' text-anchor='end'>%.1f ms</text>",
                    PAD - 4, y + 3, ms));
        }
        int c = 0;
        for (Map.Entry<String, Histogram> s : series) {
            Histogram h = s.getValue();
            if (h.getTotalCount() > 0) {
                StringBuilder points = new StringBuilder();
                for (double p : PERCENTILES) {
                    double ms = (p == 100 ? h.getMaxValue() : h.getValueAtPercentile(p)) / 1e6;
                    double y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * ms / maxMs;
                    points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(p, xMax), y));
                }
                svg.append(String.format(Locale.ROOT,
                        "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>", colors[c], points));
            }
            svg.append(String.format(Locale.ROOT, "<text x='%d' y='%d' font-size='12' fill='%s'>%s (n=%d)</text>",
                    PAD + 10, PAD - 30 + 14 * c, colors[c], s.getKey(), h.getTotalCount()));
            c++;
        }
        svg.append("</svg>");
        return "<!doctype html><html><head><meta charset='utf-8'><title>callguard drill</title>"
                + "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style></head><body>"
                + "<h1>callguard drill: " + (report.passed() ? "passed" : "FAILED") + "</h1>"
                + "<p>" + options.calls() + " calls (started over " + options.rampUp().toMillis() + " ms), "
                + options.duration().toSeconds() + " s each, the caller speaking again "
                + options.turnInterval().toMillis() + " ms after each whole answer, interrupting "
                + Math.round(options.interruptRate() * 100) + "% of turns, asking the agent to end "
                + Math.round(options.endCallRate() * 100) + "% and to transfer "
                + Math.round(options.transferRate() * 100) + "% of calls on turn " + Ending.TURN + ", budget "
                + options.budget().toMillis() + " ms, " + (options.webhooks() ? "" : "sockets only (no webhooks), ")
                + "target " + escape(options.describeTarget()) + "</p>"
                + heardTable(report)
                + countTable("How calls ended", "ending", report.endings())
                + (report.transferNumbers().isEmpty() ? ""
                        : countTable("Transferred to", "number", report.transferNumbers()))
                + countTable("Agent frames", "type", report.agentFrames())
                + svg + "<pre>" + escape(report.text()) + "</pre></body></html>";
    }

    /** What callers heard: one row per class with its count and share, and the whole-answer share. */
    private static String heardTable(DrillReport report) {
        long judged = report.judgedTurns();
        StringBuilder t = new StringBuilder("<h2>What callers heard</h2><p>Whole answers (whole + bridged): ");
        t.append(String.format(Locale.ROOT, "<b>%.1f%%</b> of %d turns</p>", report.wholeShare() * 100, judged));
        t.append("<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>heard</th><th>turns</th>"
                + "<th>share</th></tr>");
        for (Heard h : Heard.values()) {
            t.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td>%.1f%%</td></tr>", h.label(),
                    report.heard(h), judged == 0 ? 0.0 : report.heard(h) * 100.0 / judged));
        }
        return t.append("</table>").toString();
    }

    /** A heading and a two-column table of counts. */
    private static String countTable(String title, String what, Map<String, Long> counts) {
        StringBuilder t = new StringBuilder("<h2>").append(title).append("</h2>");
        t.append("<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>").append(what)
                .append("</th><th>count</th></tr>");
        counts.forEach((k, v) -> t.append("<tr><td>").append(escape(k)).append("</td><td>").append(v)
                .append("</td></tr>"));
        return t.append("</table>").toString();
    }

    private static double x(double p, double xMax) {
        double v = p >= 99.99 ? xMax : Math.log10(1 / (1 - p / 100));
        return PAD + (WIDTH - 2.0 * PAD) * v / xMax;
    }

    private static String trim(double p) {
        return p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
