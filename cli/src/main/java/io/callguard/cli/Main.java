package io.callguard.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code callguard} command: {@code run} the gateway, {@code tap} a topic, and the operator tools. */
@Command(name = "callguard", mixinStandardHelpOptions = true, version = "callguard 0.1.0",
        description = "A reliability gateway for Retell AI voice agents, on Kafka.",
        subcommands = {RunCommand.class, TapCommand.class, io.callguard.cli.replay.ReplayCommand.class,
            io.callguard.cli.drill.DrillCommand.class, io.callguard.cli.drill.BenchWebhooksCommand.class, BenchStateLatencyCommand.class,
            BenchProcessorCommand.class, SimLlmCommand.class, io.callguard.cli.cluster.ClusterCommand.class,
            io.callguard.cli.cluster.BrokerCommand.class, ConfigDocsCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    /** Exit code for bad usage or configuration. */
    public static final int EXIT_USAGE = 2;

    /** The system property that sizes the JDK's common fork-join pool. */
    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    public static void main(String[] args) {
        commonPoolOfAtLeastTwo();
        System.exit(commandLine().execute(args));
    }

    /**
     * On two cores the JDK sizes its common pool at one thread, and {@code CompletableFuture}'s default async
     * executor is then a new thread for every task. The JDK HTTP client's {@code sendAsync} hands each finished
     * exchange to that executor: with the {@code openai} backend, a new thread per LLM request (6,281 in a cold
     * gateway's first minute, BENCHMARKS.md "Cost per turn"). Two threads make it a pool again. Runs before
     * anything touches the pool; a {@code -D} given on the command line wins.
     */
    static void commonPoolOfAtLeastTwo() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null
                && Runtime.getRuntime().availableProcessors() - 1 < 2) {
            System.setProperty(COMMON_POOL_PARALLELISM, "2");
        }
    }

    /** The command line with its error handling, for tests as well as {@link #main}. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.getSubcommands().get("run").getCommandSpec().usageMessage().footer(RunCommand.keysFooter());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof org.apache.kafka.common.config.ConfigException) {
                commandLine.getErr().println("callguard: configuration error: " + e.getMessage());
                return EXIT_USAGE;
            }
            throw e;
        });
        return cli;
    }
}
