package io.callguard.app.config;

import java.util.List;
import java.util.stream.Collectors;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.types.Password;

/** Renders the declared keys for {@code --help} and the README, so neither can drift from the code. */
public final class ConfigDocs {

    private ConfigDocs() {
    }

    /** A Markdown table of every key: name, environment variable, type, default, allowed values, doc. */
    public static String markdownTable(ConfigDef definition) {
        StringBuilder out = new StringBuilder();
        out.append("| key | environment | type | default | allowed | description |\n");
        out.append("|---|---|---|---|---|---|\n");
        for (ConfigDef.ConfigKey key : sorted(definition)) {
            out.append("| `").append(key.name).append("` | `").append(ConfigSources.envName(key.name)).append("` | ")
                    .append(key.type.name().toLowerCase(java.util.Locale.ROOT)).append(" | ")
                    .append(defaultText(key)).append(" | ")
                    .append(key.validator == null ? "" : key.validator.toString().replace("|", "\\|")).append(" | ")
                    .append(key.documentation.replace("|", "\\|")).append(" |\n");
        }
        return out.toString();
    }

    /** Plain text for {@code --help}: each key with its default and doc. */
    public static String helpText(ConfigDef definition) {
        return sorted(definition).stream()
                .map(k -> String.format("  %-42s default: %s%n      %s", k.name, defaultText(k), k.documentation))
                .collect(Collectors.joining("\n"));
    }

    private static List<ConfigDef.ConfigKey> sorted(ConfigDef definition) {
        return definition.configKeys().values().stream().sorted(java.util.Comparator.comparing(k -> k.name))
                .collect(Collectors.toList());
    }

    private static String defaultText(ConfigDef.ConfigKey key) {
        if (!key.hasDefault() || key.defaultValue == null) {
            return "(none)";
        }
        Object value = key.defaultValue;
        if (value instanceof Password) {
            return "(hidden)";
        }
        if (value instanceof List<?> list) {
            return list.isEmpty() ? "(empty)" : "`" + list.stream().map(String::valueOf).collect(Collectors.joining(",")) + "`";
        }
        String text = String.valueOf(value);
        return text.isEmpty() ? "(empty)" : "`" + text + "`";
    }
}
