package io.checkpointd.demo.disk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A service whose state is split between a file and memory, for the data-dir failover test: each {@code APPEND}
 * appends one fixed-size record (its sequence number) to {@code DIR/records.log} and counts it in memory, then
 * answers {@code OK <seq>}. {@code STAT} answers {@code STAT <count in memory> <records in the file> <ok|bad …>}, where
 * the last field says whether the file holds exactly the records 1…n in order. After a failover, memory and file
 * must agree: both come from the same committed epoch.
 *
 * <p>Usage: {@code AppendService --host H --port P --port-file F --dir D}. Line protocol over TCP, one thread per
 * connection; appends are serialized.
 */
public final class AppendService {
    /** Bytes per record: {@code "%019d\n"}. */
    public static final int RECORD = 20;

    private final FileChannel file;
    private long count;

    private AppendService(Path dir) throws IOException {
        file = FileChannel.open(dir.resolve("records.log"), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        count = file.size() / RECORD;
    }

    private synchronized long append() throws IOException {
        long seq = count + 1;
        ByteBuffer b = ByteBuffer.wrap(String.format("%019d\n", seq).getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) file.write(b, count * RECORD + b.position());
        count = seq;
        return seq;
    }

    private synchronized String stat() throws IOException {
        long size = file.size();
        String verdict = size % RECORD == 0 ? "ok" : "bad:partial-record";
        ByteBuffer b = ByteBuffer.allocate(RECORD);
        for (long i = 0; i < size / RECORD && verdict.equals("ok"); i++) {
            b.clear();
            while (b.hasRemaining() && file.read(b, i * RECORD + b.position()) > 0) { }
            String rec = new String(b.array(), StandardCharsets.US_ASCII).trim();
            if (!rec.equals(String.format("%019d", i + 1))) verdict = "bad:record-" + (i + 1) + "=" + rec;
        }
        return "STAT " + count + " " + size / RECORD + " " + verdict;
    }

    private void serve(Socket s) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            OutputStream out = s.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                String reply = switch (line.trim()) {
                    case "APPEND" -> "OK " + append();
                    case "STAT" -> stat();
                    default -> "ERR unknown command";
                };
                out.write((reply + "\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException e) {
            // the client went away (or a restore closed the connection): it reconnects
        }
    }

    public static void main(String[] args) throws IOException {
        String host = "127.0.0.1";
        int port = 0;
        Path portFile = null, dir = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                case "--dir" -> dir = Path.of(args[i + 1]);
                default -> {
                    System.err.println("AppendService: unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        if (dir == null) {
            System.err.println("AppendService: --dir is required");
            System.exit(2);
        }
        AppendService svc = new AppendService(dir);
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(host, port));
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(ss.getLocalPort()));
            Files.move(tmp, portFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        while (true) {
            Socket s = ss.accept();
            Thread t = new Thread(() -> svc.serve(s), "conn");
            t.setDaemon(true);
            t.start();
        }
    }
}
