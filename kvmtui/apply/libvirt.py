"""The libvirt backend: attaches and detaches guest interfaces on a read-write
connection, the only one kvmtui opens (every read is on a read-only one)."""

from __future__ import annotations

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.errors import KvmtuiError
from kvmtui.plan import steps as s


class LibvirtBackend:
    def __init__(self, uri: str | None):
        self.uri = uri

    def run(self, step: s.Step) -> None:
        refuse_if_readonly()  # before the read-write connection: root could open one regardless
        if not isinstance(step, s.Attach):
            raise KvmtuiError(f"the libvirt backend does not run {step.action} steps")
        import libvirt

        from kvmtui.collect.libvirt import resolve_uri

        flags = (libvirt.VIR_DOMAIN_AFFECT_LIVE if step.live else 0) | (
            libvirt.VIR_DOMAIN_AFFECT_CONFIG if step.config else 0)
        conn = libvirt.open(resolve_uri(self.uri))
        try:
            domain = conn.lookupByName(step.target)
            if isinstance(step, s.Detach):
                domain.detachDeviceFlags(step.xml, flags)
            else:
                domain.attachDeviceFlags(step.xml, flags)
        except libvirt.libvirtError as exc:
            raise KvmtuiError(f"{step.command}: {exc.get_error_message()}") from None
        finally:
            conn.close()

    def gone(self, step: s.Step, exc: BaseException) -> bool:
        """A guest or NIC that is gone is a failure: the undo could not put it back."""
        return False
