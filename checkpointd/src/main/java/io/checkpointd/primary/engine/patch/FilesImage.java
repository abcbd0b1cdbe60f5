package io.checkpointd.primary.engine.patch;

import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.ProtoMessage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Patches the base dump's {@code files.img} and fdinfo image (CRIU's images/fdinfo.proto, regfile.proto, MIT):
 * <ul>
 *   <li>the position and size of open regular files: CRIU restores a file's offset from {@code reg_file_entry.pos}
 *   and refuses to open a file whose size differs from {@code reg_file_entry.size};</li>
 *   <li>fds opened and closed since the dump ({@link FdChanges}): a closed fd's {@code fdinfo_entry} goes, and its
 *   {@code file_entry} when no fd refers to it any more (a regular file's stays: mappings and the working directory
 *   refer to those by id too); a new fd gets a fresh id, its {@code file_entry} and its {@code fdinfo_entry};</li>
 *   <li>every epoll instance's registrations ({@code eventpoll_file_entry.tfd}), which change as connections come
 *   and go without the fd table changing.</li>
 * </ul>
 * The fdinfo image holds {@code fdinfo_entry{id=1, flags=2, type=3, fd=4}} in fd order; {@code files.img} holds
 * {@code file_entry{type=1, id=2, reg=3, ...}}.
 */
public final class FilesImage {
    static final String FILES = "files.img";
    private static final int FILES_MAGIC = 0x56303138, FDINFO_MAGIC = 0x56213732, IDS_MAGIC = 0x54432030;
    private static final int FD_TYPE_REG = 1, FILE_ENTRY_EPFD = 9, EPFD_TFD = 4;

    private final String fdinfoName;
    /** fd → id of its file entry, for the fds that are regular files. */
    private final Map<Integer, Long> regFileIds;
    /** The network namespace's id in the image ({@code task_kobj_ids_entry.net_ns_id}), for new sockets; -1 if absent. */
    private final long netNsId;

    private FilesImage(String fdinfoName, Map<Integer, Long> regFileIds, long netNsId) {
        this.fdinfoName = fdinfoName;
        this.regFileIds = regFileIds;
        this.netNsId = netNsId;
    }

    /** Reads the fd → file map of a base dump's files; null if the dump has no single fdinfo image. */
    public static FilesImage of(Map<String, byte[]> files) throws IOException {
        List<String> fdinfos = new ArrayList<>();
        String ids = null;
        for (String name : files.keySet()) {
            if (name.startsWith("fdinfo-") && name.endsWith(".img")) fdinfos.add(name);
            if (name.startsWith("ids-") && name.endsWith(".img")) ids = ids == null ? name : "";
        }
        if (fdinfos.size() != 1 || !files.containsKey(FILES)) return null;
        ImageFile fdinfo = ImageFile.parse(files.get(fdinfos.get(0)), FDINFO_MAGIC);
        Map<Integer, Long> reg = new HashMap<>();
        for (int i = 0; i < fdinfo.entryCount(); i++) {
            ProtoMessage e = fdinfo.message(i);
            if (e.varint(3) == FD_TYPE_REG) reg.put((int) e.varint(4), e.varint(1));
        }
        long netNs = -1;
        if (ids != null && !ids.isEmpty()) {
            ImageFile img = ImageFile.parse(files.get(ids), IDS_MAGIC);
            if (img.entryCount() == 1) netNs = img.message(0).findVarint(6).orElse(-1);
        }
        return new FilesImage(fdinfos.get(0), reg, netNs);
    }

    /**
     * Replaces {@code files.img} (and the fdinfo image) in {@code files} by ones with the positions and sizes of
     * {@code open} (fd → position and size now) and the fd changes {@code fds}; unchanged bytes when nothing moved.
     */
    public void patch(Map<String, byte[]> files, Map<Integer, OpenFiles.Open> open, FdChanges fds) throws IOException {
        ImageFile img = ImageFile.parse(files.get(FILES), FILES_MAGIC);
        List<ProtoMessage> entries = new ArrayList<>(img.entryCount());
        boolean changed = false;
        for (int i = 0; i < img.entryCount(); i++) entries.add(img.message(i));
        changed |= patchPositions(entries, open);
        if (fds != null && !fds.equals(FdChanges.NONE)) changed |= patchFds(files, entries, fds);
        if (!changed) return;
        List<byte[]> bytes = new ArrayList<>(entries.size());
        for (ProtoMessage m : entries) bytes.add(m.encode());
        files.put(FILES, img.withEntries(bytes).encode());
    }

    private boolean patchPositions(List<ProtoMessage> entries, Map<Integer, OpenFiles.Open> open) {
        Map<Long, OpenFiles.Open> byId = new HashMap<>();
        for (Map.Entry<Integer, OpenFiles.Open> e : open.entrySet()) {
            Long id = regFileIds.get(e.getKey());
            if (id != null) byId.put(id, e.getValue());
        }
        boolean changed = false;
        for (ProtoMessage fe : entries) {
            OpenFiles.Open now = fe.varint(1) == FD_TYPE_REG && fe.has(3) ? byId.get(fe.varint(2)) : null;
            if (now == null) continue;
            ProtoMessage reg = fe.message(3);
            if (reg.varint(3) == now.pos() && (!reg.has(8) || reg.varint(8) == now.size())) continue;
            reg.setVarint(3, now.pos());
            if (reg.has(8)) reg.setVarint(8, now.size());
            changed = true;
        }
        return changed;
    }

    /** Closed and new fds into the fdinfo image and {@code entries}, and every epoll fd's registrations. */
    private boolean patchFds(Map<String, byte[]> files, List<ProtoMessage> entries, FdChanges fds) throws IOException {
        ImageFile fdinfo = ImageFile.parse(files.get(fdinfoName), FDINFO_MAGIC);
        TreeMap<Integer, ProtoMessage> byFd = new TreeMap<>();
        long maxId = 0;
        for (int i = 0; i < fdinfo.entryCount(); i++) {
            ProtoMessage e = fdinfo.message(i);
            byFd.put((int) e.varint(4), e);
            maxId = Math.max(maxId, e.varint(1));
        }
        for (ProtoMessage fe : entries) maxId = Math.max(maxId, fe.varint(2));
        Set<Long> dropped = new HashSet<>();
        for (int fd : fds.closed()) {
            ProtoMessage gone = byFd.remove(fd);
            if (gone != null) dropped.add(gone.varint(1));
        }
        boolean tableChanged = !fds.closed().isEmpty() || !fds.opened().isEmpty();
        boolean changed = tableChanged;
        Set<Long> referenced = new HashSet<>();
        for (ProtoMessage e : byFd.values()) referenced.add(e.varint(1));
        entries.removeIf(fe -> dropped.contains(fe.varint(2)) && !referenced.contains(fe.varint(2)) && fe.varint(1) != FD_TYPE_REG);
        // registrations of the base's epoll fds: rewritten when they differ
        Map<Long, Integer> fdOfId = new HashMap<>();
        for (ProtoMessage e : byFd.values()) fdOfId.putIfAbsent(e.varint(1), (int) e.varint(4));
        for (ProtoMessage fe : entries) {
            if (fe.varint(1) != FdChanges.EVENTPOLL || !fe.has(FILE_ENTRY_EPFD)) continue;
            Integer fd = fdOfId.get(fe.varint(2));
            List<ProtoMessage> now = fd == null ? null : fds.epolls().get(fd);
            if (now == null) continue;
            ProtoMessage ep = fe.message(FILE_ENTRY_EPFD);
            if (sameEncoding(ep.messages(EPFD_TFD), now)) continue;
            ep.setMessages(EPFD_TFD, now);
            changed = true;
        }
        for (Map.Entry<Integer, FdChanges.Opened> e : fds.opened().entrySet()) {
            FdChanges.Opened o = e.getValue();
            long id = ++maxId;
            ProtoMessage entry = o.entry().copy();
            entry.setVarint(1, id);
            if (o.netNsId() && netNsId >= 0) entry.setVarint(18, netNsId);
            ProtoMessage fe = new ProtoMessage();
            fe.setVarint(1, o.type());
            fe.setVarint(2, id);
            fe.setMessages(o.field(), List.of(entry));
            entries.add(fe);
            ProtoMessage fi = new ProtoMessage();
            fi.setVarint(1, id);
            fi.setVarint(2, o.fdFlags());
            fi.setVarint(3, o.type());
            fi.setVarint(4, e.getKey());
            byFd.put(e.getKey(), fi);
        }
        if (tableChanged) {
            List<byte[]> out = new ArrayList<>(byFd.size());
            for (ProtoMessage m : byFd.values()) out.add(m.encode());
            files.put(fdinfoName, fdinfo.withEntries(out).encode());
        }
        return changed;
    }

    private static boolean sameEncoding(List<ProtoMessage> a, List<ProtoMessage> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) if (!java.util.Arrays.equals(a.get(i).encode(), b.get(i).encode())) return false;
        return true;
    }
}
