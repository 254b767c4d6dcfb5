/**
 * How the responder decides: the per-turn state machine ({@code TurnResponder}), the resilience4j
 * instances around the backend ({@code BackendResilience}) and the response cache. Not an API.
 */
package io.callguard.processor.responder.internal;
