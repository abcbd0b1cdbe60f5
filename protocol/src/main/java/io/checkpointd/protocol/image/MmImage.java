package io.checkpointd.protocol.image;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * A CRIU {@code mm-<id>.img} (images/mm.proto, vma.proto; MIT): one {@code mm_entry} with the address-space
 * layout (code/data/brk/stack/args/env bounds, auxv, exe file) and the VMA list. The backup reads the VMA list for
 * oracle checks and will patch anonymous VMAs the primary tracked itself; {@link #withVmas} replaces the list and
 * keeps every other field byte for byte.
 *
 * <p>Immutable. {@code parse(x).encode()} and {@code parse(x).withVmas(parse(x).vmas()).encode()} are
 * byte-identical to an {@code x} CRIU wrote.
 */
public final class MmImage {
    private static final int MM_START_BRK = 6, MM_BRK = 7, MM_VMAS = 14;

    /**
     * One {@code vma_entry}. {@code prot}, {@code flags}, {@code status} and {@code fdflags} are uint32 held in a
     * long; {@code fd} is the sint64 CRIU writes as -1; {@code madv} and {@code fdflags} are optional in the image.
     */
    public record Vma(long start, long end, long pgoff, long shmid, long prot, long flags, long status, long fd,
            OptionalLong madv, OptionalLong fdflags) {
        // vma_entry field numbers
        private static final int START = 1, END = 2, PGOFF = 3, SHMID = 4, PROT = 5, FLAGS = 6, STATUS = 7, FD = 8,
                MADV = 9, FDFLAGS = 10;

        public Vma {
            if (Long.compareUnsigned(start, end) > 0) {
                throw new IllegalArgumentException("VMA start 0x" + Long.toHexString(start) + " after end 0x" + Long.toHexString(end));
            }
        }

        public long length() {
            return end - start;
        }

        static Vma from(ProtoMessage m) {
            return new Vma(m.varint(START), m.varint(END), m.varint(PGOFF), m.varint(SHMID), m.varint(PROT),
                    m.varint(FLAGS), m.varint(STATUS), ProtoMessage.unzigzag(m.varint(FD)), m.findVarint(MADV),
                    m.findVarint(FDFLAGS));
        }

        /** As protobuf-c writes it: required fields always, optional ones when set, in number order. */
        ProtoMessage toMessage() {
            ProtoMessage m = new ProtoMessage();
            m.setVarint(START, start);
            m.setVarint(END, end);
            m.setVarint(PGOFF, pgoff);
            m.setVarint(SHMID, shmid);
            m.setVarint(PROT, prot & 0xffffffffL);
            m.setVarint(FLAGS, flags & 0xffffffffL);
            m.setVarint(STATUS, status & 0xffffffffL);
            m.setVarint(FD, ProtoMessage.zigzag(fd));
            if (madv.isPresent()) m.setVarint(MADV, madv.getAsLong());
            if (fdflags.isPresent()) m.setVarint(FDFLAGS, fdflags.getAsLong() & 0xffffffffL);
            return m;
        }
    }

    private final ImageFile file;
    private final ProtoMessage mm;
    private final List<Vma> vmas;

    private MmImage(ImageFile file, ProtoMessage mm, List<Vma> vmas) {
        this.file = file;
        this.mm = mm;
        this.vmas = vmas;
    }

    public static MmImage parse(byte[] image) throws IOException {
        ImageFile f = ImageFile.parse(image, ImageFile.MM_MAGIC);
        if (f.entryCount() != 1) throw new IOException("mm image with " + f.entryCount() + " entries, expected 1");
        ProtoMessage mm = f.message(0);
        List<Vma> vmas = new ArrayList<>();
        try {
            for (ProtoMessage m : mm.messages(MM_VMAS)) vmas.add(Vma.from(m));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new IOException("bad vma_entry in mm image: " + e.getMessage(), e);
        }
        return new MmImage(f, mm, List.copyOf(vmas));
    }

    public byte[] encode() {
        return file.withEntries(List.of(mm.encode())).encode();
    }

    /** The VMAs in image order (CRIU writes them sorted by start). */
    public List<Vma> vmas() {
        return vmas;
    }

    /** {@code mm_start_brk}: where the brk heap begins. */
    public long startBrk() {
        return mm.varint(MM_START_BRK);
    }

    /** {@code mm_brk}: the program break, the brk heap's end (CRIU reads it with {@code brk(0)} in the process). */
    public long brk() {
        return mm.varint(MM_BRK);
    }

    /** This image with another {@code mm_brk}; every other field keeps its bytes. */
    public MmImage withBrk(long brk) {
        ProtoMessage out = mm.copy();
        out.setVarint(MM_BRK, brk);
        return new MmImage(file, out, vmas);
    }

    /** A copy of the whole {@code mm_entry}, for fields this class has no accessor for. */
    public ProtoMessage message() {
        return mm.copy();
    }

    /**
     * This image with another VMA list, written where the old one was; every other field keeps its bytes. VMAs
     * must be sorted by start and must not overlap, as CRIU's restore expects.
     */
    public MmImage withVmas(List<Vma> newVmas) {
        long prevEnd = 0;
        List<ProtoMessage> msgs = new ArrayList<>(newVmas.size());
        for (Vma v : newVmas) {
            if (Long.compareUnsigned(v.start(), prevEnd) < 0) {
                throw new IllegalArgumentException("VMAs unsorted or overlapping at 0x" + Long.toHexString(v.start()));
            }
            prevEnd = v.end();
            msgs.add(v.toMessage());
        }
        ProtoMessage out = mm.copy();
        out.setMessages(MM_VMAS, msgs);
        return new MmImage(file, out, List.copyOf(newVmas));
    }
}
