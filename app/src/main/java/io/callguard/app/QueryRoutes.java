package io.callguard.app;

import com.fasterxml.jackson.databind.JsonNode;
import io.callguard.ingress.HttpQuery;
import io.callguard.ingress.HttpReply;
import io.callguard.processor.CapacityView;
import io.callguard.processor.PartitionCapacity;
import io.callguard.processor.ProcessorConfig;
import io.callguard.processor.ProcessorRole;
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
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * {@code GET /calls/{call_id}} and {@code GET /capacity}: interactive queries of the processor's stores,
 * answered here when this instance owns the data and forwarded to the owner (by its advertised
 * {@code application.server}) when another instance does.
 */
final class QueryRoutes {

    /** Marks a forwarded query, so it is answered locally and never forwarded again. */
    static final String LOCAL_PARAM = "local";
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(3);

    private final Supplier<ProcessorRole> processor;
    private final ProcessorConfig config;
    private final int partitions;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(FORWARD_TIMEOUT).build();

    QueryRoutes(Supplier<ProcessorRole> processor, ProcessorConfig config, int partitions) {
        this.processor = processor;
        this.config = config;
        this.partitions = partitions;
    }

    HttpReply call(HttpQuery query) throws Exception {
        String callId = java.net.URLDecoder.decode(query.path().substring("/calls/".length()), StandardCharsets.UTF_8);
        if (callId.isEmpty() || callId.length() > 256 || callId.contains("/")) {
            return HttpReply.json(400, Map.of("error", "bad call id", "call_id", callId));
        }
        ProcessorRole role = processor.get();
        if (role == null) {
            return HttpReply.json(503, Map.of("error", "no processor runs on this instance"));
        }
        boolean local = query.query().containsKey(LOCAL_PARAM);
        String owner = role.ownerOf(callId).orElse(null);
        if (!local && owner != null && !role.instances().isEmpty() && !isSelf(role, owner)) {
            return forward("http://" + owner + "/calls/" + URLEncoder.encode(callId, StandardCharsets.UTF_8)
                    + "?" + LOCAL_PARAM + "=true");
        }
        return role.callState(callId)
                .map(state -> HttpReply.json(200, state))
                .orElseGet(() -> HttpReply.json(404, Map.of("error", "unknown call", "call_id", callId)));
    }

    HttpReply capacity(HttpQuery query) {
        ProcessorRole role = processor.get();
        if (role == null) {
            return HttpReply.json(503, Map.of("error", "no processor runs on this instance"));
        }
        return HttpReply.json(200, capacityReport(role, !query.query().containsKey(LOCAL_PARAM)));
    }

    /** The whole application's capacity totals, asking the other instances; empty when no processor runs here. */
    @SuppressWarnings("unchecked")
    Map<String, Object> capacityTotal() {
        ProcessorRole role = processor.get();
        return role == null ? Map.of() : (Map<String, Object>) capacityReport(role, true).get("total");
    }

    private Map<String, Object> capacityReport(ProcessorRole role, boolean askOthers) {
        Map<Integer, Map<String, Object>> byPartition = new TreeMap<>();
        CapacityView local = role.localCapacity();
        for (PartitionCapacity p : local.partitions()) {
            byPartition.put(p.partition(), partition(p.partition(), p.active(), p.queued(), p.capacity(), p.queueSize()));
        }
        List<String> unreachable = new ArrayList<>();
        List<String> instances = role.instances();
        if (askOthers) {
            for (String instance : instances) {
                if (isSelf(role, instance)) {
                    continue;
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + instance
                            + "/capacity?" + LOCAL_PARAM + "=true")).timeout(FORWARD_TIMEOUT).GET().build(),
                            HttpResponse.BodyHandlers.ofString());
                    for (JsonNode p : Json.mapper().readTree(r.body()).path("partitions")) {
                        byPartition.putIfAbsent(p.get("partition").asInt(), partition(p.get("partition").asInt(),
                                p.get("active").asLong(), p.get("queued").asLong(), p.get("capacity").asInt(),
                                p.get("queue_size").asInt()));
                    }
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

    private boolean isSelf(ProcessorRole role, String hostPort) {
        return hostPort.equals(role.advertisedServer());
    }

    private HttpReply forward(String url) {
        try {
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(FORWARD_TIMEOUT).GET()
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            return new HttpReply(r.statusCode(), "application/json", r.body());
        } catch (Exception e) {
            return HttpReply.json(502, Map.of("error", "the owning instance did not answer", "owner", url));
        }
    }
}
