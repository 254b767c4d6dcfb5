package io.callguard.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A small TCP load balancer on loopback, in front of gateways in tests, as a cloud balancer or a Kubernetes Service
 * sits in front of callguard in production. Each client connection goes to the next backend, round-robin; a backend
 * that refuses the connection is skipped. The first request of a connection, when it is a {@code GET} (an LLM
 * WebSocket upgrade) and the backend answers it {@code 503} or closes without an answer, is sent to the next
 * backend instead, as nginx's {@code proxy_next_upstream http_503}, HAProxy's {@code retry-on 503} and Envoy's
 * retriable status codes do: a draining gateway refuses new sockets with 503, and the caller's reconnect lands on
 * another one. Other methods (webhooks) are never resent: their answer, 503 included, goes back to the client, which
 * retries as Retell does. Once a backend's answer is relayed, the connection is plain bytes both ways, and a close
 * on one side (a dropped WebSocket: no close frame) is passed on as a close to the other.
 *
 * <p>Blocking sockets, two threads per connection: for tests with tens of calls, not for load. Thread-safe.
 */
public final class LoopbackBalancer implements AutoCloseable {

    private static final int MAX_HEAD_BYTES = 64 * 1024;
    private static final int CONNECT_TIMEOUT_MS = 1_000;
    private static final int ANSWER_TIMEOUT_MS = 10_000;
    private static final byte[] HEAD_END = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final List<InetSocketAddress> backends;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLongArray connections;
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong resent = new AtomicLong();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    /** When a backend's side of a relayed connection ended (System.nanoTime), whoever closed it. */
    private final java.util.Queue<Long> backendEnds = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "loopback-balancer");
        t.setDaemon(true);
        return t;
    });
    private ServerSocket server;

    /** @param backendPorts the backends' ports on 127.0.0.1, in round-robin order */
    public LoopbackBalancer(List<Integer> backendPorts) {
        if (backendPorts.isEmpty()) {
            throw new IllegalArgumentException("a balancer needs at least one backend");
        }
        this.backends = backendPorts.stream()
                .map(port -> new InetSocketAddress(InetAddress.getLoopbackAddress(), port)).toList();
        this.connections = new AtomicLongArray(backends.size());
    }

    /** Listens on a free loopback port and starts relaying. */
    public synchronized LoopbackBalancer start() {
        if (server != null) {
            throw new IllegalStateException("already started");
        }
        try {
            server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on loopback", e);
        }
        ServerSocket listening = server;
        threads.execute(() -> {
            while (!listening.isClosed()) {
                try {
                    Socket client = listening.accept();
                    open.add(client);
                    threads.execute(() -> serve(client));
                } catch (IOException e) {
                    // Closed: the balancer stops.
                }
            }
        });
        return this;
    }

    /** The balancer's base URL, e.g. {@code http://127.0.0.1:41234/}. */
    public synchronized URI uri() {
        if (server == null) {
            throw new IllegalStateException("not started");
        }
        return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/");
    }

    /** Client connections relayed to backend {@code index} (its place in the constructor's list). */
    public long connections(int index) {
        return connections.get(index);
    }

    /** Backend connections refused (the backend was down), each skipped for the next one. */
    public long refused() {
        return refused.get();
    }

    /**
     * When the backend side of each relayed connection ended (System.nanoTime): its end of stream or its error,
     * as the balancer read it. After a backend process is killed, the times its connections' ends reached the
     * balancer, before the close is passed on to the clients.
     */
    public List<Long> backendEnds() {
        return List.copyOf(backendEnds);
    }

    /** First requests sent to the next backend because one answered 503 or closed without an answer. */
    public long resent() {
        return resent.get();
    }

    private void serve(Socket client) {
        Socket backend = null;
        try {
            InputStream fromClient = client.getInputStream();
            byte[] head = readHead(fromClient);
            if (head == null) {
                return;
            }
            boolean resendable = startsWith(head, "GET ");
            int first = Math.floorMod(next.getAndIncrement(), backends.size());
            byte[] answered = null;
            for (int i = 0; i < backends.size() && backend == null; i++) {
                int index = (first + i) % backends.size();
                Socket candidate = connect(backends.get(index));
                if (candidate == null) {
                    continue;
                }
                candidate.getOutputStream().write(head);
                candidate.getOutputStream().flush();
                boolean last = i == backends.size() - 1;
                if (!resendable) {
                    backend = candidate;
                } else {
                    answered = readStatusLine(candidate);
                    boolean refusedHere = answered.length == 0 || startsWith(answered, "HTTP/1.1 503");
                    if (refusedHere && !last) {
                        resent.incrementAndGet();
                        candidate.close();
                        continue;
                    }
                    backend = candidate;
                }
                open.add(backend);
                connections.incrementAndGet(index);
            }
            if (backend == null) {
                return;
            }
            if (answered != null) {
                client.getOutputStream().write(answered);
                client.getOutputStream().flush();
            }
            Socket to = backend;
            threads.execute(() -> relay(fromClient, to));
            relay(backend.getInputStream(), client);
            backendEnds.add(System.nanoTime());
        } catch (IOException e) {
            // Either side went away: both are closed below.
        } finally {
            closeQuietly(client);
            closeQuietly(backend);
        }
    }

    private Socket connect(InetSocketAddress address) {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.connect(address, CONNECT_TIMEOUT_MS);
            return socket;
        } catch (IOException e) {
            refused.incrementAndGet();
            closeQuietly(socket);
            return null;
        }
    }

    /** The request head, up to and including its blank line; null when the client closed first. */
    private static byte[] readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < HEAD_END.length) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            matched = b == HEAD_END[matched] ? matched + 1 : (b == HEAD_END[0] ? 1 : 0);
            if (head.size() > MAX_HEAD_BYTES) {
                throw new IOException("request head over " + MAX_HEAD_BYTES + " bytes");
            }
        }
        return head.toByteArray();
    }

    /** The backend's status line with its line end; empty when it closed (or said nothing in time) first. */
    private static byte[] readStatusLine(Socket backend) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        backend.setSoTimeout(ANSWER_TIMEOUT_MS);
        try {
            InputStream in = backend.getInputStream();
            int b;
            while ((b = in.read()) >= 0) {
                line.write(b);
                if (b == '\n' || line.size() > MAX_HEAD_BYTES) {
                    break;
                }
            }
        } catch (SocketTimeoutException e) {
            return new byte[0];
        } finally {
            backend.setSoTimeout(0);
        }
        return line.toByteArray();
    }

    /** Copies until end of stream, then closes the other side's output, so a close travels on. */
    private void relay(InputStream from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try {
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = from.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
                out.flush();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            closeQuietly(to);
        }
    }

    private static boolean startsWith(byte[] bytes, String prefix) {
        byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length < p.length) {
            return false;
        }
        for (int i = 0; i < p.length; i++) {
            if (bytes[i] != p[i]) {
                return false;
            }
        }
        return true;
    }

    private void closeQuietly(Socket socket) {
        if (socket == null) {
            return;
        }
        open.remove(socket);
        try {
            socket.close();
        } catch (IOException e) {
            // Closing anyway.
        }
    }

    /** Stops listening and cuts every connection it relays. */
    @Override
    public synchronized void close() {
        if (server != null) {
            try {
                server.close();
            } catch (IOException e) {
                // Closing anyway.
            }
        }
        open.forEach(this::closeQuietly);
        threads.shutdownNow();
    }
}
