package io.callguard.processor.responder.internal;

import io.callguard.processor.responder.ResponderConfig;
import io.callguard.processor.responder.ResponderMetrics;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.micrometer.tagged.TaggedBulkheadMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import io.github.resilience4j.timelimiter.TimeLimiter;
import io.github.resilience4j.timelimiter.TimeLimiterConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The resilience4j instances around the agent backend, built from config and bound to Micrometer.
 *
 * <ul>
 *   <li>Circuit breaker, count-based window, opening on failure rate and on slow-call rate; its clock is
 *       the injected one. Open to half-open happens on the first call after the wait (no automatic
 *       transition: that would need resilience4j's own timer thread and real time).</li>
 *   <li>Bulkhead: semaphore, no waiting.</li>
 *   <li>Retry: randomized exponential backoff (multiplier 2); errors and first-chunk time-outs are retried,
 *       open circuits and {@link NotRetriedException} never.</li>
 *   <li>Time limiter on each attempt's first chunk ({@code responder.first-chunk-timeout-ms}): it bounds the wait
 *       for the first words, never the length of a streaming answer.</li>
 * </ul>
 */
public final class BackendResilience {

    private static final Logger LOG = LoggerFactory.getLogger(BackendResilience.class);

    /** Name of the primary backend's resilience4j instances; the {@code name} tag of their metrics. */
    public static final String NAME = "agent-backend";
    /** Name of the fallback backend's instances. */
    public static final String FALLBACK_NAME = "agent-fallback";
    static final double BACKOFF_MULTIPLIER = 2.0;

    private final CircuitBreaker circuitBreaker;
    private final Bulkhead bulkhead;
    private final Retry retry;
    private final long initialBackoffMs;
    private final double randomizationFactor;
    private final Counter limiterSuccessful;
    private final Counter limiterFailed;
    private final Counter limiterTimeout;
    private final TimeLimiter firstChunkLimiter;
    private final long firstChunkTimeoutMs;

    private final String name;

    /** The primary backend's instances, named {@value #NAME}. */
    public BackendResilience(ResponderConfig config, Clock clock, MeterRegistry meters) {
        this(config, clock, meters, NAME);
    }

    /** @param name the instances' name and the {@code name} tag of their metrics */
    public BackendResilience(ResponderConfig config, Clock clock, MeterRegistry meters, String name) {
        this.name = name;
        CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(config.breakerSlidingWindowSize())
                .minimumNumberOfCalls(config.breakerMinimumCalls())
                .failureRateThreshold(config.breakerFailureRateThreshold())
                .slowCallRateThreshold(config.breakerSlowCallRateThreshold())
                .slowCallDurationThreshold(Duration.ofMillis(config.breakerSlowCallDurationMs()))
                .waitDurationInOpenState(Duration.ofMillis(config.breakerWaitInOpenMs()))
                .permittedNumberOfCallsInHalfOpenState(config.breakerPermittedCallsInHalfOpen())
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .clock(clock)
                .build());
        circuitBreaker = breakers.circuitBreaker(name);
        circuitBreaker.getEventPublisher().onStateTransition(event -> {
            String from = event.getStateTransition().getFromState().name().toLowerCase(Locale.ROOT);
            String to = event.getStateTransition().getToState().name().toLowerCase(Locale.ROOT);
            if (event.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
                CircuitBreaker.Metrics m = circuitBreaker.getMetrics();
                LOG.info("circuit breaker {}: {} -> {} (failure rate {}%, slow-call rate {}% over {} calls)", name,
                        from, to, m.getFailureRate(), m.getSlowCallRate(), m.getNumberOfBufferedCalls());
            } else {
                LOG.info("circuit breaker {}: {} -> {}", name, from, to);
            }
            meters.counter(ResponderMetrics.BREAKER_TRANSITIONS, ResponderMetrics.TAG_NAME, name,
                    ResponderMetrics.TAG_FROM, from, ResponderMetrics.TAG_TO, to).increment();
        });

        BulkheadRegistry bulkheads = BulkheadRegistry.of(BulkheadConfig.custom()
                .maxConcurrentCalls(config.maxConcurrent())
                .maxWaitDuration(Duration.ZERO)
                .build());
        bulkhead = bulkheads.bulkhead(name);

        initialBackoffMs = config.retryInitialBackoffMs();
        randomizationFactor = config.retryRandomizationFactor();
        RetryRegistry retries = RetryRegistry.of(RetryConfig.custom()
                .maxAttempts(config.retryMaxAttempts())
                .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(initialBackoffMs, BACKOFF_MULTIPLIER,
                        randomizationFactor))
                .retryOnException(BackendResilience::retryable)
                .failAfterMaxAttempts(false)
                .build());
        retry = retries.retry(name);

        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
        TaggedBulkheadMetrics.ofBulkheadRegistry(bulkheads).bindTo(meters);
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        // The limiter is built alone, with no registry for resilience4j's binder to follow; the same counters are
        // kept here, under its names.
        limiterSuccessful = limiterCounter(meters, "successful");
        limiterFailed = limiterCounter(meters, "failed");
        limiterTimeout = limiterCounter(meters, "timeout");
        firstChunkTimeoutMs = config.firstChunkTimeoutMs();
        firstChunkLimiter = timeLimiterFor(firstChunkTimeoutMs);
    }

    private Counter limiterCounter(MeterRegistry meters, String kind) {
        return Counter.builder(ResponderMetrics.TIME_LIMITER_CALLS).tag(ResponderMetrics.TAG_NAME, name)
                .tag(ResponderMetrics.TAG_KIND, kind).description("Backend attempts by time limiter outcome")
                .register(meters);
    }

    private static boolean retryable(Throwable t) {
        // A first-chunk time-out is retried like an error: nothing of the attempt was said.
        return !(t instanceof CallNotPermittedException || t instanceof NotRetriedException);
    }

    /** The instances' name: which backend they guard. */
    public String name() {
        return name;
    }

    public CircuitBreaker circuitBreaker() {
        return circuitBreaker;
    }

    public Bulkhead bulkhead() {
        return bulkhead;
    }

    public Retry retry() {
        return retry;
    }

    /** The limiter of an attempt's first chunk: it fails with a TimeoutException after the first-chunk timeout. */
    TimeLimiter firstChunkLimiter() {
        return firstChunkLimiter;
    }

    long firstChunkTimeoutMs() {
        return firstChunkTimeoutMs;
    }

    private TimeLimiter timeLimiterFor(long remainingMs) {
        TimeLimiter limiter = TimeLimiter.of(name, TimeLimiterConfig.custom()
                .timeoutDuration(Duration.ofMillis(remainingMs))
                .cancelRunningFuture(true)
                .build());
        limiter.getEventPublisher()
                .onSuccess(e -> limiterSuccessful.increment())
                .onError(e -> limiterFailed.increment())
                .onTimeout(e -> limiterTimeout.increment());
        return limiter;
    }

    /**
     * The longest backoff the retry can draw after {@code failedAttempts} failures:
     * initial x 2^(n-1) x (1 + randomization factor), plus the 1 ms resilience4j's rounding may add.
     */
    long worstCaseBackoffMs(int failedAttempts) {
        double nominal = initialBackoffMs * Math.pow(BACKOFF_MULTIPLIER, Math.min(Math.max(failedAttempts - 1, 0), 30));
        return (long) Math.ceil(nominal * (1 + randomizationFactor)) + 1;
    }

    /** Marks a failure the retry must not repeat (nothing left of the budget, or part of the answer already spoken). */
    static final class NotRetriedException extends RuntimeException {
        NotRetriedException(String why, Throwable cause) {
            super(why, cause, false, false);
        }
    }
}
