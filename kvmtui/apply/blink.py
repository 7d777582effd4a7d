"""Blink a NIC's port LED (ETHTOOL_PHYS_ID) so that someone at the rack finds the cable.

It is a change to the device (its LED, and the driver may pause the port's own LED
logic), so a read-only process refuses it. The ioctl blocks for the whole time in the
kernel, so it runs in a thread; a signal sent to that thread ends it early (the kernel
stops at a pending signal and puts the LED back), which is how Ctrl-C stops it.
"""

from __future__ import annotations

import errno
import signal
import struct
import threading
import time

from kvmtui.collect.ethtool import ETHTOOL_PHYS_ID, control_socket, ethtool_ioctl, facts_from
from kvmtui.collect.netns import run_in_netns
from kvmtui.errors import InterfaceNotFound, KvmtuiError
from kvmtui.privileges import process_is_readonly

WAKE_SIGNAL = signal.SIGUSR1


class BlinkRefused(KvmtuiError):
    """Blinking was not allowed or not possible: read-only, a driver without support, not root."""


def readonly_refusal(interface: str) -> str:
    return f"read-only mode: blinking the port LED of {interface} is a change to the device, so kvmtui does not do it"


def refuse_blink_if_readonly(interface: str) -> None:
    if process_is_readonly():
        raise BlinkRefused(readonly_refusal(interface))


def _wake(_signum, _frame) -> None:
    """Nothing to do: the signal's only work is to end the ioctl in the blinking thread."""


def install_wake_handler() -> None:
    """Python sets handlers from the main thread only: call this there (the CLI's start(),
    the dashboard's screen) before a blink that may be stopped."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(WAKE_SIGNAL) is signal.SIG_DFL:
        signal.signal(WAKE_SIGNAL, _wake)


def wake_handler_installed() -> bool:
    return signal.getsignal(WAKE_SIGNAL) not in (signal.SIG_DFL, signal.SIG_IGN, None)


class Blinker:
    """One blink of `interface` for `seconds`, in a thread: start(), then wait() or stop()."""

    def __init__(self, interface: str, seconds: int, netns: str | None = None):
        refuse_blink_if_readonly(interface)
        self.interface, self.seconds = interface, seconds
        self.sock = run_in_netns(netns, control_socket)  # the ioctl acts in the socket's namespace
        try:
            self.driver = facts_from(self.sock, interface).driver or "of this NIC"
        except InterfaceNotFound:
            self.sock.close()
            raise InterfaceNotFound(interface, netns) from None
        self.error: KvmtuiError | None = None
        self.started = 0.0
        self._thread = threading.Thread(target=self._run, name=f"blink:{interface}", daemon=True)

    def _run(self) -> None:
        try:
            ethtool_ioctl(self.sock, self.interface, struct.pack("II", ETHTOOL_PHYS_ID, self.seconds))
        except OSError as exc:
            if exc.errno == errno.EOPNOTSUPP:
                self.error = BlinkRefused(f"the driver {self.driver} cannot blink its port LED")
            elif exc.errno == errno.EPERM:
                self.error = BlinkRefused(f"blinking the port LED of {self.interface} needs root (CAP_NET_ADMIN)")
            else:
                self.error = BlinkRefused(f"cannot blink the port LED of {self.interface}: {exc.strerror or exc}")

    def start(self) -> Blinker:
        install_wake_handler()
        self.started = time.monotonic()
        self._thread.start()
        return self

    def seconds_left(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.started))

    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the blink is over (its time ran out, it was stopped, or it failed)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """End the blink now: interrupt the ioctl until the thread has left it. Without the
        wake handler the signal would kill the process: then the blink runs its time out."""
        if not wake_handler_installed():
            return
        while self._thread.is_alive() and self._thread.ident is not None:
            try:
                signal.pthread_kill(self._thread.ident, WAKE_SIGNAL)
            except ProcessLookupError:
                break
            self._thread.join(0.1)

    def close(self) -> None:
        self.stop()
        self.sock.close()
