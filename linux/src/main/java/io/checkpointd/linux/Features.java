package io.checkpointd.linux;

import com.sun.jna.Pointer;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.linux.uffd.Userfaultfd;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What this machine offers checkpointd, each probed once (on first use) and explaining itself. The probes
 * try the real thing on this JVM's own memory where that is cheap, rather than trusting kernel versions.
 */
public final class Features {
    private static final int PAGE = 4096;
    // <sys/mman.h>
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
    // <linux/capability.h>
    private static final int CAP_SYS_PTRACE = 19, CAP_SYS_ADMIN = 21;

    private Features() {
    }

    /** Async userfaultfd write-protect ({@code WP_ASYNC|WP_UNPOPULATED}) plus {@code PAGEMAP_SCAN}: the kernel 6.7+ dirty tracker. */
    public static Feature uffdWriteProtect() {
        return UffdHolder.F;
    }

    /** Soft-dirty bits ({@code /proc/PID/clear_refs} "4", pagemap bit 55): the tracker of older and most distro kernels. */
    public static Feature softDirty() {
        return SoftDirtyHolder.F;
    }

    /** Whether this process may ptrace others: root or {@code CAP_SYS_PTRACE}, and Yama does not forbid it. */
    public static Feature ptrace() {
        return PtraceHolder.F;
    }

    /** Network namespaces can be made ({@code /proc/self/ns/net} exists and we hold {@code CAP_SYS_ADMIN}). */
    public static Feature networkNamespaces() {
        return NetnsHolder.F;
    }

    /** NFQUEUE (packet-level output buffering): {@code nfnetlink_queue} loaded or its module present. */
    public static Feature nfqueue() {
        return NfqueueHolder.F;
    }

    /** Which cgroup freezer this machine has. */
    public static FreezerKind freezerKind() {
        return FreezerHolder.K;
    }

    /** All boolean probes, for a startup log line or {@code checkpointd check}. */
    public static List<Feature> all() {
        return List.of(uffdWriteProtect(), softDirty(), ptrace(), networkNamespaces(), nfqueue());
    }

    // Holder classes: the JVM runs each probe exactly once, on first use, thread-safely.
    private static final class UffdHolder {
        static final Feature F = probeUffd();
    }

    private static final class SoftDirtyHolder {
        static final Feature F = probeSoftDirty();
    }

    private static final class PtraceHolder {
        static final Feature F = probePtrace();
    }

    private static final class NetnsHolder {
        static final Feature F = probeNetns();
    }

    private static final class NfqueueHolder {
        static final Feature F = probeNfqueue();
    }

    private static final class FreezerHolder {
        static final FreezerKind K = FreezerKind.detect();
    }

    private static boolean x86_64() {
        String arch = System.getProperty("os.arch");
        return "amd64".equals(arch) || "x86_64".equals(arch);
    }

    private static Feature probeUffd() {
        String name = "uffd-wp-async";
        if (!x86_64()) return Feature.unavailable(name, "syscall numbers are x86_64 only, this is " + System.getProperty("os.arch"));
        Pointer page = null;
        try (Userfaultfd uffd = Userfaultfd.create(Syscalls.O_CLOEXEC | Syscalls.O_NONBLOCK)) {
            long have;
            try {
                have = uffd.api(Userfaultfd.TRACKING_FEATURES);
            } catch (SyscallException e) {
                return Feature.unavailable(name, new IOException("kernel rejects UFFD_FEATURE_WP_ASYNC|WP_UNPOPULATED (needs 6.7+)", e));
            }
            if ((have & Userfaultfd.TRACKING_FEATURES) != Userfaultfd.TRACKING_FEATURES) {
                return Feature.unavailable(name, String.format("UFFDIO_API features 0x%x lack WP_ASYNC|WP_UNPOPULATED", have));
            }
            page = mmapPage();
            long a = Pointer.nativeValue(page);
            page.setByte(0, (byte) 1);
            uffd.register(a, PAGE, Userfaultfd.UFFDIO_REGISTER_MODE_WP);
            uffd.writeProtect(a, PAGE, true);
            page.setByte(0, (byte) 2); // resolved by the kernel (async), recorded as written
            try (PagemapScan scan = PagemapScan.open(0)) {
                List<PagemapScan.PageRegion> w = scan.written(a, a + PAGE, true);
                if (w.size() != 1 || w.get(0).start() != a) return Feature.unavailable(name, "PAGEMAP_SCAN did not report the written probe page: " + w);
                if (!scan.written(a, a + PAGE, true).isEmpty()) return Feature.unavailable(name, "PAGEMAP_SCAN reported a page that was not written again");
            }
            uffd.unregister(a, PAGE);
            return Feature.available(name);
        } catch (SyscallException | RuntimeException e) {
            return Feature.unavailable(name, e);
        } finally {
            if (page != null) LibC.INSTANCE.munmap(page, PAGE);
        }
    }

    private static Feature probeSoftDirty() {
        String name = "soft-dirty";
        Pointer page = null;
        try {
            page = mmapPage();
            long a = Pointer.nativeValue(page);
            page.setByte(0, (byte) 1);
            // "4" clears the soft-dirty bits of this whole process; harmless, nothing tracks the daemon itself.
            Files.writeString(Path.of("/proc/self/clear_refs"), "4");
            page.setByte(0, (byte) 2);
            long entry = pagemapEntry(a);
            if ((entry & (1L << 55)) == 0) {
                return Feature.unavailable(name, "a page written after clear_refs=4 is not soft-dirty in /proc/self/pagemap"
                        + " (kernel built without CONFIG_MEM_SOFT_DIRTY)");
            }
            return Feature.available(name);
        } catch (IOException | RuntimeException e) {
            return Feature.unavailable(name, e);
        } finally {
            if (page != null) LibC.INSTANCE.munmap(page, PAGE);
        }
    }

    private static Feature probePtrace() {
        String name = "ptrace";
        try {
            Path yama = Path.of("/proc/sys/kernel/yama/ptrace_scope");
            int scope = Files.exists(yama) ? Integer.parseInt(Files.readString(yama).trim()) : 0;
            if (scope >= 3) return Feature.unavailable(name, "Yama ptrace_scope is 3: ptrace disabled until reboot");
            boolean cap = hasCapability(CAP_SYS_PTRACE);
            if (Syscalls.geteuid() != 0 && !cap) {
                return Feature.unavailable(name, "neither root nor CAP_SYS_PTRACE" + (scope > 0 ? " (Yama ptrace_scope " + scope + ")" : ""));
            }
            if (!cap && scope >= 1) return Feature.unavailable(name, "Yama ptrace_scope " + scope + " needs CAP_SYS_PTRACE");
            return Feature.available(name);
        } catch (IOException | RuntimeException e) {
            return Feature.unavailable(name, e);
        }
    }

    private static Feature probeNetns() {
        String name = "network-namespaces";
        try {
            if (!Files.exists(Path.of("/proc/self/ns/net"))) return Feature.unavailable(name, "/proc/self/ns/net missing (kernel without CONFIG_NET_NS)");
            if (!hasCapability(CAP_SYS_ADMIN)) return Feature.unavailable(name, "CAP_SYS_ADMIN needed to create network namespaces");
            return Feature.available(name);
        } catch (IOException | RuntimeException e) {
            return Feature.unavailable(name, e);
        }
    }

    private static Feature probeNfqueue() {
        String name = "nfqueue";
        try {
            if (Files.exists(Path.of("/proc/net/netfilter/nfnetlink_queue"))) return Feature.available(name);
            // not Files.readString: it trusts the file size, and JDK 17 returns only the first byte of a sysctl file
            String release = Files.readAllLines(Path.of("/proc/sys/kernel/osrelease")).get(0).trim();
            Path mods = Path.of("/lib/modules", release);
            Path builtin = mods.resolve("modules.builtin");
            if (Files.exists(builtin) && Files.readString(builtin).contains("nfnetlink_queue.ko")) return Feature.available(name);
            Path dep = mods.resolve("modules.dep");
            if (Files.exists(dep) && Files.readString(dep).contains("nfnetlink_queue.ko")) return Feature.available(name);
            return Feature.unavailable(name, "nfnetlink_queue neither loaded nor found in " + mods);
        } catch (IOException | RuntimeException e) {
            return Feature.unavailable(name, e);
        }
    }

    private static Pointer mmapPage() {
        Pointer p = LibC.INSTANCE.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (Pointer.nativeValue(p) == -1L) throw new IllegalStateException(new SyscallException("mmap", com.sun.jna.Native.getLastError()));
        return p;
    }

    private static long pagemapEntry(long address) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile("/proc/self/pagemap", "r")) {
            f.seek(address / PAGE * 8);
            byte[] b = new byte[8];
            f.readFully(b);
            return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }
    }

    /** Whether bit {@code cap} is set in {@code CapEff} of {@code /proc/self/status}. */
    private static boolean hasCapability(int cap) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("CapEff:")) return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << cap)) != 0;
        }
        return false;
    }

    /** One line per probe, for a startup log or {@code checkpointd check}. */
    public static String describe() {
        StringBuilder sb = new StringBuilder();
        for (Feature f : all()) sb.append(f).append('\n');
        return sb.append("freezer: ").append(freezerKind()).toString();
    }
}
