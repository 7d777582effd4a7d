#!/bin/busybox sh
# /init of the kernel-VM initramfs (built by vm.py). It turns the host's / (shared read-only
# over 9p) into a writable root with a tmpfs overlay, switches into it and runs the command
# the runner left in the control share, then powers off. Everything it says goes to ttyS0,
# the kernel log; only the command's own output goes to ttyS1.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t devtmpfs dev /dev
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

fail() {
    echo "kernelvm-init: $*"
    echo o >/proc/sysrq-trigger
    sleep 60
}

# virtio-pci, 9p and overlay, in dependency order (vm.py wrote the order into /modules).
while read -r ko; do
    insmod "/lib/modules/$ko" || fail "insmod $ko failed"
done </modules

p9="trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /lower /rw /ctl /newroot
# The lower layer only changes under us if someone edits the host meanwhile: cache it.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /lower || fail "cannot mount the host root"
mount -t 9p -o "$p9" ctl /ctl || fail "cannot mount the control share"
. /ctl/config  # KERNELVM_CTL (the host path of /ctl) and KERNELVM_MODULES

mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    fail "cannot mount the overlay"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
mount -t tmpfs -o mode=0755 tmpfs $r/run

# The writable shares appear at their host paths (after /tmp, which may hold them).
mkdir -p "$r$KERNELVM_CTL"
mount --bind /ctl "$r$KERNELVM_CTL"
while read -r tag path; do
    mkdir -p "$r$path" && mount -t 9p -o "$p9" "$tag" "$r$path" || fail "cannot mount $path"
done </ctl/mounts

# modprobe (the host's kmod) finds the extracted Debian modules where it expects them.
release=$(uname -r)
mkdir -p "$r/lib/modules/$release"
mount --bind "$r$KERNELVM_MODULES" "$r/lib/modules/$release"

hostname kernelvm
ip link set lo up
stty -F /dev/ttyS1 raw -echo
uname -r >/ctl/started
echo "kernelvm-init: running the command"

# PID 1 must do the chroot itself (switch_root execs in place): kernel threads share its
# fs root, so the modprobe the kernel spawns for "ip link add type bond" sees the new root.
exec switch_root /newroot /bin/sh -c '
    env -i sh "$1/cmd.sh" </dev/null >/dev/ttyS1 2>&1
    echo $? >"$1/status"
    echo o >/proc/sysrq-trigger
    sleep 60' kernelvm-init "$KERNELVM_CTL"
