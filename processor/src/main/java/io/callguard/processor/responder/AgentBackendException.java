package io.callguard.processor.responder;

/** The agent backend could not produce an answer (an HTTP error, a malformed stream, an injected fault). */
public class AgentBackendException extends RuntimeException {

    public AgentBackendException(String message) {
        super(message);
    }

    public AgentBackendException(String message, Throwable cause) {
        super(message, cause);
    }
}
