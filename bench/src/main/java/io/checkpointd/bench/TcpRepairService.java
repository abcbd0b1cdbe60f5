package io.checkpointd.bench;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvServer;
import io.checkpointd.linux.criu.Reaper;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The protected service of {@link TcpRepairBenchmark}: the demo KV server on loopback, started detached
 * ({@code setsid -f}, stdio on /dev/null, so CRIU can dump it and this JVM, a child subreaper, reaps it), and N
 * client connections held by this JVM, each established with one request. {@link #startTraffic} keeps requests
 * going on every connection, round-robin, from two threads, until {@link #stopTraffic}.
 */
final class TcpRepairService implements AutoCloseable {
    private static final int TRAFFIC_THREADS = 2;
    private final int pid;
    private final int port;
    private final List<KvClient> clients = new ArrayList<>();
    private final List<Thread> load = new ArrayList<>();
    private final AtomicBoolean loading = new AtomicBoolean();
    private final AtomicLong requests = new AtomicLong();
    private volatile IOException loadError;

    private TcpRepairService(int pid, int port) {
        this.pid = pid;
        this.port = port;
    }

    static TcpRepairService start(Path dir, int connections) throws IOException, InterruptedException {
        Path portFile = dir.resolve("service-" + connections + ".port");
        Files.deleteIfExists(portFile);
        List<String> cmd = new ArrayList<>(List.of("setsid", "-f", io.checkpointd.demo.KvServerProcess.currentJava(), "-XX:+UseSerialGC", "-Xmx128m",
                "-cp", System.getProperty("java.class.path"), KvServer.class.getName(), "--host", "127.0.0.1", "--port", "0", "--workers", "4",
                "--port-file", portFile.toString()));
        Process setsid = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            if (!setsid.waitFor(10, TimeUnit.SECONDS)) throw new IOException("setsid -f did not return");
        } finally {
            setsid.destroyForcibly();
            setsid.waitFor(5, TimeUnit.SECONDS);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(portFile) || Files.size(portFile) == 0) {
            if (System.nanoTime() - deadline > 0) throw new IOException("the KV service did not write " + portFile + " within 60 s");
            Thread.sleep(20);
        }
        String needle = portFile.toString();
        int pid = (int) ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(a -> List.of(a).contains(needle)).orElse(false))
                .mapToLong(ProcessHandle::pid).findFirst().orElseThrow(() -> new IOException("no process serves " + needle));
        TcpRepairService s = new TcpRepairService(pid, Integer.parseInt(Files.readString(portFile).strip()));
        try {
            for (int i = 0; i < connections; i++) {
                KvClient c = KvClient.connect(new InetSocketAddress("127.0.0.1", s.port), Duration.ofSeconds(5), Duration.ofSeconds(30));
                s.clients.add(c);
                if (!c.put("k" + i, "v" + i)) throw new IOException("PUT refused on connection " + i);
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    int pid() {
        return pid;
    }

    List<KvClient> clients() {
        return clients;
    }

    /** Requests on every connection, round-robin, each thread its share; none when there are no connections. */
    void startTraffic() {
        if (clients.isEmpty()) return;
        loading.set(true);
        for (int t = 0; t < TRAFFIC_THREADS; t++) {
            int first = t;
            Thread th = new Thread(() -> {
                long n = 0;
                while (loading.get()) {
                    for (int i = first; i < clients.size() && loading.get(); i += TRAFFIC_THREADS) {
                        try {
                            clients.get(i).put("k" + i, "v" + (n++));
                            requests.incrementAndGet();
                        } catch (IOException e) {
                            loadError = e;
                            return;
                        }
                    }
                }
            }, "tcp-repair-load-" + t);
            th.setDaemon(true);
            th.start();
            load.add(th);
        }
    }

    /** Stops the requests; returns how many completed since the start. */
    long stopTraffic() throws IOException, InterruptedException {
        loading.set(false);
        for (Thread t : load) t.join(TimeUnit.SECONDS.toMillis(30));
        load.clear();
        if (loadError != null) throw new IOException("a request failed during the run", loadError);
        return requests.getAndSet(0);
    }

    /** Kills the service (if still there) and closes the connections. */
    @Override
    public void close() throws InterruptedException {
        loading.set(false);
        for (KvClient c : clients) c.close();
        if (!Reaper.killAndReap(pid, Duration.ofSeconds(20))) System.err.println("[bench] WARNING: service " + pid + " still there");
    }
}
