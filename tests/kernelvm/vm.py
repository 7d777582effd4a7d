"""Run a command inside a throwaway VM booted from a stock Debian kernel.

This host's kernel lacks bonding, 8021q, dummy, team and bridge VLAN filtering, so tests for
those run under another kernel: QEMU with TCG (the CPU has no vmx/svm), booting a pinned
Debian linux-image with a tiny busybox initramfs. The guest's root is the host's / shared
read-only over 9p with a tmpfs overlay on top, so the host's Python, virtualenv and checkout
work unchanged and nothing the guest does reaches the host, except the command's output
(ttyS1), its exit status and the directories explicitly shared writable (at the same path).

    python -m tests.kernelvm.vm [--rw DIR]... [--] CMD...

runs CMD in the VM in the current directory and exits with its status (125 if the VM failed).
Kernel and initramfs are cached in .cache/kernelvm/ and rebuilt when stale.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import lzma
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "kernelvm"
INIT = Path(__file__).with_name("init.sh")
BUSYBOX = Path("/bin/busybox")  # busybox-static: the initramfs has no libc

# What linux-image-amd64 depended on when this was written; the cloud flavour lacks 9p.
ABI = os.environ.get("KVMTUI_KERNELVM_ABI", "6.1.0-56-amd64")
# Only the leaves: modules.dep brings virtio, virtio_ring, 9pnet, netfs, fscache...
INITRAMFS_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
VIRTIO_NIC_MAC = "52:54:00:6b:7e:01"  # the VM's one NIC (tests/test_nic_facts_kernelvm.py)

TIMEOUT = float(os.environ.get("KVMTUI_KERNELVM_TIMEOUT", "3000"))  # a whole pytest session (40 tests under TCG: ~30 min)
SILENT_HANG = 60.0  # about one boot in forty hangs before printing anything: retry those
START_HANG = 180.0  # booted normally takes ~3 s: if the command has not started by now, retry

# The env the command gets: the guest starts from an empty one (env -i), not the host's.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "CI")

STATUS_VM_FAILED = 125


class VMError(RuntimeError):
    """The VM could not run the command (download, boot or timeout trouble)."""


class _Hang(VMError):
    """The VM hung while booting: worth one retry."""


@dataclass
class Result:
    status: int  # the command's exit status
    release: str  # uname -r inside the VM
    boot_s: float  # wall clock from starting QEMU to starting the command
    total_s: float  # wall clock for the whole VM run, retries included
    attempts: int
    kernel_log: Path


def log(msg: str) -> None:
    print(f"kernelvm: {msg}", file=sys.stderr, flush=True)


# --- kernel and initramfs, cached -------------------------------------------------------


def _sh(*cmd: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise VMError(f"{' '.join(map(str, cmd))} failed: {proc.stderr.strip()}")
    return proc.stdout


def _current_abi() -> str:
    """The ABI linux-image-amd64 depends on today, e.g. 6.1.0-56-amd64."""
    for line in _sh("apt-cache", "depends", "linux-image-amd64").splitlines():
        name = line.split(":", 1)[-1].strip()
        if line.strip().startswith("Depends:") and name.startswith("linux-image-"):
            return name.removeprefix("linux-image-")
    raise VMError("apt-cache depends linux-image-amd64 names no linux-image-*")


def _download(abi: str, dest: Path) -> Path:
    """apt-get download linux-image-<abi>, running apt-get update once if apt has no list."""
    pkg = f"linux-image-{abi}"
    cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg]
    if subprocess.run(cmd, cwd=dest, capture_output=True).returncode != 0:
        log("apt-get update")
        _sh("apt-get", "update", "-q")
        _sh(*cmd, cwd=dest)
    return next(dest.glob(f"{pkg}_*.deb"))


def _modules_dir(root: Path) -> Path:
    return next(root.glob("*lib/modules/*/modules.order")).parent


def kernel(abi: str = ABI) -> Path:
    """The extracted linux-image package (boot/vmlinuz-*, lib/modules/*), depmod'ed."""
    root = CACHE / f"linux-{abi}"
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        log(f"downloading linux-image-{abi}")
        try:
            deb = _download(abi, Path(tmp))
        except (VMError, StopIteration):
            current = _current_abi()
            if current == abi:
                raise
            # Debian drops superseded ABIs from the archive; a newer kernel beats no kernel.
            log(f"linux-image-{abi} is gone from the archive, using {current}")
            kernel(current)
            root.symlink_to(f"linux-{current}")  # and stop asking apt for the old one
            return root
        shutil.rmtree(root, ignore_errors=True)
        _sh("dpkg-deb", "-x", deb, root)
    moddir = _modules_dir(root)
    # The package ships no modules.dep: modprobe needs it.
    _sh("depmod", "-b", moddir.parents[2], moddir.name)
    _extract_vmlinux(root)
    (root / ".complete").touch()
    return root


def _extract_vmlinux(root: Path) -> None:
    """Unpack the ELF kernel from the bzImage: QEMU boots it directly (PVH entry point),
    skipping the BIOS and the in-guest xz decompression, ~3 s of the ~6 s boot under TCG."""
    config = next((root / "boot").glob("config-*")).read_text()
    bzimage = next((root / "boot").glob("vmlinuz-*")).read_bytes()
    start = bzimage.find(b"\xfd7zXZ\x00")
    if "CONFIG_PVH=y" in config and "CONFIG_KERNEL_XZ=y" in config and start > 0:
        (root / "boot" / "vmlinux").write_bytes(lzma.LZMADecompressor().decompress(bzimage[start:]))


def _boot_image(root: Path) -> Path:
    vmlinux = root / "boot" / "vmlinux"
    return vmlinux if vmlinux.exists() else next((root / "boot").glob("vmlinuz-*"))


def _load_order(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    """Module paths (relative to moddir) to insmod in order, from modules.dep."""
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
    by_name = {Path(m).name.split(".ko")[0].replace("-", "_"): m for m in deps}
    builtin = (moddir / "modules.builtin").read_text()
    order: list[str] = []

    def visit(mod: str) -> None:
        for dep in deps[mod]:
            visit(dep)
        if mod not in order:
            order.append(mod)

    for name in wanted:
        if name in by_name:
            visit(by_name[name])
        elif f"/{name}.ko" not in builtin:
            raise VMError(f"kernel module {name} is neither built in nor in {moddir}")
    return order


def _cpio(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A newc cpio archive of {path: (mode, content)}; no root needed, byte-for-byte stable."""
    out = bytearray()
    for ino, (name, (mode, data)) in enumerate([*files.items(), ("TRAILER!!!", (0, b""))], 1):
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        for part in (b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0", data):
            out += part + b"\0" * (-(len(out) + len(part)) % 4)  # each padded to 4 bytes
    return bytes(out)


def _read_module(path: Path) -> bytes:
    """A module's bytes, decompressed: busybox insmod does not decompress."""
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return path.read_bytes()


def initramfs(kroot: Path) -> Path:
    """busybox + init.sh + the modules for virtio-pci/9p/overlay; named by a content hash."""
    moddir = _modules_dir(kroot)
    order = _load_order(moddir, INITRAMFS_MODULES)
    key = hashlib.sha256()
    # Stale when this builder, init.sh, busybox or the kernel change.
    for part in (Path(__file__).read_bytes(), INIT.read_bytes(), BUSYBOX.read_bytes(), str(moddir).encode()):
        key.update(hashlib.sha256(part).digest())
    path = CACHE / f"initramfs-{key.hexdigest()[:16]}.cpio.gz"
    if path.exists():
        return path
    dirs = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "lib", "lib/modules")
    files = {d: (0o040755, b"") for d in dirs}
    files["bin/busybox"] = (0o100755, BUSYBOX.read_bytes())
    files["init"] = (0o100755, INIT.read_bytes())
    names = []
    for mod in order:
        name = Path(mod).name.split(".ko")[0] + ".ko"
        files[f"lib/modules/{name}"] = (0o100644, _read_module(moddir / mod))
        names.append(name)
    files["modules"] = (0o100644, "".join(f"{n}\n" for n in names).encode())
    for old in CACHE.glob("initramfs-*.cpio.gz"):
        old.unlink()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(_cpio(files), mtime=0))
    tmp.rename(path)
    return path


def prepare() -> tuple[Path, Path, Path]:
    """(kernel image, initramfs, modules dir), built or downloaded if missing; safe to race."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kroot = kernel()
        return _boot_image(kroot), initramfs(kroot), _modules_dir(kroot)


# --- running a command --------------------------------------------------------------------


def _qemu(image: Path, initrd: Path, ctl: Path, rw_dirs: list[Path]) -> list[str]:
    def share(tag: str, path: Path, *opts: str) -> list[str]:
        fsdev = ",".join([f"local,id={tag},path={path},security_model=none", *opts])
        return ["-fsdev", fsdev, "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]

    cmd = [
        "qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-cpu", "max", "-smp", "2",
        "-m", "1024", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(image), "-initrd", str(initrd),
        "-append", "console=ttyS0 panic=-1 mitigations=off",
        "-serial", f"file:{ctl / 'kernel.log'}", "-serial", f"file:{ctl / 'output'}",
        *share("hostroot", Path("/"), "readonly=on", "multidevs=remap"),
        *share("ctl", ctl),
        # a virtio NIC for the NIC-facts test: no driver is loaded until a test loads virtio_net
        # (no udev here), and user networking with restrict=on reaches nothing outside the VM
        "-netdev", "user,id=wire0,restrict=on", "-device", f"virtio-net-pci,netdev=wire0,mac={VIRTIO_NIC_MAC}",
    ]  # fmt: skip
    for i, path in enumerate(rw_dirs):
        cmd += share(f"rw{i}", path)
    return cmd


def _boot(cmd: list[str], ctl: Path, out, timeout: float, stop: threading.Event | None = None) -> tuple[int, str, float]:
    """One VM run: stream ttyS1 to out, return (status, release, boot seconds). `stop` set:
    QEMU is killed (the host session ended before it needed the VM's results)."""
    boot = 0.0
    klog, output, started = ctl / "kernel.log", ctl / "output", ctl / "started"
    output.touch()
    t0 = time.monotonic()
    with open(ctl / "qemu.stderr", "wb") as err, open(output, "rb") as stream:
        # niced: when the host's tests run meanwhile, their timing comes first; alone, it changes nothing
        proc = subprocess.Popen(["nice", "-n", "10", *cmd], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            while True:
                rc = proc.poll()
                if chunk := stream.read():
                    out.write(chunk)
                    out.flush()
                if rc is not None:
                    break
                elapsed = time.monotonic() - t0
                if not boot and started.exists():
                    boot = elapsed
                if elapsed > SILENT_HANG and not klog.stat().st_size:
                    raise _Hang(f"no kernel output within {SILENT_HANG:.0f} s")
                if elapsed > START_HANG and not started.exists():
                    raise _Hang(f"the command had not started after {START_HANG:.0f} s")
                if elapsed > timeout:
                    raise VMError(f"timed out after {timeout:.0f} s")
                if stop is not None and stop.is_set():
                    raise VMError("stopped: the host session ended first")
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if rc != 0:
        raise VMError(f"qemu exited with {rc}: {(ctl / 'qemu.stderr').read_text().strip()}")
    try:
        status = int((ctl / "status").read_text())
        release = started.read_text().strip()
    except (OSError, ValueError):
        tail = "\n".join(klog.read_text(errors="replace").splitlines()[-25:])
        raise VMError(f"the VM stopped without running the command; kernel log tail:\n{tail}") from None
    return status, release, boot


def run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    rw_dirs: list[Path | str] = (),
    out=None,
    timeout: float = TIMEOUT,
    stop: threading.Event | None = None,
) -> Result:
    """Run cmd in a fresh VM, streaming its output (stdout+stderr) to out (a binary file).

    env adds to the few variables passed through (PASS_ENV) and KVMTUI_IN_KERNELVM=1;
    rw_dirs are host directories the command may write to, at the same path.
    """
    out = out or sys.stdout.buffer
    image, initrd, moddir = prepare()
    full_env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    full_env |= {k: v for k, v in os.environ.items() if k.startswith("KVMTUI_")}
    full_env |= (env or {}) | {"KVMTUI_IN_KERNELVM": "1"}
    rw = [Path(p).resolve() for p in rw_dirs]
    script = f"cd {shlex.quote(str(cwd or os.getcwd()))} || exit {STATUS_VM_FAILED}\n"
    script += "".join(f"export {k}={shlex.quote(v)}\n" for k, v in full_env.items())
    script += f"exec {shlex.join(cmd)}\n"
    t0 = time.monotonic()
    for attempt in (1, 2):
        with tempfile.TemporaryDirectory(prefix="kernelvm-") as tmp:
            ctl = Path(tmp)
            (ctl / "cmd.sh").write_text(script)
            (ctl / "mounts").write_text("".join(f"rw{i} {p}\n" for i, p in enumerate(rw)))
            (ctl / "config").write_text(
                # resolved: init.sh mounts it before the chroot, where a symlinked .cache
                # (a worktree's, to the main checkout's) would point outside the new root
                f"KERNELVM_CTL={shlex.quote(str(ctl))}\nKERNELVM_MODULES={shlex.quote(str(moddir.resolve()))}\n"
            )
            try:
                status, release, boot = _boot(_qemu(image, initrd, ctl, rw), ctl, out, timeout, stop)
            except _Hang as e:
                if attempt == 2:
                    raise VMError(f"{e} (twice)") from None
                log(f"{e}; retrying")
                continue
            finally:
                if (ctl / "kernel.log").exists():
                    shutil.copy(ctl / "kernel.log", CACHE / "last-kernel.log")
            return Result(status, release, boot, time.monotonic() - t0, attempt, CACHE / "last-kernel.log")
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kernelvm.vm", description=__doc__.split("\n")[0])
    parser.add_argument("--rw", action="append", default=[], metavar="DIR", help="share DIR writable")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given")
    try:
        res = run(cmd, rw_dirs=args.rw)
    except VMError as e:
        log(str(e))
        return STATUS_VM_FAILED
    log(f"{res.release}: booted in {res.boot_s:.1f} s, {res.total_s:.1f} s in all, exit status {res.status}")
    return res.status


if __name__ == "__main__":
    sys.exit(main())
