#!/bin/bash
# Boots systemd as PID 1 of new pid, mount, cgroup, network, uts and ipc namespaces, over a READ-ONLY view of the
# host's root: /tmp, /run, /var/log, /var/tmp, /dev, /etc/systemd/system are private tmpfs, /proc/sys is read-only,
# /sys/fs/cgroup is a cgroup2 mount of the namespace's own subtree. Nothing systemd or its units do can write the
# host's files (a first attempt without this let sysinit.target's systemd-tmpfiles empty the host's /tmp).
# Only units without default dependencies may be started: the target pulls in a D-Bus of that kind.
#   boot.sh ROOT CGROUP UNITS RELEASE
#   ROOT: an empty directory (mount point of the view); CGROUP: a cgroup v2 directory to run in (created);
#   UNITS: unit files copied to /etc/systemd/system; RELEASE: bind-mounted at /tmp/release.
set -euo pipefail
ROOT=$1 CGROUP=$2 UNITS=$3 RELEASE=$4
mkdir -p "$CGROUP" "$ROOT"
echo $$ > "$CGROUP/cgroup.procs"
export ROOT UNITS RELEASE
exec unshare --pid --fork --mount --cgroup --net --uts --ipc --propagation private bash -c '
set -euo pipefail
R=$ROOT
mount --rbind / "$R"
umount -R "$R/sys/fs/cgroup"
for m in $(findmnt -R -n -l -o TARGET "$R" | sort -r); do
  mount -o remount,bind,ro "$m" || { echo "boot.sh: cannot make $m read-only" >&2; exit 1; }
done
for d in tmp run var/log var/tmp dev etc/systemd/system; do mount -t tmpfs -o mode=0755 tmpfs "$R/$d"; done
chmod 1777 "$R/tmp" "$R/var/tmp"
for n in null zero full random urandom tty; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/pts" "$R/dev/shm" "$R/tmp/release"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount --bind "$RELEASE" "$R/tmp/release"
cp -r "$UNITS"/. "$R/etc/systemd/system/"
ip link set lo up
exec chroot "$R" /usr/bin/env container=other /usr/lib/systemd/systemd --system --unit=checkpointd-test.target
'
