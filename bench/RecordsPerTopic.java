import java.io.File;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.record.internal.FileLogInputStream;
import org.apache.kafka.common.record.internal.FileRecords;

/**
 * Records, batches, transaction markers and bytes each topic of a stopped embedded broker holds, from its log
 * segments (what a run wrote, all partitions together; compaction may have removed some of a compacted topic's).
 * Usage: java -cp "cli/target/lib/*" bench/RecordsPerTopic.java DATA_DIR/kafka
 */
public class RecordsPerTopic {
    public static void main(String[] args) throws Exception {
        Map<String, long[]> byTopic = new TreeMap<>();
        File[] partitions = new File(args[0]).listFiles(File::isDirectory);
        if (partitions == null) {
            throw new IllegalArgumentException("not a broker log directory: " + args[0]);
        }
        for (File partition : partitions) {
            long[] counts = byTopic.computeIfAbsent(partition.getName().replaceAll("-\\d+$", ""), t -> new long[4]);
            File[] segments = partition.listFiles((dir, name) -> name.endsWith(".log"));
            for (File segment : segments == null ? new File[0] : segments) {
                try (FileRecords records = FileRecords.open(segment)) {
                    for (FileLogInputStream.FileChannelRecordBatch batch : records.batches()) {
                        counts[1]++;
                        counts[3] += batch.sizeInBytes();
                        if (batch.isControlBatch()) {
                            counts[2]++;
                            continue;
                        }
                        for (var record : batch) {
                            counts[0]++;
                        }
                    }
                }
            }
        }
        System.out.printf("%-42s %10s %10s %8s %12s%n", "topic", "records", "batches", "markers", "bytes");
        byTopic.forEach((topic, c) -> System.out.printf("%-42s %10d %10d %8d %12d%n", topic, c[0], c[1], c[2], c[3]));
    }
}
