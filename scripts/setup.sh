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
           ipxe-qemu dnsmasq-base busybox-static kmod cpio tmux openssh-server openssh-client
           network-manager dbus-daemon ifupdown2 netplan.io  # NM in a test namespace, on a private bus (tests/networkmanager.py)
           openvswitch-switch  # a private OVS in a namespace, userspace datapath (tests/ovs.py)
           ethtool  # rx VLAN offload on/off on a veth (tests/test_identify_wire.py)
           lldpd)  # two LLDP daemons in namespaces, private control sockets (tests/test_identify_lldpd.py)
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
    log=$(mktemp)
    if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e ".$extra"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    touch "$stamp"
fi

# `kvmtui` on PATH, as the README's examples type it (root only: /usr/local/bin).
if [ "$(id -u)" -eq 0 ]; then
    scripts/install_launcher.sh
elif ! command -v kvmtui >/dev/null; then
    echo "setup: kvmtui is $PWD/.venv/bin/kvmtui (as root, setup links it into /usr/local/bin)" >&2
fi

if [ "$mode" = test ]; then
    as_root() {
        if [ "$(id -u)" -ne 0 ]; then
            echo "the tests need root to $1; run as root: sudo make test" >&2
            exit 1
        fi
    }
    # Without udev (containers, minimal VMs) /dev/kvm stays root-only; libvirt then
    # re-probes QEMU on every call (tens of seconds per guest start). udev's rule:
    if [ -c /dev/kvm ] && [ "$(stat -c %a /dev/kvm)" = 600 ]; then
        as_root "fix /dev/kvm permissions"
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    fi
    systemd=false
    [ -d /run/systemd/system ] && systemd=true
    # A socket file can outlive its daemon (the session that started it ended): ask
    # whether something answers on it, not whether the file exists.
    answers() {
        python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null
    }
    if ! answers /run/libvirt/virtlogd-sock; then
        as_root "start virtlogd"
        if $systemd; then
            systemctl restart virtlogd.socket virtlogd
        else
            rm -f /run/libvirt/virtlogd-sock
            virtlogd -d
        fi
        for _ in $(seq 50); do
            answers /run/libvirt/virtlogd-sock && break
            sleep 0.1
        done
    fi
    if ! virsh -c qemu:///system version >/dev/null 2>&1; then
        as_root "start libvirtd"
        if $systemd; then systemctl start libvirtd; else libvirtd -d; fi
        for _ in $(seq 50); do
            virsh -c qemu:///system version >/dev/null 2>&1 && break
            sleep 0.2
        done
        virsh -c qemu:///system version >/dev/null
    fi
fi
