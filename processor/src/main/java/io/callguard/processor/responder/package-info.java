/**
 * The responder: answers every {@code response_required} / {@code reminder_required} turn within its
 * budget, whatever the agent backend does, outside Kafka Streams threads.
 *
 * <p>{@link io.callguard.processor.responder.ResponderRole} is the Kafka shell (its own consumer on the
 * call-events topic, a producer to the responses topic); {@link io.callguard.processor.responder.ResponderConfig}
 * declares its settings; {@link io.callguard.processor.responder.AgentBackend} is what generates answers
 * ({@link io.callguard.processor.responder.ScriptBackend}, {@link io.callguard.processor.responder.OpenAiBackend}).
 */
package io.callguard.processor.responder;
