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
    private static final String TOPICS_REPLICATION_FACTOR_DOC = "Replication factor of every topic callguard "
            + "creates, Kafka Streams' changelogs and repartition topics included; -1 takes the broker's default "
            + "(the embedded broker: 1). On a cluster of three brokers or more: 3.";

    public static final String TOPICS_MIN_INSYNC_REPLICAS_CONFIG = "topics.min-insync-replicas";
    private static final String TOPICS_MIN_INSYNC_REPLICAS_DOC = "min.insync.replicas of every topic callguard "
            + "creates (Streams' internal topics included): an acknowledged write is on at least this many "
            + "replicas; -1 takes the broker's default. With topics.replication-factor 3: 2, so one broker may be "
            + "down while writes go on. A start against existing topics that disagree with either setting logs "
            + "which ones.";

    public static final String NODE_ID_CONFIG = "node.id";
    private static final String NODE_ID_DOC = "Name of this instance, unique in the deployment (it routes answers "
            + "to the edge node holding a call's socket). Empty: derived from the host name and a random suffix.";

    public static final String TURN_BUDGET_MS_CONFIG = "turn.budget-ms";
    private static final String TURN_BUDGET_MS_DOC = "Latency budget of one turn's first words, from the edge "
            + "receiving Retell's request to the first spoken chunk (not to the end of the answer: Retell waits for "
            + "an open answer as long as it takes). When it passes with no words, the caller hears a filler line "
            + "(turn.filler-messages) and the real answer follows in the same response.";

    public static final String TURN_FIRST_WORDS_DEADLINE_MS_CONFIG = "turn.first-words-deadline-ms";
    private static final String TURN_FIRST_WORDS_DEADLINE_MS_DOC = "When the agent has said no words of its own "
            + "by this long after the request (only the filler), the turn ends with a closing line. Must be more "
            + "than turn.budget-ms.";

    public static final String TURN_STALL_MS_CONFIG = "turn.stall-ms";
    private static final String TURN_STALL_MS_DOC = "Once the answer's words flow, the longest pause between two "
            + "chunks; a longer one ends the turn with a closing line after the words already said.";

    public static final String TURN_MAX_ANSWER_MS_CONFIG = "turn.max-answer-ms";
    private static final String TURN_MAX_ANSWER_MS_DOC = "Hard cap on one answer, from the request: an answer "
            + "still streaming then ends with a closing line. Must be more than turn.first-words-deadline-ms.";

    public static final String TURN_FILLER_MESSAGES_CONFIG = "turn.filler-messages";
    private static final String TURN_FILLER_MESSAGES_DOC = "Short lines that bridge a slow start, separated by "
            + "'|', rotated per call so a caller does not hear the same one twice in a row. Each is sent with "
            + "content_complete false; the answer continues the same response.";

    public static final String TURN_FALLBACK_MESSAGE_CONFIG = "turn.fallback-message";
    private static final String TURN_FALLBACK_MESSAGE_DOC = "What the caller hears when no answer can be had in "
            + "the budget and no more specific fallback is configured.";

    /** The default of {@link #TURN_KAFKA_LINGER_MS_CONFIG}: Kafka's own producer default since 4.0 (KIP-1030). */
    public static final int DEFAULT_TURN_KAFKA_LINGER_MS = 5;
    public static final String TURN_KAFKA_LINGER_MS_CONFIG = "turn.kafka-linger-ms";
    private static final String TURN_KAFKA_LINGER_MS_DOC = "How long the two producers on a turn's path (the "
            + "ingress's, writing Retell's requests to call-events, and the responder's, writing answers to "
            + "responses) wait to send records together (Kafka's linger.ms). Each Kafka request costs the broker and "
            + "both clients about the same whatever it carries, and a turn crosses Kafka twice, so requests, not "
            + "records, are most of what a turn costs in CPU: at 500 turns a second, 5 ms cut the gateway's CPU by "
            + "about 30% (BENCHMARKS.md, \"Cost per turn\") and adds at most twice this to the first words (about "
            + "10 ms; the budget is turn.budget-ms). A record waits only while a batch is open: no idle cost. 0: "
            + "every record sent at once, for the lowest latency at the highest CPU.";

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
            .define(TOPICS_MIN_INSYNC_REPLICAS_CONFIG, Type.INT, -1, Range.between(-1, 32), Importance.MEDIUM,
                    TOPICS_MIN_INSYNC_REPLICAS_DOC)
            .define(NODE_ID_CONFIG, Type.STRING, "", Importance.LOW, NODE_ID_DOC)
            .define(TURN_BUDGET_MS_CONFIG, Type.LONG, 800L, Range.between(50, 30_000), Importance.HIGH,
                    TURN_BUDGET_MS_DOC)
            .define(TURN_FIRST_WORDS_DEADLINE_MS_CONFIG, Type.LONG, 4_000L, Range.between(100, 600_000),
                    Importance.MEDIUM, TURN_FIRST_WORDS_DEADLINE_MS_DOC)
            .define(TURN_STALL_MS_CONFIG, Type.LONG, 5_000L, Range.between(50, 600_000), Importance.MEDIUM,
                    TURN_STALL_MS_DOC)
            .define(TURN_MAX_ANSWER_MS_CONFIG, Type.LONG, 60_000L, Range.between(200, 3_600_000), Importance.MEDIUM,
                    TURN_MAX_ANSWER_MS_DOC)
            .define(TURN_FILLER_MESSAGES_CONFIG, Type.STRING, "One moment.|Let me check that for you.|Just a second.",
                    Importance.MEDIUM, TURN_FILLER_MESSAGES_DOC)
            .define(TURN_FALLBACK_MESSAGE_CONFIG, Type.STRING, "Sorry, one moment please.", Importance.MEDIUM,
                    TURN_FALLBACK_MESSAGE_DOC)
            .define(TURN_KAFKA_LINGER_MS_CONFIG, Type.INT, DEFAULT_TURN_KAFKA_LINGER_MS, Range.between(0, 50),
                    Importance.LOW, TURN_KAFKA_LINGER_MS_DOC);

    /** @throws org.apache.kafka.common.config.ConfigException for a bad value or deadlines out of order */
    public CommonConfig(Map<?, ?> values) {
        super(DEFINITION, values, false);
        if (turnFirstWordsDeadlineMs() <= turnBudgetMs()) {
            throw new org.apache.kafka.common.config.ConfigException(TURN_FIRST_WORDS_DEADLINE_MS_CONFIG,
                    turnFirstWordsDeadlineMs(), "must be more than " + TURN_BUDGET_MS_CONFIG + " (" + turnBudgetMs() + ")");
        }
        if (turnMaxAnswerMs() <= turnFirstWordsDeadlineMs()) {
            throw new org.apache.kafka.common.config.ConfigException(TURN_MAX_ANSWER_MS_CONFIG, turnMaxAnswerMs(),
                    "must be more than " + TURN_FIRST_WORDS_DEADLINE_MS_CONFIG + " (" + turnFirstWordsDeadlineMs() + ")");
        }
        if (turnFillerMessages().isEmpty()) {
            throw new org.apache.kafka.common.config.ConfigException(TURN_FILLER_MESSAGES_CONFIG,
                    getString(TURN_FILLER_MESSAGES_CONFIG), "needs at least one non-blank line");
        }
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

    /**
     * How callguard's topics are replicated.
     *
     * @throws org.apache.kafka.common.config.ConfigException when the two settings contradict each other
     */
    public TopicReplication topicReplication() {
        try {
            return new TopicReplication(replicationFactor(), getInt(TOPICS_MIN_INSYNC_REPLICAS_CONFIG));
        } catch (IllegalArgumentException e) {
            throw new org.apache.kafka.common.config.ConfigException(TOPICS_MIN_INSYNC_REPLICAS_CONFIG + ": "
                    + e.getMessage());
        }
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

    public long turnFirstWordsDeadlineMs() {
        return getLong(TURN_FIRST_WORDS_DEADLINE_MS_CONFIG);
    }

    public long turnStallMs() {
        return getLong(TURN_STALL_MS_CONFIG);
    }

    public long turnMaxAnswerMs() {
        return getLong(TURN_MAX_ANSWER_MS_CONFIG);
    }

    /** The filler lines, trimmed, blanks dropped, in their configured order. */
    public java.util.List<String> turnFillerMessages() {
        return java.util.Arrays.stream(getString(TURN_FILLER_MESSAGES_CONFIG).split("\\|"))
                .map(String::strip).filter(line -> !line.isEmpty()).toList();
    }

    public String turnFallbackMessage() {
        return getString(TURN_FALLBACK_MESSAGE_CONFIG);
    }

    public int turnKafkaLingerMs() {
        return getInt(TURN_KAFKA_LINGER_MS_CONFIG);
    }
}
