package io.callguard.ingress;

/**
 * A simple HTTP endpoint the app adds to the {@link IngressServer} without importing Jetty (health, readiness,
 * metrics, call lookups). It runs on a server thread and may block briefly; it must not wait on Kafka.
 */
@FunctionalInterface
public interface HttpRoute {

    /**
     * Answers one request.
     *
     * @throws Exception answered with 500 and logged; the message is not sent to the client
     */
    HttpReply handle(HttpQuery query) throws Exception;
}
