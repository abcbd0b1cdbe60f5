package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.Mm.mm_entry;
import io.checkpointd.protocol.image.criu.Vma.vma_entry;

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
    /** {@code vma_entry.status} bits (criu/include/image.h). */
    public static final long VMA_AREA_REGULAR = 1, VMA_AREA_VSYSCALL = 1 << 2, VMA_AREA_VDSO = 1 << 3, VMA_AREA_HEAP = 1 << 5,
            VMA_FILE_PRIVATE = 1 << 6, VMA_ANON_PRIVATE = 1 << 9, VMA_AREA_VVAR = 1 << 12;

    /**
     * One {@code vma_entry}. {@code prot}, {@code flags}, {@code status} and {@code fdflags} are uint32 held in a
     * long; {@code fd} is the sint64 CRIU writes as -1; {@code madv} and {@code fdflags} are optional in the image.
     */
    public record Vma(long start, long end, long pgoff, long shmid, long prot, long flags, long status, long fd,
            OptionalLong madv, OptionalLong fdflags) {
        public Vma {
            if (Long.compareUnsigned(start, end) > 0) {
                throw new IllegalArgumentException("VMA start 0x" + Long.toHexString(start) + " after end 0x" + Long.toHexString(end));
            }
        }

        public long length() {
            return end - start;
        }

        static Vma from(vma_entry m) {
            return new Vma(m.getStart(), m.getEnd(), m.getPgoff(), m.getShmid(), Integer.toUnsignedLong(m.getProt()),
                    Integer.toUnsignedLong(m.getFlags()), Integer.toUnsignedLong(m.getStatus()), m.getFd(),
                    m.hasMadv() ? OptionalLong.of(m.getMadv()) : OptionalLong.empty(),
                    m.hasFdflags() ? OptionalLong.of(Integer.toUnsignedLong(m.getFdflags())) : OptionalLong.empty());
        }

        vma_entry toMessage() {
            vma_entry.Builder m = vma_entry.newBuilder().setStart(start).setEnd(end).setPgoff(pgoff).setShmid(shmid)
                    .setProt((int) prot).setFlags((int) flags).setStatus((int) status).setFd(fd);
            if (madv.isPresent()) m.setMadv(madv.getAsLong());
            if (fdflags.isPresent()) m.setFdflags((int) fdflags.getAsLong());
            return m.build();
        }
    }

    private final ImageFile file;
    private final mm_entry mm;
    private final List<Vma> vmas;

    private MmImage(ImageFile file, mm_entry mm, List<Vma> vmas) {
        this.file = file;
        this.mm = mm;
        this.vmas = vmas;
    }

    public static MmImage parse(byte[] image) throws IOException {
        ImageFile f = ImageFile.parse(image, ImageFile.MM_MAGIC);
        if (f.entryCount() != 1) throw new IOException("mm image with " + f.entryCount() + " entries, expected 1");
        mm_entry mm = f.message(0, mm_entry.parser());
        List<Vma> vmas = new ArrayList<>();
        try {
            for (vma_entry m : mm.getVmasList()) vmas.add(Vma.from(m));
        } catch (IllegalArgumentException e) {
            throw new IOException("bad vma_entry in mm image: " + e.getMessage(), e);
        }
        return new MmImage(f, mm, List.copyOf(vmas));
    }

    public byte[] encode() {
        return file.withMessages(List.of(mm)).encode();
    }

    /** The VMAs in image order (CRIU writes them sorted by start). */
    public List<Vma> vmas() {
        return vmas;
    }

    /** {@code mm_start_brk}: where the brk heap begins. */
    public long startBrk() {
        return mm.getMmStartBrk();
    }

    /** {@code mm_brk}: the program break, the brk heap's end (CRIU reads it with {@code brk(0)} in the process). */
    public long brk() {
        return mm.getMmBrk();
    }

    /** This image with another {@code mm_brk}; every other field as it was. */
    public MmImage withBrk(long brk) {
        return new MmImage(file, mm.toBuilder().setMmBrk(brk).build(), vmas);
    }

    /** The whole {@code mm_entry} (immutable), for fields this class has no accessor for. */
    public mm_entry message() {
        return mm;
    }

    /**
     * This image with another VMA list, written where the old one was; every other field keeps its bytes. VMAs
     * must be sorted by start and must not overlap, as CRIU's restore expects.
     */
    public MmImage withVmas(List<Vma> newVmas) {
        long prevEnd = 0;
        List<vma_entry> msgs = new ArrayList<>(newVmas.size());
        for (Vma v : newVmas) {
            if (Long.compareUnsigned(v.start(), prevEnd) < 0) {
                throw new IllegalArgumentException("VMAs unsorted or overlapping at 0x" + Long.toHexString(v.start()));
            }
            prevEnd = v.end();
            msgs.add(v.toMessage());
        }
        return new MmImage(file, mm.toBuilder().clearVmas().addAllVmas(msgs).build(), List.copyOf(newVmas));
    }
}
