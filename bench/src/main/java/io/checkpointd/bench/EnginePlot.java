package io.checkpointd.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The plot of {@link EngineBenchmark}: pause vs. dirty rate, log-log, one line per engine (SVG, no dependencies). */
final class EnginePlot {
    private static final int W = 760, H = 460, L = 70, R = 210, T = 40, B = 56;

    private EnginePlot() {
    }

    record Series(String label, String color, String dash, double[] x, double[] y) {
    }

    static String svg(List<EngineBenchmark.Run> inc, List<EngineBenchmark.Run> full, List<EngineBenchmark.FloorRun> floor) {
        List<Series> s = new ArrayList<>();
        s.add(series("incremental p50", "#1f77b4", "", inc, r -> EngineBenchmark.pct(r.pauses(false), 0.5)));
        s.add(series("incremental p99", "#1f77b4", "6,4", inc, r -> EngineBenchmark.pct(r.pauses(false), 0.99)));
        s.add(series("full CRIU dump p50", "#d62728", "", full, r -> EngineBenchmark.pct(r.pauses(false), 0.5)));
        s.add(series("full CRIU dump max", "#d62728", "6,4", full, r -> EngineBenchmark.pct(r.pauses(false), 1.0)));
        double[] fx = floor.stream().mapToDouble(EngineBenchmark.FloorRun::rateMiBs).toArray();
        s.add(new Series("floor: scan + copy p50", "#555555", "2,3", fx,
                floor.stream().mapToDouble(f -> EngineBenchmark.pct(f.scanCopy(), 0.5)).toArray()));
        s.add(new Series("floor: whole pause p50", "#555555", "8,3,2,3", fx,
                floor.stream().mapToDouble(f -> EngineBenchmark.pct(f.of(Floor.Epoch::pause), 0.5)).toArray()));

        double xmin = Double.MAX_VALUE, xmax = 0, ymin = Double.MAX_VALUE, ymax = 0;
        for (Series a : s) {
            for (int i = 0; i < a.x().length; i++) {
                if (!(a.y()[i] > 0)) continue;
                xmin = Math.min(xmin, a.x()[i]);
                xmax = Math.max(xmax, a.x()[i]);
                ymin = Math.min(ymin, a.y()[i]);
                ymax = Math.max(ymax, a.y()[i]);
            }
        }
        if (xmax == 0) {
            xmin = 1;
            xmax = 100;
            ymin = 1;
            ymax = 1000;
        }
        double lx0 = Math.floor(Math.log10(xmin)), lx1 = Math.ceil(Math.log10(xmax));
        double ly0 = Math.floor(Math.log10(Math.min(ymin, 2))), ly1 = Math.ceil(Math.log10(ymax));
        if (lx1 == lx0) lx1++;
        if (ly1 == ly0) ly1++;
        final double ax0 = lx0, ax1 = lx1, ay0 = ly0, ay1 = ly1;
        java.util.function.DoubleUnaryOperator px = v -> L + (Math.log10(v) - ax0) / (ax1 - ax0) * (W - L - R);
        java.util.function.DoubleUnaryOperator py = v -> H - B - (Math.log10(v) - ay0) / (ay1 - ay0) * (H - T - B);

        StringBuilder b = new StringBuilder();
        b.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", W, H, W, H));
        b.append(f("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", W, H));
        b.append(f("<text x=\"%d\" y=\"22\" font-size=\"14\">Pause per epoch vs. dirty rate (100 ms epochs, 1 GiB JVM, one run)</text>%n", L));
        // grid and ticks: decades and 2, 5 in between
        for (double e = ay0; e <= ay1; e++) {
            for (int m : new int[] {1, 2, 5}) {
                double v = m * Math.pow(10, e);
                if (Math.log10(v) > ay1 + 1e-9) continue;
                double y = py.applyAsDouble(v);
                b.append(f("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>%n", L, y, W - R, y, m == 1 ? "#cccccc" : "#eeeeee"));
                b.append(f("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", L - 6, y + 4, tick(v)));
            }
        }
        for (double e = ax0; e <= ax1; e++) {
            for (int m : new int[] {1, 2, 5}) {
                double v = m * Math.pow(10, e);
                if (Math.log10(v) > ax1 + 1e-9) continue;
                double x = px.applyAsDouble(v);
                b.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>%n", x, T, x, H - B, m == 1 ? "#cccccc" : "#eeeeee"));
                b.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", x, H - B + 16, tick(v)));
            }
        }
        b.append(f("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>%n", L, T, W - L - R, H - T - B));
        b.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">dirty rate, MiB/s (log)</text>%n", L + (W - L - R) / 2, H - 14));
        b.append(f("<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">pause, ms (log)</text>%n", T + (H - T - B) / 2,
                T + (H - T - B) / 2));
        // the targets
        for (double target : new double[] {2, 5}) {
            double y = py.applyAsDouble(target);
            b.append(f("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#2ca02c\" stroke-dasharray=\"1,3\"/>%n", L, y, W - R, y));
            b.append(f("<text x=\"%d\" y=\"%.1f\" fill=\"#2ca02c\" font-size=\"10\">target %s %s ms</text>%n", L + 4, y - 3,
                    target == 2 ? "p50 ≤" : "p99 ≤", tick(target)));
        }
        int ly = T + 10;
        for (Series a : s) {
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < a.x().length; i++) {
                if (!(a.y()[i] > 0)) continue;
                double x = px.applyAsDouble(a.x()[i]), y = py.applyAsDouble(a.y()[i]);
                pts.append(f("%.1f,%.1f ", x, y));
                b.append(f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>%n", x, y, a.color()));
            }
            b.append(f("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>%n", pts.toString().trim(), a.color(),
                    a.dash().isEmpty() ? "" : " stroke-dasharray=\"" + a.dash() + "\""));
            b.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>%n", W - R + 12, ly, W - R + 40, ly,
                    a.color(), a.dash().isEmpty() ? "" : " stroke-dasharray=\"" + a.dash() + "\""));
            b.append(f("<text x=\"%d\" y=\"%d\">%s</text>%n", W - R + 46, ly + 4, a.label()));
            ly += 20;
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private static Series series(String label, String color, String dash, List<EngineBenchmark.Run> runs,
                                 java.util.function.ToDoubleFunction<EngineBenchmark.Run> y) {
        return new Series(label, color, dash, runs.stream().mapToDouble(EngineBenchmark.Run::rateMiBs).toArray(),
                runs.stream().mapToDouble(y).toArray());
    }

    private static String tick(double v) {
        return v >= 1 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%s", v);
    }

    private static String f(String fmt, Object... a) {
        return String.format(Locale.ROOT, fmt, a);
    }
}
