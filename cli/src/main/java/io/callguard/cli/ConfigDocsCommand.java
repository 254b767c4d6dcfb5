package io.callguard.cli;

import io.callguard.app.config.ConfigDocs;
import io.callguard.app.config.GatewayConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Prints the configuration reference as a Markdown table (the README's table is checked against it). */
@Command(name = "config-docs", description = "Print every configuration key as a Markdown table.")
public final class ConfigDocsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(ConfigDocs.markdownTable(GatewayConfig.definition()));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
