package io.checkpointd.image;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.LazyFlags;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.image.PstreeImage;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link LazyFlags} against CRIU itself: CRIU's dump flags {@code PE_LAZY} on every page it could leave to a lazy
 * restore (whether or not the dump is lazy), so a real dump of the demo JVM is the oracle. Its pagemaps stripped of
 * the flag and run through {@link LazyFlags#apply} must get it back on exactly the same pages, but for the pages
 * holding a thread's stack pointer: those CRIU means to keep eager ({@code is_stack()}) but its in-page test misses
 * unless an {@code sp} is page-aligned (then it keeps every page eager; such a dump is taken again), and
 * {@link LazyFlags} keeps them eager.
 */
class LazyFlagsFidelityTest extends DetachedTargetTest {
    @Test
    void lazyPagesAreExactlyThoseCriusDumpFlags() throws Exception {
        Path portFile = tmp.resolve("port");
        int pid = targets.start(KvServerProcess.command(KvServerProcess.currentJava(), KvServerProcess.RECOMMENDED_JVM_ARGS,
                System.getProperty("java.class.path"), "127.0.0.1", 0, portFile));
        DetachedTargets.awaitFile(portFile, pid);
        try (KvClient c = KvClient.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(Files.readString(portFile).strip())))) {
            for (int i = 0; i < 50; i++) assertThat(c.put("k" + i, "v" + i)).isTrue();
        }
        Path img = null;
        java.util.Set<Long> spPages = new java.util.HashSet<>();
        for (int attempt = 0; attempt < 5; attempt++) {
            img = Files.createDirectory(tmp.resolve("img" + attempt));
            try (Freezer freezer = Freezer.forProcess(pid)) {
                freezer.freeze(Duration.ofSeconds(10));
                DetachedTargets.engineDump(Criu.locate(), pid, img, freezer);
            }
            spPages.clear();
            boolean aligned = false;
            for (int tid : PstreeImage.parse(Files.readAllBytes(img.resolve("pstree.img"))).threads(pid)) {
                long sp = CoreImage.parse(Files.readAllBytes(img.resolve("core-" + tid + ".img"))).gpregs()[19];
                spPages.add(sp & ~(long) (Pagemap.PAGE_SIZE - 1));
                aligned |= (sp & (Pagemap.PAGE_SIZE - 1)) == 0;
            }
            if (!aligned) break;
        }
        // the same image with every PE_LAZY taken off
        Path stripped = Files.createDirectory(tmp.resolve("stripped"));
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(img, "*.img")) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith("pages-")) continue;
                if (!Pagemap.isPagemapName(name)) {
                    Files.copy(p, stripped.resolve(name));
                    continue;
                }
                Pagemap pm = Pagemap.parse(Files.readAllBytes(p));
                Files.write(stripped.resolve(name), Pagemap.of(pm.pagesId(), pm.runs().stream()
                        .map(r -> new Pagemap.Run(r.vaddr(), r.nrPages(), r.flags() & ~Pagemap.PE_LAZY, -1)).toList()).encode());
            }
        }
        LazyFlags.Counts counts = LazyFlags.apply(stripped, false);

        Pagemap crius = Pagemap.parse(Files.readAllBytes(img.resolve("pagemap-" + pid + ".img")));
        Map<Long, Integer> criuFlags = flagsByPage(crius), ourFlags = flagsByPage(Pagemap.parse(Files.readAllBytes(stripped.resolve("pagemap-" + pid + ".img"))));
        assertThat(ourFlags.keySet()).isEqualTo(criuFlags.keySet());
        long lazy = 0, eager = 0, eagerInLazyVmas = 0;
        List<MmImage.Vma> vmas = MmImage.parse(Files.readAllBytes(img.resolve("mm-" + pid + ".img"))).vmas();
        long stackPages = 0;
        for (var e : criuFlags.entrySet()) {
            int expected = e.getValue();
            if (spPages.contains(e.getKey()) && (expected & Pagemap.PE_LAZY) != 0) {
                expected &= ~Pagemap.PE_LAZY;
                stackPages++;
            }
            assertThat(ourFlags.get(e.getKey())).as("flags of page 0x%x", e.getKey()).isEqualTo(expected);
            if ((expected & Pagemap.PE_LAZY) != 0) {
                lazy++;
            } else {
                eager++;
                long a = e.getKey();
                if (vmas.stream().anyMatch(v -> v.start() <= a && a < v.end() && LazyFlags.canBeLazy(v))) eagerInLazyVmas++;
            }
        }
        System.out.printf("CRIU's dump of the demo JVM: %d lazy pages, %d eager (%d of them threads' stack-pointer pages, %d of those lazy in CRIU's)%n",
                lazy, eager, eagerInLazyVmas, stackPages);
        assertThat(counts.lazyPages()).isEqualTo(lazy);
        assertThat(lazy).as("the heap is lazy").isGreaterThan(1000);
        assertThat(eager).as("file-backed pages stay eager").isPositive();
        assertThat(eagerInLazyVmas).as("pages of stack pointers stay eager").isPositive();
    }

    private static Map<Long, Integer> flagsByPage(Pagemap pm) {
        Map<Long, Integer> m = new HashMap<>();
        for (Pagemap.Run r : pm.runs()) {
            for (long i = 0; i < r.nrPages(); i++) m.put(r.vaddr() + i * Pagemap.PAGE_SIZE, r.flags());
        }
        return m;
    }
}
