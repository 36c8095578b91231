// The independent decoder of the loadgen's HdrHistogram interval log: Debian's
// libhdrhistogram-java (HdrHistogram's reference implementation) reads the
// log, adds each tag's intervals, and prints what it decoded as JSON lines:
//   {"tag": T, "intervals": N, "count": C, "min_us": .., "max_us": .., "p50_us": .., ...}
// and, with a second argument, writes the percentile distribution of the
// first tag's sum (outputPercentileDistribution, 5 ticks, values in µs) there.
//   java -cp hdrhistogram.jar:DIR HdrCheck LOG [HGRM_OUT]
import java.io.File;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HdrCheck {
  public static void main(String[] args) throws Exception {
    HistogramLogReader reader = new HistogramLogReader(new File(args[0]));
    Map<String, Histogram> sums = new LinkedHashMap<>();
    Map<String, Integer> intervals = new LinkedHashMap<>();
    EncodableHistogram e;
    while ((e = reader.nextIntervalHistogram()) != null) {
      Histogram h = (Histogram) e;
      String tag = h.getTag() == null ? "" : h.getTag();
      sums.computeIfAbsent(tag, t -> new Histogram(h.getLowestDiscernibleValue(), h.getHighestTrackableValue(),
                                                   h.getNumberOfSignificantValueDigits())).add(h);
      intervals.merge(tag, 1, Integer::sum);
    }
    double[] ps = {50, 90, 99, 99.9, 99.99};
    String[] names = {"p50", "p90", "p99", "p99_9", "p99_99"};
    for (Map.Entry<String, Histogram> s : sums.entrySet()) {
      Histogram h = s.getValue();
      StringBuilder b = new StringBuilder();
      b.append(String.format(Locale.US, "{\"tag\": \"%s\", \"intervals\": %d, \"count\": %d, \"min_us\": %.3f, \"max_us\": %.3f",
          s.getKey(), intervals.get(s.getKey()), h.getTotalCount(), h.getMinValue() / 1000.0, h.getMaxValue() / 1000.0));
      for (int i = 0; i < ps.length; i++)
        b.append(String.format(Locale.US, ", \"%s_us\": %.3f", names[i], h.getValueAtPercentile(ps[i]) / 1000.0));
      System.out.println(b.append("}"));
    }
    if (args.length > 1 && !sums.isEmpty()) {
      try (PrintStream out = new PrintStream(new FileOutputStream(args[1]))) {
        sums.values().iterator().next().outputPercentileDistribution(out, 5, 1000.0);
      }
    }
  }
}
