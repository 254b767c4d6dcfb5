package io.callguard.processor.responder;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * How a simulated agent backend streams, drawn per answer: a first chunk after a heavy-tailed (lognormal) wait,
 * then the answer's chunks at a fixed gap, and at the configured rates a hang, an error, or a stall mid-stream.
 * The {@code script} backend plays it in process and {@code callguard sim-llm} serves it as an OpenAI-compatible
 * stream, so both rehearse what hosted LLMs do (../shared/real-backends.md): a median of a few hundred ms, a p99
 * several times that, brown-outs that send nothing for many seconds, and 5xx errors.
 *
 * @param fixedDelayMs      added to every first chunk ({@code agent.script.delay-ms})
 * @param firstChunkMedianMs median of the lognormal part of the first-chunk wait; 0 for none
 * @param firstChunkP99Ms   its 99th percentile; at least the median (equal: no spread)
 * @param chunks            chunks per answer; 0 streams the answer's own words, one chunk each
 * @param chunkGapMs        wait between two chunks
 * @param hangRate          share of answers, 0 to 1, that never send anything (until cancelled)
 * @param errorRate         share of answers, 0 to 1, that fail at the first-chunk time
 * @param stallRate         share of answers, 0 to 1, that pause {@code stallMs} before a chunk in the middle
 * @param stallMs           length of such a pause
 */
public record SimulatedStream(long fixedDelayMs, long firstChunkMedianMs, long firstChunkP99Ms, int chunks,
                              long chunkGapMs, double hangRate, double errorRate, double stallRate, long stallMs) {

    /** The standard normal's 99th percentile: p99 = median * exp(sigma * Z99) for a lognormal. */
    static final double Z99 = 2.3263478740408408;
    /** No drawn first-chunk wait is longer than this, so one draw in the far tail cannot park a turn for hours. */
    static final long MAX_FIRST_CHUNK_MS = 120_000;

    /** Words that pad an answer to {@link #chunks()} when the answer itself is shorter. */
    private static final String[] PADDING = ("I can help you with that. Let me check the details for you and get back "
            + "with everything you need to know today.").split(" ");

    public SimulatedStream {
        requireNonNegative("fixed delay", fixedDelayMs);
        requireNonNegative("first-chunk median", firstChunkMedianMs);
        requireNonNegative("first-chunk p99", firstChunkP99Ms);
        if (firstChunkMedianMs > 0 && firstChunkP99Ms < firstChunkMedianMs) {
            throw new IllegalArgumentException("first-chunk p99 (" + firstChunkP99Ms
                    + " ms) must be at least the median (" + firstChunkMedianMs + " ms)");
        }
        if (chunks < 0 || chunks > 10_000) {
            throw new IllegalArgumentException("chunks must be 0 to 10000, was " + chunks);
        }
        requireNonNegative("chunk gap", chunkGapMs);
        requireRate("hang", hangRate);
        requireRate("error", errorRate);
        requireRate("stall", stallRate);
        requireNonNegative("stall", stallMs);
    }

    /** The stream the {@code agent.script.*} settings describe. */
    public static SimulatedStream of(ResponderConfig config) {
        return new SimulatedStream(config.scriptDelayMs(), config.scriptFirstChunkMedianMs(),
                config.scriptFirstChunkP99Ms(), config.scriptChunks(), config.scriptChunkGapMs(),
                config.scriptHangRate(), config.scriptFailureRate(), config.scriptStallRate(), config.scriptStallMs());
    }

    /** What happens to one answer. */
    public enum Outcome {
        /** The answer streams (possibly with a stall). */
        ANSWER,
        /** Nothing is ever sent. */
        HANG,
        /** The request fails at the first-chunk time (an HTTP 5xx for {@code sim-llm}). */
        ERROR
    }

    /**
     * One drawn answer: when each chunk goes, measured from the request.
     *
     * @param outcome   answer, hang or error
     * @param atMs      for an answer, the time of each chunk since the request; for an error, one entry: when it fails
     * @param chunks    the chunks' texts, as many as {@code atMs} for an answer; empty otherwise
     */
    public record Plan(Outcome outcome, List<Long> atMs, List<String> chunks) {

        public Plan {
            Objects.requireNonNull(outcome, "outcome");
            atMs = List.copyOf(atMs);
            chunks = List.copyOf(chunks);
        }

        /** The whole answer's text; empty unless the outcome is an answer. */
        public String text() {
            return String.join("", chunks);
        }
    }

    /**
     * Draws one answer's plan. Draws hang then error first (as the script always did, so a seed keeps its
     * sequence of outcomes), then the first-chunk wait and the stall only when they are configured.
     *
     * @param answer the text to stream
     * @param random the source of every draw; the caller synchronizes it if it is shared
     */
    public Plan plan(String answer, RandomGenerator random) {
        boolean hang = random.nextDouble() < hangRate;
        boolean error = random.nextDouble() < errorRate;
        long first = fixedDelayMs + drawFirstChunk(random);
        if (hang) {
            return new Plan(Outcome.HANG, List.of(), List.of());
        }
        if (error) {
            return new Plan(Outcome.ERROR, List.of(first), List.of());
        }
        List<String> pieces = chunksOf(answer);
        int stallBefore = -1;
        if (stallRate > 0 && random.nextDouble() < stallRate && pieces.size() > 1) {
            // In the middle of the answer: words already spoken, the rest held back.
            stallBefore = 1 + (pieces.size() - 1) / 2;
        }
        List<Long> at = new ArrayList<>(pieces.size());
        long t = first;
        for (int i = 0; i < pieces.size(); i++) {
            if (i > 0) {
                t += chunkGapMs;
            }
            if (i == stallBefore) {
                t += stallMs;
            }
            at.add(t);
        }
        return new Plan(Outcome.ANSWER, at, pieces);
    }

    private long drawFirstChunk(RandomGenerator random) {
        if (firstChunkMedianMs == 0) {
            return 0;
        }
        if (firstChunkP99Ms == firstChunkMedianMs) {
            return firstChunkMedianMs;
        }
        double sigma = Math.log((double) firstChunkP99Ms / firstChunkMedianMs) / Z99;
        double ms = firstChunkMedianMs * Math.exp(sigma * random.nextGaussian());
        return Math.min(MAX_FIRST_CHUNK_MS, Math.round(ms));
    }

    /**
     * The chunks of an answer: its words (each with the space after it), or exactly {@link #chunks()} words, the
     * answer padded with a stock sentence when it is shorter and its remaining words joined into the last chunk
     * when it is longer.
     */
    List<String> chunksOf(String answer) {
        List<String> words = words(answer);
        if (chunks == 0 || words.size() == chunks) {
            return words;
        }
        List<String> out = new ArrayList<>(chunks);
        if (words.size() > chunks) {
            out.addAll(words.subList(0, chunks - 1));
            out.add(String.join("", words.subList(chunks - 1, words.size())));
            return out;
        }
        out.addAll(words);
        String last = out.isEmpty() ? "" : out.get(out.size() - 1);
        if (!last.isEmpty() && !last.endsWith(" ")) {
            // A sentence-final word keeps its place; the padding starts a new sentence after it.
            out.set(out.size() - 1, last + (last.endsWith(".") || last.endsWith("?") || last.endsWith("!") ? " " : ". "));
        }
        for (int i = 0; out.size() < chunks; i++) {
            String word = PADDING[i % PADDING.length];
            boolean lastChunk = out.size() == chunks - 1;
            // The answer ends as a sentence does, wherever the padding stops.
            out.add(lastChunk ? (word.endsWith(".") ? word : word + ".") : word + " ");
        }
        return out;
    }

    /** Splits a text into chunks of one word each, keeping the space after each word. */
    static List<String> words(String text) {
        List<String> chunks = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == ' ') {
                chunks.add(text.substring(start, i + 1));
                start = i + 1;
            }
        }
        if (start < text.length()) {
            chunks.add(text.substring(start));
        }
        return chunks;
    }

    private static void requireNonNegative(String what, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(what + " must not be negative, was " + value);
        }
    }

    private static void requireRate(String what, double rate) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException(what + " rate must be 0 to 1, was " + rate);
        }
    }
}
