package io.callguard.app.config;

import io.callguard.egress.EgressConfig;
import io.callguard.ingress.IngressConfig;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.responder.ResponderConfig;
import io.callguard.common.CommonConfig;
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
    private final ResponderConfig responder;
    private final EgressConfig egress;
    private final boolean socketTokenGenerated;

    private GatewayConfig(Map<String, String> given) {
        Map<String, String> raw = new java.util.LinkedHashMap<>(given);
        // Derived once here so every role sees the same values.
        if (raw.getOrDefault(CommonConfig.NODE_ID_CONFIG, "").isBlank()) {
            raw.put(CommonConfig.NODE_ID_CONFIG, generatedNodeId());
        }
        String token = raw.get(IngressConfig.SOCKET_TOKEN_CONFIG);
        // The socket is never open: without a configured token the gateway keeps one in its data dir, read or
        // made at start (not here: loading a config writes nothing).
        this.socketTokenGenerated = token == null || token.isBlank();
        this.raw = Map.copyOf(raw);
        this.common = new CommonConfig(raw);
        this.app = new AppConfig(raw);
        this.ingress = new IngressConfig(ingressValues(raw));
        this.processor = new ProcessorConfig(raw);
        this.responder = new ResponderConfig(raw);
        this.egress = new EgressConfig(raw);
        // Checks that relate one role's keys to another's, reported at load like any other bad value.
        responder.checkAgainst(common);
        common.topicReplication();
    }

    /**
     * The edge's values: as given, except that {@code socket.transcript-with-tool-calls}, when not set, follows the
     * backend. An upstream agent ({@code retell-socket}) may ask for transcript_with_tool_calls, which only Retell can
     * send: the edge asks Retell for it on the upstreams' behalf. Derived here, not stored, so {@link #with} derives
     * it again from the new backend.
     */
    private static Map<String, String> ingressValues(Map<String, String> raw) {
        if (raw.containsKey(IngressConfig.SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG)) {
            return raw;
        }
        Map<String, String> values = new java.util.LinkedHashMap<>(raw);
        values.put(IngressConfig.SOCKET_TRANSCRIPT_WITH_TOOL_CALLS_CONFIG, Boolean.toString(
                ResponderConfig.BACKEND_RETELL_SOCKET.equals(raw.get(ResponderConfig.AGENT_BACKEND_CONFIG))));
        return values;
    }

    /** Every declared key, of every role, in one definition. Each key is declared exactly once. */
    public static ConfigDef definition() {
        ConfigDef all = new ConfigDef();
        for (ConfigDef part : List.of(CommonConfig.definition(), AppConfig.definition(), IngressConfig.definition(),
                ProcessorConfig.definition(), ResponderConfig.definition(), EgressConfig.definition())) {
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

    /**
     * The configuration of a gateway embedded in a test or a tool: the defaults and these values, except that the
     * JIT warm-up ({@code warmup.enabled}) is off unless these values turn it on. A gateway started for a few test
     * calls has no traffic to be warm for, and warming every one of them would cost the suite minutes;
     * {@code bin/callguard run} loads through {@link #load(ConfigSources)}, where the declared default (on) holds.
     */
    public static GatewayConfig of(Map<String, String> values) {
        Map<String, String> embedded = new java.util.LinkedHashMap<>(values);
        embedded.putIfAbsent(AppConfig.WARMUP_ENABLED_CONFIG, "false");
        return load(new ConfigSources(null, Map.of(), embedded, Map.of()));
    }

    /** This configuration with some values replaced (validated like any other). */
    public GatewayConfig with(Map<String, String> overrides) {
        Map<String, String> values = new java.util.LinkedHashMap<>(raw);
        values.putAll(overrides);
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

    public ResponderConfig responder() {
        return responder;
    }

    public EgressConfig egress() {
        return egress;
    }

    /** This instance's name: {@code node.id}, or the host name with a random suffix. */
    public String nodeId() {
        return common.nodeId();
    }

    /**
     * True when no {@code socket.token} was configured: the gateway uses the token kept in its data dir, made there
     * once ({@code io.callguard.app.SocketTokenFile}).
     */
    public boolean socketTokenGenerated() {
        return socketTokenGenerated;
    }

    /** The configured socket token, or null when none is (see {@link #socketTokenGenerated()}). A secret. */
    public String socketToken() {
        return socketTokenGenerated ? null : ingress.socketToken().value();
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
