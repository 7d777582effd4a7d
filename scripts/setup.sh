#!/usr/bin/env bash
# Installs what kvmtui needs on Debian/Ubuntu, only what is missing, then the virtualenv.
#   scripts/setup.sh run    what `make run` needs
#   scripts/setup.sh test   plus the real libvirtd + QEMU, iproute2, tmux, sshd and the
#                           kernel-VM tools the test suite uses; starts libvirtd
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
run_pkgs=(python3 python3-venv python3-dev gcc pkg-config libvirt-dev iproute2)
test_pkgs=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
           ipxe-qemu dnsmasq-base busybox-static kmod cpio tmux openssh-server openssh-client)
pkgs=("${run_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "kvmtui needs these Debian packages. Install them as root, then run this again:" >&2
        echo "  sudo sh -c '$cmd'" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    sh -c "$cmd" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.kvmtui-$mode-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    extra=""
    [ "$mode" = test ] && extra="[test]"
    .venv/bin/pip install -q --upgrade pip >/dev/null
    .venv/bin/pip install -q -e ".$extra"
    touch "$stamp"
fi

if [ "$mode" = test ]; then
    if ! virsh -c qemu:///system version >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "libvirtd is not running; start it as root: sudo systemctl start libvirtd" >&2
            exit 1
        fi
        if [ -d /run/systemd/system ]; then
            systemctl start libvirtd virtlogd || true
        else
            virtlogd -d || true
            libvirtd -d
        fi
        for _ in $(seq 50); do
            virsh -c qemu:///system version >/dev/null 2>&1 && break
            sleep 0.2
        done
        virsh -c qemu:///system version >/dev/null
    fi
fi
