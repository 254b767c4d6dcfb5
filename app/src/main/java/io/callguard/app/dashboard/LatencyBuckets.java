package io.callguard.app.dashboard;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Cumulative bucket counts of one timer name summed over all its tags, and quantiles read from them the way
 * Prometheus's {@code histogram_quantile} does (linear inside a bucket). Client-side percentiles of several
 * timers (one per response kind) cannot be combined; their buckets can.
 *
 * @param bucketsMs bucket upper bound in ms to the count of recordings at or below it
 * @param count     all recordings, including those above the last bound
 */
record LatencyBuckets(Map<Double, Double> bucketsMs, double count) {

    static final LatencyBuckets EMPTY = new LatencyBuckets(Map.of(), 0);

    /** Sums the buckets of {@code timers}, which must publish a percentile histogram with the same bounds. */
    static LatencyBuckets of(Collection<Timer> timers) {
        TreeMap<Double, Double> sum = new TreeMap<>();
        double count = 0;
        for (Timer t : timers) {
            for (CountAtBucket b : t.takeSnapshot().histogramCounts()) {
                if (!Double.isInfinite(b.bucket())) {
                    sum.merge(b.bucket(TimeUnit.MILLISECONDS), b.count(), Double::sum);
                }
            }
            count += t.count();
        }
        return new LatencyBuckets(sum, count);
    }

    /** What was recorded after {@code earlier} was taken. */
    LatencyBuckets since(LatencyBuckets earlier) {
        TreeMap<Double, Double> delta = new TreeMap<>();
        bucketsMs.forEach((bound, n) -> delta.put(bound, Math.max(0, n - earlier.bucketsMs.getOrDefault(bound, 0.0))));
        return new LatencyBuckets(delta, Math.max(0, count - earlier.count));
    }

    /**
     * The {@code q} quantile in ms, 0 when nothing was recorded; a quantile beyond the last bound answers that
     * bound, as Prometheus does.
     */
    double quantileMs(double q) {
        if (count <= 0) {
            return 0;
        }
        double rank = q * count;
        double lowerBound = 0;
        double lowerCount = 0;
        double last = 0;
        for (Map.Entry<Double, Double> b : new TreeMap<>(bucketsMs).entrySet()) {
            double bound = b.getKey();
            double n = b.getValue();
            if (n >= rank && n > lowerCount) {
                return lowerBound + (bound - lowerBound) * (rank - lowerCount) / (n - lowerCount);
            }
            lowerBound = bound;
            lowerCount = n;
            last = bound;
        }
        return last;
    }
}
