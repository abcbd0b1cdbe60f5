package io.checkpointd.primary.engine.patch;

import com.google.protobuf.Message;
import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Core.task_kobj_ids_entry;
import io.checkpointd.protocol.image.criu.Eventpoll.eventpoll_tfd_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.fd_types;
import io.checkpointd.protocol.image.criu.Fdinfo.fdinfo_entry;
import io.checkpointd.protocol.image.criu.Fdinfo.file_entry;
import io.checkpointd.protocol.image.criu.Regfile.reg_file_entry;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.ListIterator;
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
 *   and go without the fd table changing;</li>
 *   <li>every connected TCP socket's {@code tcp-stream-<ino>.img} ({@link TcpStreamFiles}).</li>
 * </ul>
 * The fdinfo image holds {@code fdinfo_entry{id=1, flags=2, type=3, fd=4}} in fd order; {@code files.img} holds
 * {@code file_entry{type=1, id=2, reg=3, ...}}.
 */
public final class FilesImage {
    static final String FILES = "files.img";
    private static final int FILES_MAGIC = 0x56303138, FDINFO_MAGIC = 0x56213732, IDS_MAGIC = 0x54432030;

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
            fdinfo_entry e = fdinfo.message(i, fdinfo_entry.parser());
            if (e.getType() == fd_types.REG) reg.put(e.getFd(), Integer.toUnsignedLong(e.getId()));
        }
        long netNs = -1;
        if (ids != null && !ids.isEmpty()) {
            ImageFile img = ImageFile.parse(files.get(ids), IDS_MAGIC);
            if (img.entryCount() == 1) {
                task_kobj_ids_entry k = img.message(0, task_kobj_ids_entry.parser());
                if (k.hasNetNsId()) netNs = Integer.toUnsignedLong(k.getNetNsId());
            }
        }
        return new FilesImage(fdinfos.get(0), reg, netNs);
    }

    /**
     * Replaces {@code files.img} (and the fdinfo image) in {@code files} by ones with the positions and sizes of
     * {@code open} (fd → position and size now) and the fd changes {@code fds}; unchanged bytes when nothing moved.
     */
    public void patch(Map<String, byte[]> files, Map<Integer, OpenFiles.Open> open, FdChanges fds) throws IOException {
        ImageFile img = ImageFile.parse(files.get(FILES), FILES_MAGIC);
        List<file_entry> entries = new ArrayList<>(img.entryCount());
        boolean changed = false;
        for (int i = 0; i < img.entryCount(); i++) entries.add(img.message(i, file_entry.parser()));
        changed |= patchPositions(entries, open);
        if (fds != null && !fds.withStreams(null).equals(FdChanges.NONE)) changed |= patchFds(files, entries, fds);
        if (fds != null && fds.streams() != null) TcpStreamFiles.replace(files, fds.streams());
        if (!changed) return;
        files.put(FILES, img.withMessages(entries).encode());
    }

    private boolean patchPositions(List<file_entry> entries, Map<Integer, OpenFiles.Open> open) {
        Map<Long, OpenFiles.Open> byId = new HashMap<>();
        for (Map.Entry<Integer, OpenFiles.Open> e : open.entrySet()) {
            Long id = regFileIds.get(e.getKey());
            if (id != null) byId.put(id, e.getValue());
        }
        boolean changed = false;
        for (ListIterator<file_entry> it = entries.listIterator(); it.hasNext(); ) {
            file_entry fe = it.next();
            OpenFiles.Open now = fe.getType() == fd_types.REG && fe.hasReg() ? byId.get(id(fe)) : null;
            if (now == null) continue;
            reg_file_entry reg = fe.getReg();
            if (reg.getPos() == now.pos() && (!reg.hasSize() || reg.getSize() == now.size())) continue;
            reg_file_entry.Builder r = reg.toBuilder().setPos(now.pos());
            if (reg.hasSize()) r.setSize(now.size());
            it.set(fe.toBuilder().setReg(r).build());
            changed = true;
        }
        return changed;
    }

    /** Closed and new fds into the fdinfo image and {@code entries}, and every epoll fd's registrations. */
    private boolean patchFds(Map<String, byte[]> files, List<file_entry> entries, FdChanges fds) throws IOException {
        ImageFile fdinfo = ImageFile.parse(files.get(fdinfoName), FDINFO_MAGIC);
        TreeMap<Integer, fdinfo_entry> byFd = new TreeMap<>();
        long maxId = 0;
        for (int i = 0; i < fdinfo.entryCount(); i++) {
            fdinfo_entry e = fdinfo.message(i, fdinfo_entry.parser());
            byFd.put(e.getFd(), e);
            maxId = Math.max(maxId, Integer.toUnsignedLong(e.getId()));
        }
        for (file_entry fe : entries) maxId = Math.max(maxId, id(fe));
        Set<Long> dropped = new HashSet<>();
        for (int fd : fds.closed()) {
            fdinfo_entry gone = byFd.remove(fd);
            if (gone != null) dropped.add(Integer.toUnsignedLong(gone.getId()));
        }
        boolean tableChanged = !fds.closed().isEmpty() || !fds.opened().isEmpty();
        boolean changed = tableChanged;
        Set<Long> referenced = new HashSet<>();
        for (fdinfo_entry e : byFd.values()) referenced.add(Integer.toUnsignedLong(e.getId()));
        entries.removeIf(fe -> dropped.contains(id(fe)) && !referenced.contains(id(fe)) && fe.getType() != fd_types.REG);
        // registrations of the base's epoll fds: rewritten when they differ
        Map<Long, Integer> fdOfId = new HashMap<>();
        for (fdinfo_entry e : byFd.values()) fdOfId.putIfAbsent(Integer.toUnsignedLong(e.getId()), e.getFd());
        for (ListIterator<file_entry> it = entries.listIterator(); it.hasNext(); ) {
            file_entry fe = it.next();
            if (fe.getType() != fd_types.EVENTPOLL || !fe.hasEpfd()) continue;
            Integer fd = fdOfId.get(id(fe));
            List<eventpoll_tfd_entry> now = fd == null ? null : fds.epolls().get(fd);
            if (now == null || fe.getEpfd().getTfdList().equals(now)) continue;
            it.set(fe.toBuilder().setEpfd(fe.getEpfd().toBuilder().clearTfd().addAllTfd(now)).build());
            changed = true;
        }
        for (Map.Entry<Integer, FdChanges.Opened> e : fds.opened().entrySet()) {
            FdChanges.Opened o = e.getValue();
            int id = (int) ++maxId;
            Message.Builder entry = o.entry().toBuilder();
            entry.setField(entry.getDescriptorForType().findFieldByNumber(1), id);
            if (o.netNsId() && netNsId >= 0 && entry instanceof inet_sk_entry.Builder isk) isk.setNsId((int) netNsId);
            file_entry.Builder fe = file_entry.newBuilder().setType(fd_types.forNumber(o.type())).setId(id);
            fe.setField(file_entry.getDescriptor().findFieldByNumber(o.field()), entry.build());
            entries.add(fe.build());
            byFd.put(e.getKey(), fdinfo_entry.newBuilder().setId(id).setFlags(o.fdFlags())
                    .setType(fd_types.forNumber(o.type())).setFd(e.getKey()).build());
        }
        if (tableChanged) files.put(fdinfoName, fdinfo.withMessages(new ArrayList<>(byFd.values())).encode());
        return changed;
    }

    private static long id(file_entry fe) {
        return Integer.toUnsignedLong(fe.getId());
    }
}
