"""The libvirt backend: attaches, detaches and updates guest interfaces, and defines, starts,
autostarts, stops and undefines libvirt's networks, on a read-write connection, the
only one kvmtui opens (every read is on a read-only one)."""

from __future__ import annotations

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.errors import KvmtuiError, LibvirtRefused
from kvmtui.plan import steps as s

# Undoing these on a network someone else removed meanwhile: nothing is left to undo.
_GONE_IS_DONE = (s.NetUndefine, s.NetDestroy, s.NetAutostart)


class LibvirtBackend:
    def __init__(self, uri: str | None):
        self.uri = uri

    def run(self, step: s.Step) -> None:
        refuse_if_readonly()  # before the read-write connection: root could open one regardless
        if not isinstance(step, (s.Attach, s.UpdateDevice, *s.NETWORK_STEPS)):
            raise KvmtuiError(f"the libvirt backend does not run {step.action} steps")
        import libvirt

        from kvmtui.collect.libvirt import resolve_uri

        conn = libvirt.open(resolve_uri(self.uri))
        try:
            if isinstance(step, (s.Attach, s.UpdateDevice)):
                _attach(libvirt, conn, step)
            else:
                _network(conn, step)
        except libvirt.libvirtError as exc:
            raise LibvirtRefused(step.command, exc.get_error_message(), exc.get_error_code()) from None
        finally:
            conn.close()

    def gone(self, step: s.Step, exc: BaseException) -> bool:
        """A guest or NIC that is gone is a failure: the undo could not put it back. A
        network that is gone when its start, autostart or definition is undone is done."""
        import libvirt

        return isinstance(step, _GONE_IS_DONE) and isinstance(exc, LibvirtRefused) \
            and exc.code == libvirt.VIR_ERR_NO_NETWORK


def _attach(libvirt, conn, step: s.Attach | s.UpdateDevice) -> None:
    flags = (libvirt.VIR_DOMAIN_AFFECT_LIVE if step.live else 0) | (
        libvirt.VIR_DOMAIN_AFFECT_CONFIG if step.config else 0)
    domain = conn.lookupByName(step.target)
    if isinstance(step, s.UpdateDevice):
        domain.updateDeviceFlags(step.xml, flags)
    elif isinstance(step, s.Detach):
        domain.detachDeviceFlags(step.xml, flags)
    else:
        domain.attachDeviceFlags(step.xml, flags)


def _network(conn, step: s.Step) -> None:
    if isinstance(step, s.NetUndefine):
        conn.networkLookupByName(step.target).undefine()
    elif isinstance(step, s.NetDefine):
        conn.networkDefineXML(step.xml)
    elif isinstance(step, s.NetStart):
        conn.networkLookupByName(step.target).create()
    elif isinstance(step, s.NetDestroy):
        conn.networkLookupByName(step.target).destroy()
    elif isinstance(step, s.NetAutostart):
        conn.networkLookupByName(step.target).setAutostart(1 if step.on else 0)
