#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
fault_proxy_check.py [PROXY]: checks build/selftests/fault_proxy on the
host, without kmig: this script plays both kmigctls, a fake source that
connects through the proxy and a fake destination that the proxy connects
to, sends preambles and frames, and looks at what arrives on the other side
for each fault action. Prints one line per case and "N passed, N failed".
"""
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

PROXY = sys.argv[1] if len(sys.argv) > 1 else "build/selftests/fault_proxy"
T = {"HELLO": 1, "ACCEPT": 2, "REJECT": 3, "RAM": 4, "SYNC": 5, "END": 6,
     "DEVICE_STATE": 7, "READY": 8, "GO": 9, "ACK": 10, "ABORT": 11,
     "LOADED": 12, "KEEPALIVE": 13}
PRE = b"KMIGSTRM" + struct.pack("<II", 1, 0)


def frame(name, payload=b""):
    return struct.pack("<II", T[name], len(payload)) + payload


def hello(channel):
    return frame("HELLO", struct.pack("<QIIIIQII", 0x1234, channel, 2, 4096,
                                      1, 32 << 20, 1, 0) +
                 struct.pack("<QQ", 0, 32 << 20))


def ram(tag):
    recs = struct.pack("<QIHH", 0x1000 * tag, 1, 1, 4096)
    return frame("RAM", struct.pack("<II", 1, 0) + recs + bytes([tag]) * 4096)


def read_n(s, n, timeout=5.0):
    """n bytes, or what came before EOF / the timeout."""
    buf = b""
    end = time.monotonic() + timeout
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        try:
            got = s.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError):
            break
        if not got:
            break
        buf += got
    return buf


def read_frame(s, timeout=5.0):
    hdr = read_n(s, 8, timeout)
    if len(hdr) < 8:
        return None
    t, n = struct.unpack("<II", hdr)
    return (t, n, read_n(s, min(n, 17 << 20), timeout))


def is_eof(s, timeout=3.0):
    return read_n(s, 1, timeout) == b"" and select.select([s], [], [], 0)[0]


class Case:
    """One proxy, a fake destination listening, connections through both."""

    def __init__(self, dir, fault, extra=(), listen_first=True):
        self.dir = dir
        self.dst_path = os.path.join(dir, "dst.sock")
        self.px_path = os.path.join(dir, "px.sock")
        self.out = os.path.join(dir, "px.out")
        for p in (self.dst_path, self.px_path):
            if os.path.exists(p):
                os.unlink(p)
        self.lsock = None
        if listen_first:
            self.listen()
        args = [PROXY, "--listen", "unix:" + self.px_path,
                "--to", "unix:" + self.dst_path, "--fault", fault,
                "--log", os.path.join(dir, "px.log")] + list(extra)
        self.proc = subprocess.Popen(args, stdout=open(self.out, "w"),
                                     stderr=open(self.out + ".err", "w"))
        assert self.wait_line("listening on unix:" + self.px_path), "no listening line"

    def listen(self):
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.dst_path)
        self.lsock.listen(16)

    def wait_line(self, what, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.out) as f:
                if what in f.read():
                    return True
            time.sleep(0.02)
        return False

    def fired(self):
        with open(self.out) as f:
            return [l for l in f.read().splitlines() if "fired" in l]

    def connect(self, channel, accept=True):
        """A channel through the proxy, handshake done: (source, destination)."""
        src = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        src.connect(self.px_path)
        src.sendall(PRE + hello(channel))
        self.lsock.settimeout(35)
        dst, _ = self.lsock.accept()
        assert read_n(dst, 16) == PRE
        f = read_frame(dst)
        assert f and f[0] == T["HELLO"], f
        if accept:
            dst.sendall(PRE + frame("ACCEPT"))
            assert read_n(src, 16) == PRE
            assert read_frame(src)[0] == T["ACCEPT"]
        return src, dst

    def close(self):
        self.proc.kill()
        self.proc.wait()
        if self.lsock:
            self.lsock.close()


def case_none(d):
    c = Case(d, "none")
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    for i in range(1, 4):
        ds.sendall(ram(i))
    for i in range(1, 4):
        f = read_frame(dd)
        assert f[0] == T["RAM"] and f[1] == 8 + 16 + 4096 and f[2][-1] == i
    ms.sendall(frame("DEVICE_STATE", b"x" * (3 << 20)) + frame("END"))
    f = read_frame(md)
    assert f[0] == T["DEVICE_STATE"] and f[1] == 3 << 20
    assert read_frame(md)[0] == T["END"]
    md.sendall(frame("READY"))
    assert read_frame(ms)[0] == T["READY"]
    ms.sendall(frame("GO"))
    assert read_frame(md)[0] == T["GO"]
    md.sendall(frame("ACK", struct.pack("<Q", 77)))
    assert read_frame(ms) == (T["ACK"], 8, struct.pack("<Q", 77))
    md.sendall(frame("KEEPALIVE"))
    assert read_frame(ms)[0] == T["KEEPALIVE"]
    # Either side closing closes the other.
    ds.close()
    assert is_eof(dd)
    assert not c.fired()
    c.close()


def case_drop(d):
    c = Case(d, "drop@GO")
    ms, md = c.connect(0)
    ms.sendall(frame("GO") + frame("KEEPALIVE"))
    assert read_frame(md)[0] == T["KEEPALIVE"]
    assert c.wait_line("fault_proxy: fired drop at GO#1 on main (source->destination)")
    ms.sendall(frame("GO"))	# only the first is dropped
    assert read_frame(md)[0] == T["GO"]
    c.close()


def case_drop_nth_dst(d):
    c = Case(d, "drop@KEEPALIVE#2")
    ms, md = c.connect(0)
    md.sendall(frame("KEEPALIVE"))
    assert read_frame(ms)[0] == T["KEEPALIVE"]
    md.sendall(frame("KEEPALIVE") + frame("READY"))
    assert read_frame(ms)[0] == T["READY"]
    assert c.fired() == ["fault_proxy: fired drop at KEEPALIVE#2 on main (destination->source)"], c.fired()
    c.close()


def case_delay(d):
    c = Case(d, "delay=600@READY")
    ms, md = c.connect(0)
    t0 = time.monotonic()
    md.sendall(frame("READY") + frame("ACK", b"\0" * 8))
    ms.sendall(frame("KEEPALIVE"))	# the other direction is not held
    assert read_frame(md, 0.4)[0] == T["KEEPALIVE"]
    assert time.monotonic() - t0 < 0.4
    assert read_frame(ms)[0] == T["READY"]
    assert time.monotonic() - t0 >= 0.6
    assert read_frame(ms)[0] == T["ACK"]
    assert c.wait_line("fired delay=600 at READY#1 on main (destination->source)")
    c.close()


def case_cut(d):
    c = Case(d, "cut@GO")
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    ms.sendall(frame("GO"))
    assert is_eof(md) and is_eof(ms)
    assert c.wait_line("fired cut at GO#1 on main (source->destination)")
    ds.sendall(ram(5))	# the other connection goes on
    assert read_frame(dd)[0] == T["RAM"]
    c.close()


def case_silence(d):
    c = Case(d, "silence@READY")
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    md.sendall(frame("READY"))
    assert c.wait_line("fired silence at READY#1 on main (destination->source)")
    ms.sendall(frame("GO"))
    ds.sendall(ram(1))
    md.sendall(frame("ACK", b"\0" * 8))
    # Nothing arrives anywhere, and nothing is closed.
    for s in (ms, md, ds, dd):
        assert read_n(s, 1, 0.5) == b"" and not select.select([s], [], [], 0)[0]
    ds.close()	# a peer closing does not close the other side either
    assert read_n(dd, 1, 0.5) == b"" and not select.select([dd], [], [], 0)[0]
    c.close()


def case_corrupt_gpa(d):
    c = Case(d, "corrupt-gpa@RAM")
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    ds.sendall(ram(1) + ram(2))
    t, n, p = read_frame(dd)
    assert struct.unpack("<Q", p[8:16])[0] == 0xfff0000000 and n == 4120
    t, n, p = read_frame(dd)
    assert struct.unpack("<Q", p[8:16])[0] == 0x2000
    assert c.wait_line("fired corrupt-gpa at RAM#1 on data (source->destination)")
    c.close()


def case_corrupt_length(d):
    c = Case(d, "corrupt-length@RAM")
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    ds.sendall(ram(1))
    hdr = read_n(dd, 8)
    assert struct.unpack("<II", hdr) == (T["RAM"], 0x7fffffff)
    assert len(read_n(dd, 4120)) == 4120
    c.close()


def case_truncate(d):
    c = Case(d, "truncate@RAM#2")
    ms, md = c.connect(0)
    d1s, d1d = c.connect(1)
    d2s, d2d = c.connect(2)
    d1s.sendall(ram(1))
    assert read_frame(d1d)[0] == T["RAM"]
    d2s.sendall(ram(2))	# the second RAM frame over all data channels
    got = read_n(d2d, 8 + 4120)
    assert len(got) == 8 + 2060, len(got)
    assert is_eof(d2d) and is_eof(d2s)
    assert c.wait_line("fired truncate at RAM#2 on data (source->destination)")
    d1s.sendall(ram(3))
    assert read_frame(d1d)[0] == T["RAM"]
    c.close()


def case_flip(d):
    c = Case(d, "flip@ACK")
    ms, md = c.connect(0)
    md.sendall(frame("ACK", struct.pack("<Q", 0x0102030405060708)))
    t, n, p = read_frame(ms)
    assert p == struct.pack("<Q", 0x0102030405060708 ^ (1 << 56)), p
    c.close()


def case_hello_data(d):
    c = Case(d, "drop@END", ["--channel", "data"])
    ms, md = c.connect(0)
    ds, dd = c.connect(1)
    ms.sendall(frame("END"))
    assert read_frame(md)[0] == T["END"]	# main: not counted
    ds.sendall(frame("END") + frame("SYNC", b"\0" * 8))
    assert read_frame(dd)[0] == T["SYNC"]
    c.close()


def case_late_destination(d):
    """The destination listens a second after the source connects."""
    c = Case(d, "none", listen_first=False)
    src = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    src.connect(c.px_path)
    src.sendall(PRE + hello(0))
    time.sleep(1)
    c.listen()
    c.lsock.settimeout(10)
    dst, _ = c.lsock.accept()
    assert read_n(dst, 16) == PRE and read_frame(dst)[0] == T["HELLO"]
    c.close()


def case_usage(d):
    bad = [[], ["--listen", "unix:/x", "--to", "unix:/y"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "explode@GO"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop@BOGUS"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop@GO#0"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop@GO#-1"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "delay=x@GO"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "flip@GO"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "corrupt-gpa@GO"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop@RAM",
            "--channel", "main"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "drop@GO",
            "--channel", "sideways"],
           ["--listen", "udp:x", "--to", "unix:/y", "--fault", "none"],
           ["--listen", "tcp:127.0.0.1:0", "--to", "tcp:127.0.0.1:0",
            "--fault", "none"],
           ["--listen", "unix:/x", "--to", "unix:/y", "--fault", "none", "extra"]]
    for args in bad:
        r = subprocess.run([PROXY] + args, capture_output=True, text=True,
                           timeout=5)
        assert r.returncode == 2 and "fault_proxy: " in r.stderr, (args, r)


def case_tcp(d):
    """tcp: on both sides, port 0 to listen."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    out = os.path.join(d, "tcp.out")
    p = subprocess.Popen([PROXY, "--listen", "tcp:127.0.0.1:0", "--to",
                          "tcp:127.0.0.1:%d" % ls.getsockname()[1],
                          "--fault", "drop@HELLO"], stdout=open(out, "w"))
    try:
        port = None
        for _ in range(100):
            with open(out) as f:
                t = f.read()
            if "listening on tcp:127.0.0.1:" in t:
                port = int(t.split("tcp:127.0.0.1:")[1].split()[0])
                break
            time.sleep(0.02)
        assert port, "no listening line"
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(PRE + hello(0) + frame("KEEPALIVE"))
        ls.settimeout(5)
        dd, _ = ls.accept()
        assert read_n(dd, 16) == PRE and read_frame(dd)[0] == T["KEEPALIVE"]
    finally:
        p.kill()
        p.wait()


def main():
    cases = [(n, f) for n, f in globals().items() if n.startswith("case_")]
    passed = failed = 0
    for name, fn in cases:
        with tempfile.TemporaryDirectory() as d:
            try:
                fn(d)
                print("ok", name[5:])
                passed += 1
            except Exception as e:  # noqa: a failed check of any kind
                print("not ok", name[5:], repr(e))
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
