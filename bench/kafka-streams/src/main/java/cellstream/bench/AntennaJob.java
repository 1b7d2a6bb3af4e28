package cellstream.bench;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * cellstream's speed-layer job written for Kafka Streams: one parse of each event, the user
 * metadata join (a global table), and three 5-minute windowed sums of bytes (per antenna, user
 * and app), exactly-once v2, one stream thread, a commit every second. Every update of a window
 * goes to the output topic, keyed "type|windowStartSeconds|id": the last one per key is the
 * window's total.
 *
 * Usage: AntennaJob brokers input metadata output applicationId stateDir graceMs maxTaskIdleMs
 */
public final class AntennaJob {
  /** An antenna event; unknown fields are ignored. */
  public record Event(long bytes, long timestamp, String app, String id, String antenna_id) {}

  /** A user_metadata row as the mirror writes it. */
  public record User(String id, String email, long quota) {}

  /** An event with its user's email, null for users without metadata. */
  public record Enriched(Event event, String email) {}

  private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  public static void main(String[] args) throws Exception {
    String brokers = args[0], input = args[1], metadata = args[2], output = args[3], applicationId = args[4], stateDir = args[5];
    long graceMs = Long.parseLong(args[6]);
    long maxTaskIdleMs = Long.parseLong(args[7]);

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    props.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, maxTaskIdleMs);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    StreamsBuilder builder = new StreamsBuilder();
    GlobalKTable<String, String> users = builder.globalTable(metadata, Consumed.with(Serdes.String(), Serdes.String()));
    KStream<byte[], Event> events = builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .process(ParseEvent::new);
    KStream<byte[], Enriched> enriched = events.leftJoin(users, (key, event) -> event.id(),
        (event, user) -> new Enriched(event, user == null ? null : parseUser(user).email()));
    TimeWindows windows = TimeWindows.ofSizeAndGrace(Duration.ofMinutes(5), Duration.ofMillis(graceMs));
    sum(enriched.map((key, e) -> KeyValue.pair(e.event().antenna_id(), e.event().bytes())), "antenna_total_bytes", windows, output);
    sum(enriched.map((key, e) -> KeyValue.pair(e.event().id(), e.event().bytes())), "user_total_bytes", windows, output);
    sum(enriched.map((key, e) -> KeyValue.pair(e.event().app(), e.event().bytes())), "app_total_bytes", windows, output);

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(30));
      stopped.countDown();
    }));
    streams.start();
    stopped.await();
  }

  private static void sum(KStream<String, Long> bytes, String type, TimeWindows windows, String output) {
    bytes.groupByKey(Grouped.with(type, Serdes.String(), Serdes.Long()))
        .windowedBy(windows)
        .reduce(Long::sum, Materialized.with(Serdes.String(), Serdes.Long()))
        .toStream((window, total) -> type + "|" + window.window().start() / 1000 + "|" + window.key())
        .to(output, Produced.with(Serdes.String(), Serdes.Long()));
  }

  private static Event parse(byte[] value) {
    try {
      return JSON.readValue(value, Event.class);
    } catch (Exception e) {
      return null;
    }
  }

  private static User parseUser(String value) {
    try {
      return JSON.readValue(value, User.class);
    } catch (Exception e) {
      return new User(null, null, 0);
    }
  }

  /**
   * The one parse: each record's value into an Event, forwarded with the event's own time as
   * its timestamp (what the windows use); records that do not parse are dropped.
   */
  private static final class ParseEvent implements Processor<byte[], byte[], byte[], Event> {
    private ProcessorContext<byte[], Event> context;

    @Override
    public void init(ProcessorContext<byte[], Event> context) {
      this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
      Event event = parse(record.value());
      if (event != null) context.forward(record.withValue(event).withTimestamp(event.timestamp() * 1000));
    }
  }
}
