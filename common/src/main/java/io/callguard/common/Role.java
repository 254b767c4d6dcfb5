package io.callguard.common;

/**
 * The lifecycle every role shares (ingress, processor, responder, egress, dial-out): constructed with its
 * settings and collaborators but no threads or clients yet, {@link #start()}ed once, {@link #close()}d once.
 * The gateway starts roles in dependency order, closes them in reverse, and builds {@code /readyz} and
 * {@code /healthz} from their {@link #health()}.
 *
 * <p>Rules every implementation keeps: the constructor starts no thread and opens no connection; a second
 * {@code start()}, or a {@code start()} after {@code close()}, throws {@link IllegalStateException}; {@code close()}
 * is idempotent, may be called without {@code start()}, and leaves no thread behind; {@code health()} never blocks
 * on Kafka.
 */
public interface Role extends AutoCloseable {

    /** The role's name in health reports and logs, e.g. {@code processor}. */
    String name();

    /**
     * Starts the role's threads and clients; returns without waiting for Kafka.
     *
     * @throws IllegalStateException when already started or closed
     */
    void start();

    /** What the role can say about itself now, without blocking. */
    RoleHealth health();

    /** Stops everything the role started; idempotent. */
    @Override
    void close();
}
