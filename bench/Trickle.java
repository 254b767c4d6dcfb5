import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Trickling clients against a gateway's public listener: N connections that send a 1 MiB webhook's headers and one
 * byte (mode "body") or half a request's headers (mode "headers"), then a byte every 2 s, until the server closes
 * them. Prints "OPEN n ms" once all are open, then "CUT n ms" when the server has closed them all (or after 120 s).
 * Usage: java bench/Trickle.java URL N body|headers
 */
public class Trickle {
  public static void main(String[] a) throws Exception {
    URI url = URI.create(a[0]);
    int n = Integer.parseInt(a[1]);
    String prefix = a[2].equals("body")
        ? "POST /webhook HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"
        : "POST /webhook HTTP/1.1\r\nHost: gateway\r\nX-Slow: ";
    InetSocketAddress address = new InetSocketAddress(url.getHost(), url.getPort());
    Selector selector = Selector.open();
    List<SocketChannel> open = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      SocketChannel ch = SocketChannel.open(address);
      ch.write(ByteBuffer.wrap(prefix.getBytes(StandardCharsets.US_ASCII)));
      ch.configureBlocking(false);
      ch.register(selector, SelectionKey.OP_READ);
      open.add(ch);
    }
    System.out.println("OPEN " + n + " " + (System.nanoTime() - start) / 1_000_000);
    long opened = System.nanoTime();
    ByteBuffer sink = ByteBuffer.allocate(4096);
    long lastTrickle = 0;
    int closed = 0;
    while (closed < n && System.nanoTime() - opened < 120_000_000_000L) {
      if (System.nanoTime() - lastTrickle > 2_000_000_000L) {
        for (SocketChannel ch : open) {
          try { ch.write(ByteBuffer.wrap(new byte[] {'x'})); } catch (Exception e) { /* counted when read */ }
        }
        lastTrickle = System.nanoTime();
      }
      selector.select(200);
      for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
        SelectionKey key = it.next();
        it.remove();
        SocketChannel ch = (SocketChannel) key.channel();
        int read;
        try {
          do { sink.clear(); read = ch.read(sink); } while (read > 0);
        } catch (Exception e) {
          read = -1;
        }
        if (read < 0) {
          key.cancel();
          ch.close();
          open.remove(ch);
          closed++;
        }
      }
    }
    System.out.println("CUT " + closed + " " + (System.nanoTime() - opened) / 1_000_000);
  }
}
