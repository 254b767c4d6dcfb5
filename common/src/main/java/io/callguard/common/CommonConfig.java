package io.callguard.common;

import io.callguard.schemas.Topics;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;

/** Settings every role shares: where Kafka is and what the topics are called. */
public final class CommonConfig extends AbstractConfig {

    public static final String BOOTSTRAP_SERVERS_CONFIG = "bootstrap.servers";
    private static final String BOOTSTRAP_SERVERS_DOC = "Kafka bootstrap servers (host:port,...). Empty: "
            + "start an embedded single-node broker under the data dir.";

    public static final String TOPICS_PREFIX_CONFIG = "topics.prefix";
    private static final String TOPICS_PREFIX_DOC = "Prefix of every callguard topic name.";

    public static final String TOPICS_PARTITIONS_CONFIG = "topics.partitions";
    private static final String TOPICS_PARTITIONS_DOC = "Partitions of each topic callguard creates. "
            + "A partition is the unit of capacity, state and failover.";

    public static final String TOPICS_REPLICATION_FACTOR_CONFIG = "topics.replication-factor";
    private static final String TOPICS_REPLICATION_FACTOR_DOC = "Replication factor of the topics callguard "
            + "creates; -1 takes the broker's default.";

    public static final String NODE_ID_CONFIG = "node.id";
    private static final String NODE_ID_DOC = "Name of this instance, unique in the deployment (it routes answers "
            + "to the edge node holding a call's socket). Empty: derived from the host name and a random suffix.";

    public static final String TURN_BUDGET_MS_CONFIG = "turn.budget-ms";
    private static final String TURN_BUDGET_MS_DOC = "Latency budget of one turn, from the edge receiving Retell's "
            + "request to the complete answer on the socket. The responder answers with a fallback before it ends; "
            + "the edge watchdog sends one itself when it ends.";

    public static final String TURN_FALLBACK_MESSAGE_CONFIG = "turn.fallback-message";
    private static final String TURN_FALLBACK_MESSAGE_DOC = "What the caller hears when no answer can be had in "
            + "the budget and no more specific fallback is configured.";

    private static final ConfigDef DEFINITION = new ConfigDef()
            .define(BOOTSTRAP_SERVERS_CONFIG, Type.STRING, "", Importance.HIGH, BOOTSTRAP_SERVERS_DOC)
            .define(TOPICS_PREFIX_CONFIG, Type.STRING, Topics.DEFAULT_PREFIX, new ConfigDef.Validator() {
                @Override
                public void ensureValid(String name, Object value) {
                    try {
                        Topics.withPrefix((String) value);
                    } catch (IllegalArgumentException e) {
                        throw new org.apache.kafka.common.config.ConfigException(name, value, e.getMessage());
                    }
                }

                @Override
                public String toString() {
                    return "[a-zA-Z0-9._-]{0,200}";
                }
            }, Importance.MEDIUM, TOPICS_PREFIX_DOC)
            .define(TOPICS_PARTITIONS_CONFIG, Type.INT, 6, Range.between(1, 10_000), Importance.MEDIUM,
                    TOPICS_PARTITIONS_DOC)
            .define(TOPICS_REPLICATION_FACTOR_CONFIG, Type.SHORT, (short) -1, Range.between(-1, 32),
                    Importance.MEDIUM, TOPICS_REPLICATION_FACTOR_DOC)
            .define(NODE_ID_CONFIG, Type.STRING, "", Importance.LOW, NODE_ID_DOC)
            .define(TURN_BUDGET_MS_CONFIG, Type.LONG, 800L, Range.between(50, 30_000), Importance.HIGH,
                    TURN_BUDGET_MS_DOC)
            .define(TURN_FALLBACK_MESSAGE_CONFIG, Type.STRING, "Sorry, one moment please.", Importance.MEDIUM,
                    TURN_FALLBACK_MESSAGE_DOC);

    public CommonConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
    }

    /** Every key this config declares, with type, default and doc. */
    public static ConfigDef definition() {
        return new ConfigDef(DEFINITION);
    }

    public String bootstrapServers() {
        return getString(BOOTSTRAP_SERVERS_CONFIG);
    }

    public Topics topics() {
        return Topics.withPrefix(getString(TOPICS_PREFIX_CONFIG));
    }

    public int partitions() {
        return getInt(TOPICS_PARTITIONS_CONFIG);
    }

    public short replicationFactor() {
        return getShort(TOPICS_REPLICATION_FACTOR_CONFIG);
    }

    public String nodeId() {
        return getString(NODE_ID_CONFIG);
    }

    public long turnBudgetMs() {
        return getLong(TURN_BUDGET_MS_CONFIG);
    }

    public String turnFallbackMessage() {
        return getString(TURN_FALLBACK_MESSAGE_CONFIG);
    }
}
