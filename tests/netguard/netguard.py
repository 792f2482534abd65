"""No network during the tests: a guard on Python's socket layer.

:func:`install` wraps ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` / ``sendmsg`` and the name
lookups ``socket.getaddrinfo`` / ``gethostbyname`` / ``gethostbyname_ex``, so that any attempt to reach a
host that is not this machine's loopback raises :class:`NetworkBlocked` at once (no timeout), naming the
address. What stays allowed:

- AF_UNIX and every other non-IP family;
- IPv4 127.0.0.0/8, IPv6 ``::1`` and ``::ffff:127.x.y.z``, and the unspecified addresses ``0.0.0.0`` / ``::``
  (Linux connects those to the loopback), which is all a Jupyter kernel needs to talk to its client;
- the names ``localhost`` / ``*.localhost`` and this machine's own host name (when it resolves to loopback
  addresses only, for a connection; any resolution of it for a lookup: it never leaves the machine);
- IP literals in lookups (nothing is resolved; the connection itself is checked).

Every blocked attempt is also appended to the file named by ``HARMONIA_NO_NETWORK_LOG`` when set, so the
pytest plugin (``no_network.py``) fails the test even when library code swallowed the exception.

C extensions that open their own sockets (libzmq, gloo) are outside its reach; the Python-level libraries
that reach the internet (urllib, http.client, requests, asyncio, pip's vendored stack) all go through here.
"""

from __future__ import annotations

import ipaddress
import os
import socket

__all__ = ["NetworkBlocked", "install", "uninstall", "installed", "is_local_address", "BLOCKED", "LOG_ENV"]

LOG_ENV = "HARMONIA_NO_NETWORK_LOG"
#: every blocked attempt of this process, as "what: address" strings (tests may inspect and clear it)
BLOCKED: list[str] = []
_ORIGINAL: dict[str, object] = {}
_OWN: dict[str, bool] = {}
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(RuntimeError):
    """A test tried to reach the network. Deliberately not an ``OSError``: code that falls back on
    ``except OSError`` must not hide the attempt."""


def _is_local_ip(host: str) -> bool | None:
    """True/False for an IP literal (loopback or unspecified counts as local), None for a host name."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 scope id
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _is_local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def _own_hostnames() -> set[str]:
    try:
        return {socket.gethostname().lower()}
    except OSError:
        return set()


def is_local_address(host) -> bool:
    """Whether connecting to ``host`` (an IP literal or a name) stays on this machine's loopback."""
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    literal = _is_local_ip(host)
    if literal is not None:
        return literal
    if _is_local_name(host):
        return True
    if host.lower() in _own_hostnames():
        try:
            infos = _ORIGINAL.get("getaddrinfo", socket.getaddrinfo)(host, None)
        except OSError:
            return False
        return bool(infos) and all(_is_local_ip(str(info[4][0])) for info in infos)
    return False


def _block(what: str, address) -> None:
    where = address if isinstance(address, str) else repr(address)
    message = (f"network access blocked during the tests: {what} to {where} "
               "(only loopback and AF_UNIX are allowed; nothing in the course may reach the network)")
    BLOCKED.append(f"{what}: {where}")
    log = os.environ.get(LOG_ENV)
    if log:
        try:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"pid {os.getpid()}: {what}: {where}\n")
        except OSError:
            pass
    raise NetworkBlocked(message)


def _check_address(sock, what: str, address) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    if isinstance(address, tuple) and address:
        if not is_local_address(address[0]):
            _block(what, address)
    elif address is not None and not isinstance(address, tuple):
        _block(what, address)  # not a valid inet address: refuse rather than guess


def _connect(self, address):
    _check_address(self, "connect", address)
    return _ORIGINAL["connect"](self, address)


def _connect_ex(self, address):
    _check_address(self, "connect_ex", address)
    return _ORIGINAL["connect_ex"](self, address)


def _sendto(self, data, *args):
    if args:
        _check_address(self, "sendto", args[-1])
    return _ORIGINAL["sendto"](self, data, *args)


def _sendmsg(self, buffers, *args):
    if len(args) >= 3 and args[2] is not None:
        _check_address(self, "sendmsg", args[2])
    return _ORIGINAL["sendmsg"](self, buffers, *args)


def _lookup_allowed(host) -> bool:
    if host is None or host == "" or host == b"":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if _is_local_ip(host) is not None:  # an IP literal: no resolution happens
        return True
    return _is_local_name(host) or host.lower() in _own_hostnames()


def _getaddrinfo(host, *args, **kwargs):
    if not _lookup_allowed(host):
        _block("getaddrinfo", host)
    return _ORIGINAL["getaddrinfo"](host, *args, **kwargs)


def _gethostbyname(host):
    if not _lookup_allowed(host):
        _block("gethostbyname", host)
    return _ORIGINAL["gethostbyname"](host)


def _gethostbyname_ex(host):
    if not _lookup_allowed(host):
        _block("gethostbyname_ex", host)
    return _ORIGINAL["gethostbyname_ex"](host)


_METHODS = {"connect": _connect, "connect_ex": _connect_ex, "sendto": _sendto, "sendmsg": _sendmsg}
_FUNCTIONS = {"getaddrinfo": _getaddrinfo, "gethostbyname": _gethostbyname, "gethostbyname_ex": _gethostbyname_ex}


def installed() -> bool:
    return bool(_ORIGINAL)


def install() -> None:
    """Put the guard in place (idempotent)."""
    if _ORIGINAL:
        return
    for name, wrapper in _METHODS.items():
        # usually inherited from _socket.socket: then uninstall deletes the override
        _ORIGINAL[name] = getattr(socket.socket, name)
        _OWN[name] = name in vars(socket.socket)
        setattr(socket.socket, name, wrapper)
    for name, wrapper in _FUNCTIONS.items():
        _ORIGINAL[name] = getattr(socket, name)
        setattr(socket, name, wrapper)


def uninstall() -> None:
    """Restore the original socket functions."""
    for name in _METHODS:
        if name in _ORIGINAL:
            original = _ORIGINAL.pop(name)
            if _OWN.pop(name, False):
                setattr(socket.socket, name, original)
            else:
                delattr(socket.socket, name)
    for name in _FUNCTIONS:
        if name in _ORIGINAL:
            setattr(socket, name, _ORIGINAL.pop(name))
