package io.callguard.ingress;

/** How the webhook endpoint authenticates what it receives. */
public enum SignatureMode {
    /** Every webhook must carry a valid {@code x-retell-signature}. */
    VERIFY,
    /** No API key is configured: every webhook is refused with 401 ({@code no_api_key_configured}). */
    NO_API_KEY,
    /** Signatures are not checked ({@code webhook.insecure-skip-signature=true}); for local experiments only. */
    INSECURE_SKIP
}
