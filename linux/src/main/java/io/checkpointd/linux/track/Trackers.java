package io.checkpointd.linux.track;

import io.checkpointd.linux.Feature;
import io.checkpointd.linux.Features;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses and opens a {@link DirtyTracker}. Kinds, best first:
 * <ul>
 *   <li>{@code uffd-wp}: userfaultfd async write-protect + {@code PAGEMAP_SCAN} (kernel 6.7+); cost ∝ registered memory
 *       for the scan plus one minor fault per first write to a page per epoch;</li>
 *   <li>{@code soft-dirty}: {@code clear_refs} + pagemap bit 55 (kernels with {@code CONFIG_MEM_SOFT_DIRTY});
 *       reads 8 bytes of pagemap per tracked page per epoch;</li>
 *   <li>{@code scan}: no kernel help; hashes every present page each epoch (cost ∝ resident memory).</li>
 * </ul>
 * {@code auto} takes the first usable one.
 */
public final class Trackers {
    public static final List<String> KINDS = List.of("uffd-wp", "soft-dirty", "scan");

    private Trackers() {
    }

    /**
     * Opens tracker {@code kind} ({@code auto}, {@code uffd-wp}, {@code soft-dirty}, {@code scan}) for {@code pid}.
     * Call with the process running (not frozen, not stopped by a StoppedProcess): {@code uffd-wp} injects a
     * system call into it. Then {@link DirtyTracker#arm} in a pause.
     *
     * @throws IOException naming why the requested kind cannot run here
     */
    public static DirtyTracker open(String kind, int pid) throws IOException {
        String k = kind.equals("auto") ? autoKind() : kind;
        switch (k) {
            case "uffd-wp":
                require(k, uffdWp());
                return UffdWpTracker.open(pid);
            case "soft-dirty":
                if (!Features.softDirty().isAvailable()) {
                    throw new IOException("dirty tracker soft-dirty cannot run here: " + softDirtyReason(Features.softDirty()));
                }
                return SoftDirtyTracker.open(pid);
            case "scan":
                return ScanTracker.open(pid);
            default:
                throw new IOException("unknown dirty tracker '" + kind + "' (auto, uffd-wp, soft-dirty, scan)");
        }
    }

    /** Each kind → {@code "usable: ..."} or {@code "unusable: <reason>"}, for {@code check}/{@code status}. */
    public static Map<String, String> availability() {
        Map<String, String> m = new LinkedHashMap<>();
        Feature u = uffdWp();
        m.put("uffd-wp", u.isAvailable() ? "usable: userfaultfd WP_ASYNC|WP_UNPOPULATED + PAGEMAP_SCAN work here"
                : "unusable: " + reason(u));
        Feature s = Features.softDirty();
        m.put("soft-dirty", s.isAvailable() ? "usable: clear_refs 4 + pagemap bit 55 work here" : "unusable: " + softDirtyReason(s));
        m.put("scan", "usable: hashes every present page each epoch (XXH64), cost grows with resident memory");
        return m;
    }

    /** Which kind {@code auto} picks here, and why. */
    public static String autoChoice() {
        String k = autoKind();
        Map<String, String> a = availability();
        return switch (k) {
            case "uffd-wp" -> "uffd-wp (" + a.get("uffd-wp").substring(8) + ")";
            case "soft-dirty" -> "soft-dirty (uffd-wp " + a.get("uffd-wp") + ")";
            default -> "scan (uffd-wp " + a.get("uffd-wp") + "; soft-dirty " + a.get("soft-dirty") + ")";
        };
    }

    /** Whether {@code kind} can run here. */
    public static boolean isUsable(String kind) {
        return switch (kind) {
            case "uffd-wp" -> uffdWp().isAvailable();
            case "soft-dirty" -> Features.softDirty().isAvailable();
            case "scan", "auto" -> true;
            default -> false;
        };
    }

    private static String autoKind() {
        if (uffdWp().isAvailable()) return "uffd-wp";
        if (Features.softDirty().isAvailable()) return "soft-dirty";
        return "scan";
    }

    /** uffd-wp also needs ptrace (the userfaultfd is injected into the target). */
    private static Feature uffdWp() {
        return Features.ptrace().isAvailable() ? Features.uffdWriteProtect() : Features.ptrace();
    }

    private static String softDirtyReason(Feature s) {
        String c = s.unavailabilityCause() == null ? "?" : s.unavailabilityCause().getMessage();
        return c != null && c.contains("CONFIG_MEM_SOFT_DIRTY")
                ? "kernel lacks CONFIG_MEM_SOFT_DIRTY (a page written after clear_refs 4 is not soft-dirty in pagemap)"
                : "soft-dirty probe failed: " + c;
    }

    private static void require(String kind, Feature f) throws IOException {
        if (!f.isAvailable()) throw new IOException("dirty tracker " + kind + " cannot run here: " + reason(f));
    }

    private static String reason(Feature f) {
        Throwable c = f.unavailabilityCause();
        return f.name() + ": " + (c == null ? "?" : c.getMessage());
    }
}
