package io.callguard.processor;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.schemas.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.apache.kafka.common.config.types.Password;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Interactive queries of the processor's stores: a call's state and the capacity of the partitions, answered here
 * when this instance owns the data and forwarded (JDK {@link HttpClient}) to the owner, by its advertised
 * {@code application.server} (its admin listener), when another instance does; a forwarded query carries the admin
 * token, which every instance shares. Results are plain status codes and JSON-able bodies, for whatever HTTP server
 * serves them. Thread-safe.
 *
 * <p>Decisions on a forwarded call-state query: the owner's answer is passed on, except a refusal of the token
 * (401), which is a 502 here like an owner that did not answer, logged without the token: the client's own request
 * was fine. An instance that does not answer {@code /capacity} with 200 is listed as {@code unreachable}.
 */
public final class CallQueries {

    /** Marks a forwarded query, so it is answered locally and never forwarded again. */
    public static final String LOCAL_PARAM = "local";
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(3);
    private static final Logger LOG = LoggerFactory.getLogger(CallQueries.class);

    /**
     * One answer.
     *
     * @param status the HTTP status code
     * @param body   what to write as JSON (a map, a record or a {@link JsonNode})
     */
    public record Result(int status, Object body) {
    }

    private final ProcessorRole processor;
    private final ProcessorConfig config;
    private final int partitions;
    private final Password adminToken;
    private HttpClient http;

    /**
     * @param processor  this instance's processor; null when it runs none (every query then answers 503)
     * @param partitions the partitions of the topics, for the totals
     * @param adminToken the bearer token of the other instances' admin listeners ({@code admin.token}); null when
     *                   they need none
     */
    public CallQueries(ProcessorRole processor, ProcessorConfig config, int partitions, Password adminToken) {
        this.processor = processor;
        this.config = Objects.requireNonNull(config, "config");
        this.partitions = partitions;
        this.adminToken = adminToken;
    }

    /** Built on the first forwarded query: a JDK client starts its selector thread when built. */
    private synchronized HttpClient http() {
        if (http == null) {
            http = HttpClient.newBuilder().connectTimeout(FORWARD_TIMEOUT).build();
        }
        return http;
    }

    /**
     * {@code GET /calls/{call_id}}: 200 with the state, 404 for an unknown call, 400 for a bad id, 503 without a
     * processor; the owner's answer (or 502) when another instance owns the call and {@code local} is false.
     */
    public Result call(String callId, boolean local) {
        if (callId == null || callId.isEmpty() || callId.length() > 256 || callId.contains("/")) {
            return new Result(400, Map.of("error", "bad call id", "call_id", String.valueOf(callId)));
        }
        if (processor == null) {
            return noProcessor();
        }
        String owner = processor.ownerOf(callId).orElse(null);
        if (!local && owner != null && !processor.instances().isEmpty() && !isSelf(owner)) {
            return forward("http://" + owner + "/calls/" + URLEncoder.encode(callId, StandardCharsets.UTF_8)
                    + "?" + LOCAL_PARAM + "=true");
        }
        return processor.callState(callId)
                .map(state -> new Result(200, state))
                .orElseGet(() -> new Result(404, Map.of("error", "unknown call", "call_id", callId)));
    }

    /** {@code GET /capacity}: this instance's partitions, and unless {@code local} the other instances' too. */
    public Result capacity(boolean local) {
        if (processor == null) {
            return noProcessor();
        }
        return new Result(200, capacityReport(!local));
    }

    /** The whole application's capacity totals, asking the other instances; empty when no processor runs here. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> capacityTotal() {
        return processor == null ? Map.of() : (Map<String, Object>) capacityReport(true).get("total");
    }

    private static Result noProcessor() {
        return new Result(503, Map.of("error", "no processor runs on this instance"));
    }

    private Map<String, Object> capacityReport(boolean askOthers) {
        Map<Integer, Map<String, Object>> byPartition = new TreeMap<>();
        CapacityView local = processor.localCapacity();
        for (PartitionCapacity p : local.partitions()) {
            byPartition.put(p.partition(), partition(p.partition(), p.active(), p.queued(), p.capacity(), p.queueSize()));
        }
        List<String> unreachable = new ArrayList<>();
        List<String> instances = processor.instances();
        if (askOthers) {
            for (String instance : instances) {
                if (isSelf(instance)) {
                    continue;
                }
                try {
                    HttpResponse<String> r = http().send(request("http://" + instance + "/capacity?" + LOCAL_PARAM
                            + "=true"), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() != 200) {
                        // Debug: the dashboard asks every few seconds; the answer's unreachable list shows it.
                        LOG.debug("instance {} answered /capacity with {}{}", instance, r.statusCode(),
                                r.statusCode() == 401 ? " (its admin.token differs from this instance's)" : "");
                        unreachable.add(instance);
                        continue;
                    }
                    for (JsonNode p : Json.mapper().readTree(r.body()).path("partitions")) {
                        byPartition.putIfAbsent(p.get("partition").asInt(), partition(p.get("partition").asInt(),
                                p.get("active").asLong(), p.get("queued").asLong(), p.get("capacity").asInt(),
                                p.get("queue_size").asInt()));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    unreachable.add(instance);
                } catch (Exception e) {
                    unreachable.add(instance);
                }
            }
        }
        long active = 0;
        long queued = 0;
        long capacity = 0;
        for (Map<String, Object> p : byPartition.values()) {
            active += (Long) p.get("active");
            queued += (Long) p.get("queued");
            capacity += ((Number) p.get("capacity")).longValue();
        }
        Map<String, Object> total = new LinkedHashMap<>();
        total.put("active", active);
        total.put("queued", queued);
        total.put("capacity", capacity);
        total.put("utilization", capacity == 0 ? 0.0 : (double) active / capacity);
        total.put("partitions_reported", byPartition.size());
        total.put("partitions", partitions);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("total", total);
        out.put("partitions", new ArrayList<>(byPartition.values()));
        out.put("instances", instances);
        out.put("unreachable", unreachable);
        out.put("max_active_calls_per_partition", config.maxActiveCallsPerPartition(partitions));
        return out;
    }

    private static Map<String, Object> partition(int partition, long active, long queued, int capacity, int queueSize) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("partition", partition);
        p.put("active", active);
        p.put("queued", queued);
        p.put("capacity", capacity);
        p.put("queue_size", queueSize);
        p.put("utilization", capacity == 0 ? 0.0 : (double) active / capacity);
        return p;
    }

    private boolean isSelf(String hostPort) {
        return hostPort.equals(processor.advertisedServer());
    }

    /** A GET of another instance's admin listener, with the admin token when there is one. */
    private HttpRequest request(String url) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(FORWARD_TIMEOUT).GET();
        if (adminToken != null) {
            request.header("Authorization", "Bearer " + adminToken.value());
        }
        return request.build();
    }

    private Result forward(String url) {
        try {
            HttpResponse<byte[]> r = http().send(request(url), HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() == 401) {
                LOG.warn("the owning instance refused a forwarded query for {} with 401: its admin.token differs "
                        + "from this instance's", url);
                return forwardFailed(url);
            }
            return new Result(r.statusCode(), Json.mapper().readTree(r.body()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return forwardFailed(url);
        } catch (Exception e) {
            return forwardFailed(url);
        }
    }

    private static Result forwardFailed(String url) {
        return new Result(502, Map.of("error", "the owning instance did not answer", "owner", url));
    }
}
