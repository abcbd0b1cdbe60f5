package io.checkpointd.demo.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A service whose state is split between a file and memory, for the data-dir failover test: each {@code APPEND}
 * appends one fixed-size record (its sequence number) to {@code DIR/records.log} and counts it in memory, then
 * answers {@code OK <seq>}. {@code STAT} answers {@code STAT <count in memory> <records in the file> <ok|bad …>}, where
 * the last field says whether the file holds exactly the records 1…n in order. After a failover, memory and file
 * must agree: both come from the same committed epoch.
 *
 * <p>Usage: {@code AppendService --host H --port P --port-file F --dir D} ({@link LineServer}). Appends are
 * serialized.
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

    private String reply(String line) throws IOException {
        return switch (line.trim()) {
            case "APPEND" -> "OK " + append();
            case "STAT" -> stat();
            default -> "ERR unknown command";
        };
    }

    public static void main(String[] args) throws IOException {
        LineServer.Args a;
        try {
            a = LineServer.Args.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("AppendService: " + e.getMessage());
            System.exit(2);
            return;
        }
        AppendService svc = new AppendService(a.dir());
        LineServer.serve(a, () -> svc::reply);
    }
}
