import java.util.Map;
import java.util.TreeMap;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Requests a second the embedded broker handled, by request type, and records a second appended, by topic, over a
 * window: from the broker's own meters (kafka.network RequestMetrics, BrokerTopicMetrics) over JMX. Start the gateway's
 * JMX agent first: jcmd PID ManagementAgent.start jmxremote.port=PORT jmxremote.authenticate=false jmxremote.ssl=false
 * Usage: java bench/BrokerRequests.java PORT SECONDS
 */
public class BrokerRequests {
    public static void main(String[] args) throws Exception {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + args[0] + "/jmxrmi");
        double seconds = Double.parseDouble(args[1]);
        try (JMXConnector connector = JMXConnectorFactory.connect(url)) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            Map<String, Long> first = counts(server);
            Thread.sleep((long) (seconds * 1000));
            Map<String, Long> second = counts(server);
            second.forEach((name, count) -> {
                long delta = count - first.getOrDefault(name, 0L);
                if (delta > 0) {
                    System.out.printf("%9.1f/s  %s%n", delta / seconds, name);
                }
            });
        }
    }

    private static Map<String, Long> counts(MBeanServerConnection server) throws Exception {
        Map<String, Long> counts = new TreeMap<>();
        for (ObjectName name : server.queryNames(
                new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
            counts.merge("requests " + name.getKeyProperty("request"), (Long) server.getAttribute(name, "Count"),
                    Long::sum);
        }
        for (ObjectName name : server.queryNames(
                new ObjectName("kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=*"), null)) {
            counts.put("records in " + name.getKeyProperty("topic"), (Long) server.getAttribute(name, "Count"));
        }
        return counts;
    }
}
