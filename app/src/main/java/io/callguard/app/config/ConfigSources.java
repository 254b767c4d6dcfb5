package io.callguard.app.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;

/**
 * Where configuration values come from, in rising precedence: the declared defaults, a Java properties
 * file ({@code --config FILE}), environment variables ({@code CALLGUARD_} + the key upper-cased with
 * dots and dashes as underscores, plus {@code RETELL_API_KEY}), {@code --set key=value} flags, and the
 * named command-line flags.
 *
 * <p>Every key from any source must be declared: an unknown key stops start-up with a message naming
 * it and where it came from.
 *
 * @param file  the properties file, or null
 * @param env   the process environment
 * @param sets  {@code --set} values
 * @param flags values of the named flags ({@code --http-port} etc.), already mapped to their keys
 */
public record ConfigSources(Path file, Map<String, String> env, Map<String, String> sets, Map<String, String> flags) {

    /** Environment variable prefix of every key. */
    public static final String ENV_PREFIX = "CALLGUARD_";

    /** Environment variables with the prefix that are not keys: they configure the launcher script. */
    public static final Set<String> RESERVED_ENV = Set.of("CALLGUARD_JAVA_OPTS", "CALLGUARD_HOME", "CALLGUARD_JAVA",
            "CALLGUARD_CDS");

    /** Retell's own name for the API key, accepted as well as {@code CALLGUARD_RETELL_API_KEY}. */
    public static final String RETELL_API_KEY_ENV = "RETELL_API_KEY";
    public static final String RETELL_API_KEY_KEY = "retell.api-key";

    public ConfigSources {
        env = env == null ? Map.of() : Map.copyOf(env);
        sets = sets == null ? Map.of() : new LinkedHashMap<>(sets);
        flags = flags == null ? Map.of() : new LinkedHashMap<>(flags);
    }

    /** The environment variable that sets a key. */
    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * Merges the sources into raw values, highest precedence last.
     *
     * @throws ConfigException naming the key and its source when a key is not declared, or the file is unreadable
     */
    public Map<String, String> merge(ConfigDef definition) {
        Set<String> known = definition.names();
        Map<String, String> merged = new LinkedHashMap<>();
        if (file != null) {
            putAll(merged, readFile(file), known, "config file " + file);
        }
        putAll(merged, fromEnv(known), known, "environment");
        putAll(merged, sets, known, "--set");
        putAll(merged, flags, known, "command-line flag");
        return merged;
    }

    private Map<String, String> fromEnv(Set<String> known) {
        Map<String, String> byEnvName = known.stream().collect(Collectors.toMap(ConfigSources::envName, k -> k));
        Map<String, String> values = new LinkedHashMap<>();
        String retellKey = env.get(RETELL_API_KEY_ENV);
        if (retellKey != null && !retellKey.isEmpty() && known.contains(RETELL_API_KEY_KEY)) {
            values.put(RETELL_API_KEY_KEY, retellKey);
        }
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(env).entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.contains(name)) {
                continue;
            }
            String key = byEnvName.get(name);
            if (key == null) {
                throw new ConfigException("Unknown configuration environment variable " + name
                        + ": no key maps to it. " + hint(name.substring(ENV_PREFIX.length())
                        .toLowerCase(Locale.ROOT).replace('_', '.'), known));
            }
            values.put(key, e.getValue());
        }
        return values;
    }

    private static Map<String, String> readFile(Path file) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(file)) {
            props.load(reader);
        } catch (IOException e) {
            throw new ConfigException("Cannot read the config file " + file + ": " + e.getMessage());
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (String name : new TreeSet<>(props.stringPropertyNames())) {
            values.put(name, props.getProperty(name).trim());
        }
        return values;
    }

    private static void putAll(Map<String, String> into, Map<String, String> values, Set<String> known, String source) {
        for (Map.Entry<String, String> e : values.entrySet()) {
            if (!known.contains(e.getKey())) {
                throw new ConfigException("Unknown configuration key '" + e.getKey() + "' (from " + source + "). "
                        + hint(e.getKey(), known));
            }
            into.put(e.getKey(), e.getValue());
        }
    }

    private static String hint(String key, Set<String> known) {
        String group = key.contains(".") ? key.substring(0, key.indexOf('.') + 1) : key;
        Set<String> near = known.stream().filter(k -> k.startsWith(group)).collect(Collectors.toCollection(TreeSet::new));
        return (near.isEmpty() ? "" : "Keys in that group: " + String.join(", ", near) + ". ")
                + "`callguard run --help` lists every key.";
    }
}
