package io.callguard.cli.drill;

import io.callguard.retell.RetellSignature;
import java.net.URI;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * Posts webhooks to a gateway signed the way Retell signs them, over Jetty's HTTP client (the load generators
 * share the machine with the gateway, and the JDK's client cost about a millisecond of CPU per request there).
 * The drill and {@code bench-webhooks} both send through it.
 */
final class SignedWebhooks {

    /**
     * What came back.
     *
     * @param status       the HTTP status, -1 when no response came (connection failure, timeout)
     * @param latencyNanos from the request being sent to the exchange being over
     */
    record Outcome(int status, long latencyNanos) {
        boolean answered() {
            return status >= 0;
        }
    }

    private final HttpClient client;
    private final RetellSignature signer;
    private final URI url;

    /** @param target the gateway's base URL; webhooks go to its {@code webhook} path */
    SignedWebhooks(HttpClient client, RetellSignature signer, URI target) {
        this.client = client;
        this.signer = signer;
        this.url = target.resolve("webhook");
    }

    /** Signs the body now and posts it; never fails, the outcome says what happened. */
    CompletableFuture<Outcome> post(byte[] body) {
        String signature = signer.sign(body, System.currentTimeMillis());
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        long sentAt = System.nanoTime();
        client.newRequest(url).method(HttpMethod.POST)
                .headers(h -> h.put(RetellSignature.HEADER, signature))
                .body(new BytesRequestContent("application/json", body))
                .timeout(15, TimeUnit.SECONDS)
                .send(result -> outcome.complete(new Outcome(result.isFailed() ? -1 : result.getResponse().getStatus(),
                        System.nanoTime() - sentAt)));
        return outcome;
    }
}
