package io.checkpointd.primary.engine.patch;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.ProtoMessage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Patches the position and size of open regular files into the base dump's {@code files.img}: CRIU restores a file's
 * offset from {@code reg_file_entry.pos} and refuses to open a file whose size differs from
 * {@code reg_file_entry.size}. The fd → file id map comes from the process's {@code fdinfo-<id>.img}
 * ({@code fdinfo_entry{id=1, type=3, fd=4}}); {@code files.img} holds {@code file_entry{type=1, id=2, reg=3}} with
 * {@code reg_file_entry{pos=3, size=8}} (CRIU's images/fdinfo.proto and regfile.proto, MIT).
 */
public final class FilesImage {
    static final String FILES = "files.img";
    private static final int FILES_MAGIC = 0x56303138, FDINFO_MAGIC = 0x56213732;
    private static final int FD_TYPE_REG = 1;

    /** fd → id of its file entry, for the fds that are regular files. */
    private final Map<Integer, Long> regFileIds;

    private FilesImage(Map<Integer, Long> regFileIds) {
        this.regFileIds = regFileIds;
    }

    /** Reads the fd → file map of a base dump's files; null if the dump has no single fdinfo image. */
    public static FilesImage of(Map<String, byte[]> files) throws IOException {
        List<String> fdinfos = new ArrayList<>();
        for (String name : files.keySet()) if (name.startsWith("fdinfo-") && name.endsWith(".img")) fdinfos.add(name);
        if (fdinfos.size() != 1 || !files.containsKey(FILES)) return null;
        ImageFile fdinfo = ImageFile.parse(files.get(fdinfos.get(0)), FDINFO_MAGIC);
        Map<Integer, Long> ids = new HashMap<>();
        for (int i = 0; i < fdinfo.entryCount(); i++) {
            ProtoMessage e = fdinfo.message(i);
            if (e.varint(3) == FD_TYPE_REG) ids.put((int) e.varint(4), e.varint(1));
        }
        return new FilesImage(ids);
    }

    /**
     * Replaces {@code files.img} in {@code files} by one whose regular files have the positions and sizes of
     * {@code open} (fd → position and size now); unchanged bytes when nothing moved.
     */
    public void patch(Map<String, byte[]> files, Map<Integer, OpenFiles.Open> open) throws IOException {
        Map<Long, OpenFiles.Open> byId = new HashMap<>();
        for (Map.Entry<Integer, OpenFiles.Open> e : open.entrySet()) {
            Long id = regFileIds.get(e.getKey());
            if (id != null) byId.put(id, e.getValue());
        }
        if (byId.isEmpty()) return;
        ImageFile img = ImageFile.parse(files.get(FILES), FILES_MAGIC);
        List<byte[]> entries = new ArrayList<>(img.entryCount());
        boolean changed = false;
        for (int i = 0; i < img.entryCount(); i++) {
            ProtoMessage fe = img.message(i);
            OpenFiles.Open now = fe.varint(1) == FD_TYPE_REG && fe.has(3) ? byId.get(fe.varint(2)) : null;
            if (now == null) {
                entries.add(img.entry(i));
                continue;
            }
            ProtoMessage reg = fe.message(3);
            boolean differs = reg.varint(3) != now.pos() || (reg.has(8) && reg.varint(8) != now.size());
            if (!differs) {
                entries.add(img.entry(i));
                continue;
            }
            reg.setVarint(3, now.pos());
            if (reg.has(8)) reg.setVarint(8, now.size());
            entries.add(fe.encode());
            changed = true;
        }
        if (changed) files.put(FILES, img.withEntries(entries).encode());
    }
}
