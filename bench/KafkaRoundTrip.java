import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;
/** Produce -> consume round trip on a running gateway's broker: java -cp "app/target/lib/*" bench/KafkaRoundTrip.java BROKER TOPIC */
public class KafkaRoundTrip {
  public static void main(String[] a) throws Exception {
    String bs = a[0];
    var p = new KafkaProducer<String,String>(Map.of("bootstrap.servers", bs, "acks","all","linger.ms",0,"enable.idempotence",true), new StringSerializer(), new StringSerializer());
    var c = new KafkaConsumer<String,String>(Map.of("bootstrap.servers", bs, "fetch.max.wait.ms", 5), new StringDeserializer(), new StringDeserializer());
    String t = a[1];
    List<TopicPartition> tps = new ArrayList<>(); for (var pi : c.partitionsFor(t)) tps.add(new TopicPartition(t, pi.partition()));
    c.assign(tps); c.seekToEnd(tps); c.poll(Duration.ofMillis(100));
    long[] lat = new long[300];
    for (int i = 0; i < lat.length; i++) {
      long s = System.nanoTime();
      p.send(new ProducerRecord<>(t, "lat-"+i, "{}")).get();
      long acked = System.nanoTime();
      boolean got = false;
      while (!got) for (var r : c.poll(Duration.ofMillis(100))) if (r.key().equals("lat-"+i)) got = true;
      lat[i] = System.nanoTime() - s;
      if (i < 3) System.out.println("ack ms " + (acked - s)/1e6);
      Thread.sleep(20);
    }
    Arrays.sort(lat);
    System.out.printf("produce->consume p50 %.2f ms p99 %.2f ms%n", lat[150]/1e6, lat[297]/1e6);
    p.close(); c.close();
  }
}
