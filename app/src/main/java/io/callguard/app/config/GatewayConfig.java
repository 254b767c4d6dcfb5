package io.callguard.app.config;

import io.callguard.ingress.IngressConfig;
import io.callguard.processor.ProcessorConfig;
import io.callguard.schemas.CommonConfig;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;

/**
 * The whole configuration of one callguard instance: one typed config per role, all read from the
 * same merged sources and validated together at start.
 */
public final class GatewayConfig {

    private final Map<String, String> raw;
    private final CommonConfig common;
    private final AppConfig app;
    private final IngressConfig ingress;
    private final ProcessorConfig processor;
    private final String nodeId;

    private GatewayConfig(Map<String, String> raw) {
        this.raw = Map.copyOf(raw);
        this.common = new CommonConfig(raw);
        this.app = new AppConfig(raw);
        this.ingress = new IngressConfig(raw);
        this.processor = new ProcessorConfig(raw);
        this.nodeId = common.nodeId().isEmpty() ? generatedNodeId() : common.nodeId();
    }

    /** Every declared key, of every role, in one definition. Each key is declared exactly once. */
    public static ConfigDef definition() {
        ConfigDef all = new ConfigDef();
        for (ConfigDef part : List.of(CommonConfig.definition(), AppConfig.definition(), IngressConfig.definition(),
                ProcessorConfig.definition())) {
            for (ConfigDef.ConfigKey key : part.configKeys().values()) {
                if (all.names().contains(key.name)) {
                    throw new IllegalStateException("configuration key declared twice: " + key.name);
                }
                all.define(key);
            }
        }
        return all;
    }

    /**
     * Reads and validates the configuration.
     *
     * @throws ConfigException naming the key, the value and what is allowed, when anything is unknown or invalid
     */
    public static GatewayConfig load(ConfigSources sources) {
        ConfigDef definition = definition();
        Map<String, String> raw = sources.merge(definition);
        definition.parse(raw);
        return new GatewayConfig(raw);
    }

    /** The configuration with nothing but the defaults and these values. */
    public static GatewayConfig of(Map<String, String> values) {
        return load(new ConfigSources(null, Map.of(), values, Map.of()));
    }

    public CommonConfig common() {
        return common;
    }

    public AppConfig app() {
        return app;
    }

    public IngressConfig ingress() {
        return ingress;
    }

    public ProcessorConfig processor() {
        return processor;
    }

    /** This instance's name: {@code node.id}, or the host name with a random suffix. */
    public String nodeId() {
        return nodeId;
    }

    /** The merged raw values, for the tools that start sub-components in tests. */
    public Map<String, String> raw() {
        return raw;
    }

    private static String generatedNodeId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "callguard";
        }
        return host + "-" + UUID.randomUUID().toString().substring(0, 8);
    }
}
