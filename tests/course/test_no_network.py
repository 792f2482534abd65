"""The test suite cannot reach the network (tests/netguard, loaded by pyproject's addopts): in this process,
in a subprocess, in a real Jupyter kernel started like nbval starts one, and in the nbval run of
``make test-portable`` (``python -m pytest -c pyproject.toml NOTEBOOK --nbval``). Loopback keeps working
everywhere, and an attempt fails its test even when the code swallows the exception."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

import netguard

ROOT = Path(__file__).resolve().parents[2]
GUARD_DIR = ROOT / "tests" / "netguard"
TEST_NET = ("192.0.2.1", 9)  # RFC 5737 TEST-NET-1, discard port: never routed
TEST_NET6 = ("2001:db8::1", 9)  # RFC 3849 documentation prefix


def _pop_blocked(expected: str) -> None:
    """Consume this test's deliberate attempt (else the plugin fails the test, as it should)."""
    assert netguard.BLOCKED, "no blocked attempt was recorded"
    assert netguard.BLOCKED.pop() == expected


class _EchoServer:
    """A TCP server on a loopback address that answers b"pong:" + what it receives, in a thread."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"pong:" + conn.recv(64))

    def close(self):
        self.sock.close()


@pytest.fixture
def echo():
    server = _EchoServer()
    yield server
    server.close()


def test_plugin_is_active(request):
    assert request.config.pluginmanager.has_plugin("no_network")
    assert netguard.installed()
    assert os.environ["HARMONIA_NO_NETWORK"] == "1"
    assert Path(os.environ["PYTHONPATH"].split(os.pathsep)[0]).resolve() == GUARD_DIR
    import _socket

    assert socket.socket.connect is not _socket.socket.connect  # wrapped


def test_connect_to_test_net_fails_at_once_naming_the_address():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        start = time.perf_counter()
        with pytest.raises(netguard.NetworkBlocked, match=r"connect to \('192\.0\.2\.1', 9\)"):
            s.connect(TEST_NET)
        assert time.perf_counter() - start < 1.0, "blocked by the guard, not by a timeout"
    _pop_blocked("connect: ('192.0.2.1', 9)")
    assert not isinstance(netguard.NetworkBlocked("x"), OSError), "must not be swallowed by `except OSError`"


def _attempt(kind: str) -> None:
    """One way out to a non-loopback address; every socket is closed whatever happens."""
    if kind in ("getaddrinfo", "gethostbyname", "create_connection-name", "create_connection"):
        call = {"getaddrinfo": lambda: socket.getaddrinfo("pypi.org", 443),
                "gethostbyname": lambda: socket.gethostbyname("pypi.org"),
                "create_connection-name": lambda: socket.create_connection(("example.com", 80), timeout=30).close(),
                "create_connection": lambda: socket.create_connection(TEST_NET, timeout=30).close()}[kind]
        call()
        return
    family = socket.AF_INET6 if kind.startswith("ipv") else socket.AF_INET
    stream = socket.SOCK_DGRAM if "sendto" in kind else socket.SOCK_STREAM
    with socket.socket(family, stream) as s:
        s.settimeout(30)
        if kind == "connect_ex":
            s.connect_ex(TEST_NET)
        elif kind == "sendto":
            s.sendto(b"x", TEST_NET)
        elif kind == "sendto-flags":
            s.sendto(b"x", 0, TEST_NET)
        elif kind == "ipv6":
            s.connect(TEST_NET6)
        elif kind == "ipv4-mapped-ipv6":
            s.connect(("::ffff:192.0.2.1", 9))
        elif kind == "ipv6-sendto":
            s.sendto(b"x", TEST_NET6)


WAYS_OUT = {
    "connect_ex": "connect_ex: ('192.0.2.1', 9)",
    "sendto": "sendto: ('192.0.2.1', 9)",
    "sendto-flags": "sendto: ('192.0.2.1', 9)",
    "create_connection": "connect: ('192.0.2.1', 9)",
    "create_connection-name": "getaddrinfo: example.com",
    "getaddrinfo": "getaddrinfo: pypi.org",
    "gethostbyname": "gethostbyname: pypi.org",
    "ipv6": "connect: ('2001:db8::1', 9)",
    "ipv4-mapped-ipv6": "connect: ('::ffff:192.0.2.1', 9)",
    "ipv6-sendto": "sendto: ('2001:db8::1', 9)",
}


@pytest.mark.parametrize("kind", list(WAYS_OUT))
def test_other_ways_out_are_blocked(kind):
    if kind.startswith("ipv") and not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    start = time.perf_counter()
    with pytest.raises(netguard.NetworkBlocked) as info:
        _attempt(kind)
    assert time.perf_counter() - start < 1.0
    expected = WAYS_OUT[kind]
    assert expected.split(": ", 1)[1] in str(info.value)
    _pop_blocked(expected)


def test_loopback_and_unix_sockets_work(echo, tmp_path):
    with socket.create_connection(("127.0.0.1", echo.port), timeout=10) as s:
        s.sendall(b"v4")
        assert s.recv(64) == b"pong:v4"
    with socket.create_connection(("localhost", echo.port), timeout=10) as s:  # a name that resolves locally
        s.sendall(b"name")
        assert s.recv(64) == b"pong:name"
    assert socket.getaddrinfo("localhost", echo.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        tx.sendto(b"udp", rx.getsockname())
        assert rx.recv(16) == b"udp"
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        a.sendall(b"unix")
        assert b.recv(16) == b"unix"
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen(1)
        client.connect(path)
    assert netguard.BLOCKED == []


def test_ipv6_loopback_works():
    try:
        server = _EchoServer(socket.AF_INET6, "::1")
    except OSError as err:
        pytest.skip(f"no IPv6 loopback on this machine ({err})")
    try:
        with socket.create_connection(("::1", server.port), timeout=10) as s:
            s.sendall(b"v6")
            assert s.recv(64) == b"pong:v6"
    finally:
        server.close()
    assert netguard.BLOCKED == []


_CHILD = """
import socket, sys
try:
    socket.create_connection(("192.0.2.1", 9), timeout=30)
    print("REACHED")
except Exception as err:
    print(type(err).__name__ + ": " + str(err))
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(b"child")
    print(s.recv(64).decode())
"""


def test_subprocess_is_blocked_and_its_loopback_works(echo, tmp_path):
    log = tmp_path / "child.log"  # this test's own log: its deliberate attempt must not fail it
    env = {**os.environ, netguard.LOG_ENV: str(log)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(echo.port)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("NetworkBlocked: network access blocked") and "('192.0.2.1', 9)" in lines[0]
    assert lines[1] == "pong:child"
    assert "connect: ('192.0.2.1', 9)" in log.read_text()


def test_guard_keeps_a_shadowed_sitecustomize(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['OTHER_SITECUSTOMIZE'] = 'ran'\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(other)]),
           netguard.LOG_ENV: str(tmp_path / "log")}
    code = "import os, netguard; print(netguard.installed(), os.environ.get('OTHER_SITECUSTOMIZE'))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["True", "ran"], proc.stderr
    env["HARMONIA_NO_NETWORK"] = "0"  # the flag switches the guard off (it is on only under the plugin)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "ran"], proc.stderr


def test_jupyter_kernel_is_blocked_and_talks_over_loopback(echo, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    from harmonia.course import notebooks as nbt

    log = tmp_path / "kernel.log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))  # the kernel inherits it (like every variable nbval passes)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(_CHILD).replace(
        "int(sys.argv[1])", str(echo.port)))])
    km = nbt._current_env_kernel_manager()  # what nbval's --nbval-current-env starts: this interpreter
    client = NotebookClient(nb, km=km, timeout=60)
    try:
        client.execute()  # the kernel reaches this process over loopback zmq, and the cell ran
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "NetworkBlocked: network access blocked" in text and "('192.0.2.1', 9)" in text
    assert "REACHED" not in text and "pong:child" in text
    assert "connect: ('192.0.2.1', 9)" in log.read_text()


def test_swallowed_attempts_still_fail_under_the_portable_command(tmp_path):
    """What `make test-portable` runs (`python -m pytest -c pyproject.toml NOTEBOOK --nbval` from the
    repository root) loads the guard from pyproject alone; an attempt fails its test even when caught,
    in the test process and in the nbval kernel."""
    (tmp_path / "test_swallow.py").write_text(textwrap.dedent("""
        import socket

        def test_swallows():
            try:
                socket.create_connection(("192.0.2.1", 9), timeout=30)
            except Exception:
                pass

        def test_loopback_only():
            socket.getaddrinfo("localhost", 80)
    """))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\nexcept Exception:\n    pass")])
    nbformat.write(nb, tmp_path / "swallow.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HARMONIA_NO_NETWORK", netguard.LOG_ENV)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pyproject.toml", "--rootdir", str(ROOT), "-p", "no:cacheprovider",
         str(tmp_path / "test_swallow.py"), str(tmp_path / "swallow.ipynb"), "--nbval", "--nbval-current-env"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "2 failed, 1 passed" in out, out[-3000:]
    assert "FAILED ::test_swallows - network access attempted" in out  # node ids outside the rootdir
    assert "FAILED ::Cell 0 - network access attempted" in out
    assert "connect: ('192.0.2.1', 9)" in out
    assert "subprocess pid" in out and "getaddrinfo: pypi.org" in out
