package io.callguard.cli;

import io.callguard.cli.sim.SimulatedLlmServer;
import io.callguard.processor.responder.SimulatedStream;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code callguard sim-llm}: a simulated hosted LLM, OpenAI-compatible and streamed, for rehearsals and loads. */
@Command(name = "sim-llm", mixinStandardHelpOptions = true,
        description = {"Serve a simulated LLM at POST /v1/chat/completions (OpenAI-compatible, streamed with SSE), "
                + "streaming like a hosted model: a lognormal first chunk, chunks at a gap, and stalls, errors and "
                + "hangs at their rates. Point agent.openai.url (or a fallback backend) at it.",
            "It answers like the script backend: the greeting with no user message, else 'You said: <last user "
                    + "message>', padded to --chunks.",
            "Tool calls, when the request offers the tool and the last message is the caller's: 'bye' or "
                    + "'goodbye' calls end_call, 'transfer' calls transfer_call, 'order' calls lookup_order (else "
                    + "the first other tool offered), with arguments made from the tool's schema, streamed as "
                    + "OpenAI does (id and name first, the arguments in three pieces, finish_reason tool_calls). "
                    + "After a tool message it answers 'Here is what I found: <result>'."})
public final class SimLlmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--host", description = "Bind address (default ${DEFAULT-VALUE}).", defaultValue = "127.0.0.1")
    String host;

    @Option(names = "--port", description = "Port; 0 for any free one (default ${DEFAULT-VALUE}).",
            defaultValue = "8089")
    int port;

    @Option(names = "--first-chunk-median-ms", defaultValue = "300",
            description = "Median of the first-chunk wait (default ${DEFAULT-VALUE}).")
    long firstChunkMedianMs;

    @Option(names = "--first-chunk-p99-ms", defaultValue = "2000",
            description = "Its 99th percentile, lognormal (default ${DEFAULT-VALUE}).")
    long firstChunkP99Ms;

    @Option(names = "--chunks", defaultValue = "8", description = "Chunks per answer (default ${DEFAULT-VALUE}).")
    int chunks;

    @Option(names = "--chunk-gap-ms", defaultValue = "40",
            description = "Wait between chunks (default ${DEFAULT-VALUE}).")
    long chunkGapMs;

    @Option(names = "--stall-rate", defaultValue = "0",
            description = "Share of answers, 0 to 1, that stall mid-answer (default ${DEFAULT-VALUE}).")
    double stallRate;

    @Option(names = "--stall-ms", defaultValue = "20000", description = "Length of a stall (default ${DEFAULT-VALUE}).")
    long stallMs;

    @Option(names = "--error-rate", defaultValue = "0",
            description = "Share of requests, 0 to 1, answered HTTP 500 (default ${DEFAULT-VALUE}).")
    double errorRate;

    @Option(names = "--hang-rate", defaultValue = "0",
            description = "Share of requests, 0 to 1, that never answer (default ${DEFAULT-VALUE}).")
    double hangRate;

    @Option(names = "--greeting", defaultValue = "Hello! How can I help you today?",
            description = "The answer when the request has no user message.")
    String greeting;

    @Option(names = "--seed", description = "Seed of every draw, for a repeatable run (default: random).")
    Long seed;

    private final CountDownLatch stopped = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        SimulatedStream stream;
        try {
            stream = new SimulatedStream(0, firstChunkMedianMs, firstChunkP99Ms, chunks, chunkGapMs, hangRate,
                    errorRate, stallRate, stallMs);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (port < 0 || port > 65_535) {
            throw new ParameterException(spec.commandLine(), "--port must be 0 to 65535, was " + port);
        }
        SplittableRandom random = seed == null ? new SplittableRandom() : new SplittableRandom(seed);
        SimulatedLlmServer server = new SimulatedLlmServer(host, port, stream, greeting, random).start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "callguard-sim-llm-shutdown"));
        spec.commandLine().getOut().println("sim-llm ready: " + server.uri());
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }
}
