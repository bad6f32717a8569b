#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The attack suite's socket work (issue 13), Python 3 standard library only.

Every command stops by itself (a hard time cap, and SIGALRM behind it), and only ever connects
to 127.0.0.0/8: targets and source addresses outside it are refused.

  hold   idle and slowloris connections held against one or more listeners, from source
         addresses FIRST, FIRST+1, ... (bound before connecting); a connection the server closes
         is opened again (after 1 s when it was closed within 1 s of connecting, at once
         otherwise). Writes a JSON status file several times a second and a summary line at
         the end.
  status checks a status file written by hold (counts per target) and prints it.
  names  the challenge flood: Ub challenge requests under COUNT made-up usernames, over
         keep-alive connections from several source addresses, pass after pass (new names each
         time) until SIGTERM or --passes; every answer must be a 401 with a challenge, and at
         least one whole pass must be answered.
  timed  runs a command and measures it with the monotonic clock: fails when it fails or
         takes longer than the limit (no retry).
  watchdog  a script's hard time cap: SIGTERM to it after N seconds.
"""
import argparse
import errno
import heapq
import ipaddress
import json
import os
import resource
import secrets
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: the port is chosen at connect(), per 4-tuple
FAST_CLOSE_S = 1.0  # closed sooner than this after connecting: counted as refused
BACKOFF_S = 1.0  # and opened again only after this long
CONNECT_TIMEOUT_S = 3.0
STATUS_PERIOD_S = 0.2


def die(msg):
    print(f"attack.py: {msg}", file=sys.stderr)
    sys.exit(2)


def loopback(addr, what):
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        die(f"{what} {addr!r}: not an IPv4 address")
    if a not in LOOPBACK:
        die(f"{what} {addr}: outside 127.0.0.0/8, refused")
    return str(a)


def sources(first, count):
    base = ipaddress.ip_address(loopback(first, "--source"))
    out = [str(base + i) for i in range(count)]
    loopback(out[-1], "--source (last)")
    if "127.0.0.1" in out:
        die("the flood's source addresses must not include 127.0.0.1 (the real clients')")
    return out


def raise_nofile(need):
    """The soft RLIMIT_NOFILE raised to the hard limit; fails when even that is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if top < need:
        die(f"needs {need} file descriptors, the hard limit (ulimit -Hn) is {top}")
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def hard_cap(seconds):
    """SIGALRM a few seconds after the cap ends the process whatever it is doing."""
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(seconds) + 5)


def new_socket(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((src, 0))
    return s


# ---- hold ---------------------------------------------------------------------------------


def client_hello():
    """The first flight of a TLS client (a ClientHello), taken from a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    if not hello:
        die("could not build a TLS ClientHello")
    return hello


class Target:
    def __init__(self, spec, args):
        name, _, rest = spec.partition("=")
        parts = rest.split(":")
        if not name or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "tls"):
            die(f"--target {spec!r}: NAME=HOST:PORT[:tls]")
        self.name = name
        self.addr = (loopback(parts[0], "--target"), int(parts[1]))
        self.tls = len(parts) == 3
        self.want_idle = args.idle
        self.want_slow = args.slow
        self.hello = client_hello() if self.tls else None
        self.connects = 0
        self.connect_errors = 0
        self.closed = 0  # by the server after being held at least FAST_CLOSE_S
        self.closed_fast = 0  # by the server sooner: refused at accept
        self.answered = 0  # connections that got bytes back (an HTTP error status)
        self.max_open = 0
        self.lifetimes = []  # of connections closed by the server, seconds
        self.slow_lifetimes = []  # the slowloris ones among them


class Conn:
    __slots__ = ("t", "slow", "src", "sock", "state", "t0", "t_open", "sent", "got")

    def __init__(self, t, slow, src):
        self.t, self.slow, self.src = t, slow, src
        self.sock = None
        self.state = "down"
        self.t0 = self.t_open = 0.0
        self.sent = 0
        self.got = False


class Holder:
    def __init__(self, args):
        self.args = args
        self.targets = [Target(s, args) for s in args.target]
        self.srcs = sources(args.source, args.source_count)
        self.sel = selectors.DefaultSelector()
        self.timers = []  # (when, seq, conn, what)
        self.seq = 0
        self.conns = []
        # interleaved: each listener gets its share of the opening rate
        for i in range(args.idle + args.slow):
            for t in self.targets:
                self.conns.append(Conn(t, i >= t.want_idle, self.srcs[i % len(self.srcs)]))
        self.ready = list(self.conns)  # waiting to connect, in order
        self.ready.reverse()
        self.stop = False
        self.started = time.monotonic()

    def timer(self, when, c, what):
        self.seq += 1
        heapq.heappush(self.timers, (when, self.seq, c, what))

    def open_now(self, c, now):
        c.t.connects += 1
        try:
            c.sock = new_socket(c.src)
            rc = c.sock.connect_ex(c.t.addr)
        except OSError as e:
            self.fail(c, now, e.errno)
            return
        if rc not in (0, errno.EINPROGRESS):
            self.fail(c, now, rc)
            return
        c.state = "connecting"
        c.t0 = now
        c.got = False
        self.sel.register(c.sock, selectors.EVENT_WRITE, c)
        self.timer(now + CONNECT_TIMEOUT_S, c, ("connect", c.t0))

    def fail(self, c, now, err):
        c.t.connect_errors += 1
        self.drop(c)
        self.timer(now + BACKOFF_S, c, ("reopen", None))

    def drop(self, c):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        c.state = "down"

    def established(self, c, now):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            self.fail(c, now, err)
            return
        c.state = "open"
        c.t_open = now
        c.sent = 0
        self.sel.modify(c.sock, selectors.EVENT_READ, c)
        if c.slow:
            self.send_piece(c, now)

    def piece(self, c):
        if c.t.tls:  # the ClientHello, 16 octets at a time
            p = c.t.hello[c.sent * 16 : (c.sent + 1) * 16]
            return p if p else None
        if c.sent == 0:
            return b"GET / HTTP/1.1\r\nHost: localhost\r\n"
        return b"X-Slow-%d: %d\r\n" % (c.sent, c.sent)

    def send_piece(self, c, now):
        p = self.piece(c)
        if p is not None:
            try:
                c.sock.send(p)
            except OSError:
                return  # the read side sees the close
            c.sent += 1
        self.timer(now + self.args.interval, c, ("send", c.t0))

    def readable(self, c, now):
        try:
            data = c.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            c.got = True
            return
        self.closed_by_server(c, now)

    def closed_by_server(self, c, now):
        t = c.t
        life = now - c.t_open  # the daemon's deadline runs from its accept, about then
        if c.got:
            t.answered += 1
        self.drop(c)
        if life < FAST_CLOSE_S:
            t.closed_fast += 1
            self.timer(now + BACKOFF_S, c, ("reopen", None))
        else:
            t.closed += 1
            t.lifetimes.append(life)
            if c.slow:
                t.slow_lifetimes.append(life)
            self.ready.append(c)

    def snapshot(self, now, final=False):
        out = {"t": round(now - self.started, 3), "final": final, "targets": {}}
        count = {id(t): [0, 0, 0] for t in self.targets}  # open, held, connecting
        for c in self.conns:
            if c.state == "open":
                n = count[id(c.t)]
                n[0] += 1
                if now - c.t_open >= FAST_CLOSE_S:
                    n[1] += 1
            elif c.state == "connecting":
                count[id(c.t)][2] += 1
        for t in self.targets:
            n_open, held, connecting = count[id(t)]
            t.max_open = max(t.max_open, n_open)
            life = sorted(t.lifetimes)
            out["targets"][t.name] = {
                "port": t.addr[1],
                "want": t.want_idle + t.want_slow,
                "open": n_open,
                "held": held,
                "connecting": connecting,
                "max_open": t.max_open,
                "connects": t.connects,
                "connect_errors": t.connect_errors,
                "closed": t.closed,
                "closed_fast": t.closed_fast,
                "answered": t.answered,
                "life_median_s": round(life[len(life) // 2], 2) if life else None,
                "life_max_s": round(life[-1], 2) if life else None,
                "slow_life_max_s": round(max(t.slow_lifetimes), 2) if t.slow_lifetimes else None,
            }
        return out

    def write_status(self, now, final=False):
        snap = self.snapshot(now, final)
        if self.args.status:
            tmp = self.args.status + ".tmp"
            with open(tmp, "w") as f:
                json.dump(snap, f)
            os.replace(tmp, self.args.status)
        return snap

    def run(self):
        args = self.args
        end = self.started + args.seconds
        next_status = self.started
        rate = args.rate  # new connections per second, all targets together
        budget = 0.0
        last = self.started
        while not self.stop:
            now = time.monotonic()
            if now >= end:
                break
            budget = min(budget + (now - last) * rate, rate * 0.05 + 1)
            last = now
            while self.ready and budget >= 1:
                c = self.ready.pop()
                budget -= 1
                self.open_now(c, now)
            while self.timers and self.timers[0][0] <= now:
                _, _, c, (what, t0) = heapq.heappop(self.timers)
                if what == "reopen":
                    if c.state == "down":
                        self.ready.append(c)
                elif what == "connect":
                    if c.state == "connecting" and c.t0 == t0:
                        self.fail(c, now, errno.ETIMEDOUT)
                elif what == "send":
                    if c.state == "open" and c.t0 == t0:
                        self.send_piece(c, now)
            if now >= next_status:
                self.write_status(now)
                next_status = now + STATUS_PERIOD_S
            wait = 0.01 if self.ready else 0.05
            if self.timers:
                wait = max(0.0, min(wait, self.timers[0][0] - now))
            for key, ev in self.sel.select(wait):
                c = key.data
                if c.state == "connecting" and ev & selectors.EVENT_WRITE:
                    self.established(c, time.monotonic())
                elif c.state == "open":
                    self.readable(c, time.monotonic())
        snap = self.write_status(time.monotonic(), final=True)
        for c in self.conns:
            self.drop(c)
        print(json.dumps(snap))


def cmd_hold(args):
    hard_cap(args.seconds)
    per = args.idle + args.slow
    raise_nofile(per * len(args.target) + 64)
    h = Holder(args)

    def stop(*_):
        h.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    h.run()
    return 0


# ---- status -------------------------------------------------------------------------------


def server_view(ports):
    """The daemons' side, from /proc/net/tcp: per port, the connections established to it, the
    most from one address, and the listening socket's accept queue (connections the kernel
    completed that the daemon has not accepted yet)."""
    view = {p: {"established": 0, "syn_recv": 0, "per_addr": {}, "backlog": 0} for p in ports}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].rsplit(":", 1)[1], 16)
            v = view.get(lport)
            if v is None:
                continue
            if fields[3] == "0A":
                v["backlog"] = int(fields[4].split(":")[1], 16)
            elif fields[3] == "03":
                v["syn_recv"] += 1
            elif fields[3] == "01":
                v["established"] += 1
                raddr = fields[2].split(":")[0]
                v["per_addr"][raddr] = v["per_addr"].get(raddr, 0) + 1
    for v in view.values():
        v["max_per_addr"] = max(v["per_addr"].values(), default=0)
        del v["per_addr"]
    return view


def cmd_status(args):
    with open(args.file) as f:
        snap = json.load(f)
    bad = []
    sv = server_view([s["port"] for s in snap["targets"].values()]) if args.server else {}
    for name, s in snap["targets"].items():
        v = sv.get(s["port"])
        if v is not None:
            s["server"] = v
            if args.server_min is not None and v["established"] < args.server_min:
                bad.append(f"{name}: the daemon's side has {v['established']} established, "
                           f"fewer than {args.server_min}")
            if args.server_per_addr_max is not None and v["max_per_addr"] > args.server_per_addr_max:
                bad.append(f"{name}: {v['max_per_addr']} established from one address on the "
                           f"daemon's side, more than {args.server_per_addr_max}")
        if args.open_min is not None and s["open"] < args.open_min:
            bad.append(f"{name}: {s['open']} open, fewer than {args.open_min}")
        if args.held_min is not None and s["held"] < args.held_min:
            bad.append(f"{name}: {s['held']} held, fewer than {args.held_min}")
        if args.held_max is not None and s["held"] > args.held_max:
            bad.append(f"{name}: {s['held']} held, more than {args.held_max}")
        if args.closed_min is not None and s["closed"] < args.closed_min:
            bad.append(f"{name}: {s['closed']} closed after being held, fewer than {args.closed_min}")
        if args.fast_min is not None and s["closed_fast"] < args.fast_min:
            bad.append(f"{name}: {s['closed_fast']} refused at once, fewer than {args.fast_min}")
        if args.fast_max is not None and s["closed_fast"] > args.fast_max:
            bad.append(f"{name}: {s['closed_fast']} refused at once, more than {args.fast_max}")
        if args.errors_max is not None and s["connect_errors"] > args.errors_max:
            bad.append(f"{name}: {s['connect_errors']} failed to open, more than {args.errors_max}")
        if args.life_max is not None and (s["life_max_s"] or 0) > args.life_max:
            bad.append(f"{name}: a connection lived {s['life_max_s']} s, over {args.life_max} s")
        if args.life is not None:
            lo, hi = (float(x) for x in args.life.split(":"))
            m = s["life_median_s"]
            if m is None or not lo <= m <= hi:
                bad.append(f"{name}: median life {m} s, not within {lo}..{hi} s")
    def one(n, s):
        b = f"{n}:open={s['open']},held={s['held']},closed={s['closed']},fast={s['closed_fast']}"
        if snap["final"]:
            b += (f",errors={s['connect_errors']},life={s['life_median_s']}/{s['life_max_s']}s"
                  f",slowmax={s['slow_life_max_s']}s")
        if "server" in s:
            v = s["server"]
            b += (f",daemon={v['established']}/max1={v['max_per_addr']}/queue={v['backlog']}"
                  f"/synrecv={v['syn_recv']}")
        return b

    brief = " ".join(one(n, s) for n, s in snap["targets"].items())
    print(f"flood at {snap['t']} s: {brief}")
    for b in bad:
        print(f"attack.py status: {b}", file=sys.stderr)
    return 1 if bad else 0


# ---- names --------------------------------------------------------------------------------


class Flood:
    def __init__(self, args):
        self.args = args
        self.addr = (loopback(args.host, "--host"), args.port)
        self.srcs = sources(args.source, args.source_count)
        self.lock = threading.Lock()
        self.next = 0
        self.tag = secrets.token_hex(3)
        self.status = {}
        self.challenges = 0
        self.errors = []
        self.stop = False
        self.answers = 0
        self.first_pass = None
        self.deadline = time.monotonic() + args.seconds

    def take(self):
        with self.lock:
            if self.stop or time.monotonic() >= self.deadline:
                return None
            if self.args.passes and self.next >= self.args.count * self.args.passes:
                return None
            self.next += 1
            return self.next - 1

    def request(self, i):
        # A made-up IMPI in the NAI form of TS 23.003 (digits@realm), new for every request.
        user = f"99{self.tag}{i:09d}@ims.mnc999.mcc999.3gppnetwork.org"
        return (
            f"GET / HTTP/1.1\r\nHost: localhost\r\n"
            f'Authorization: Digest username="{user}", realm="{self.args.realm}", '
            f'nonce="", uri="/", response=""\r\n\r\n'
        ).encode()

    def worker(self, n):
        sock = None
        buf = b""
        while True:
            i = self.take()
            if i is None:
                break
            if sock is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.settimeout(10)
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((self.srcs[n % len(self.srcs)], 0))
                try:
                    sock.connect(self.addr)
                except OSError as e:
                    self.note(f"connect: {e}")
                    sock.close()
                    sock = None
                    continue
                buf = b""
            try:
                sock.sendall(self.request(i))
                head, buf = self.read_answer(sock, buf)
            except (OSError, ValueError) as e:
                self.note(f"request {i}: {e}")
                sock.close()
                sock = None
                continue
            code = head.split(b" ", 2)[1].decode()
            lower = head.lower()
            with self.lock:
                self.status[code] = self.status.get(code, 0) + 1
                self.answers += 1
                if self.answers == self.args.count:
                    self.first_pass = time.monotonic()
                if b"\r\nwww-authenticate: digest " in lower and b'nonce="' in lower:
                    self.challenges += 1
            if b"\r\nconnection: close" in lower:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def note(self, e):
        with self.lock:
            self.errors.append(e)

    @staticmethod
    def read_answer(sock, buf):
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                raise ValueError("closed before an answer")
            buf += d
            if len(buf) > 65536:
                raise ValueError("answer headers too long")
        head, _, rest = buf.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        while len(rest) < n:
            d = sock.recv(65536)
            if not d:
                raise ValueError("closed inside a body")
            rest += d
        return head, rest[n:]

    def write_status(self, done, t0):
        if not self.args.status:
            return
        with self.lock:
            snap = {
                "done": done,
                "sent": self.next,
                "passes": self.next // self.args.count,
                "t": round(time.monotonic() - t0, 3),
                "status": dict(self.status),
            }
        tmp = self.args.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(snap, f)
        os.replace(tmp, self.args.status)


def cmd_names(args):
    hard_cap(args.seconds)
    raise_nofile(args.conns + 64)
    fl = Flood(args)

    def stop(*_):
        fl.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    t0 = time.monotonic()
    threads = [threading.Thread(target=fl.worker, args=(n,), daemon=True) for n in range(args.conns)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        fl.write_status(False, t0)
        for t in threads:
            t.join(0.1)
    secs = time.monotonic() - t0
    fl.write_status(True, t0)
    total = sum(fl.status.values())
    out = {
        "names": total,
        "passes": total // args.count,
        "first_pass_s": round(fl.first_pass - t0, 3) if fl.first_pass else None,
        "seconds": round(secs, 3),
        "per_second": round(total / secs) if secs > 0 else None,
        "status": fl.status,
        "challenges": fl.challenges,
        "errors": len(fl.errors),
    }
    print(json.dumps(out))
    if fl.errors:
        print(f"attack.py names: {len(fl.errors)} errors, first: {fl.errors[0]}", file=sys.stderr)
    if total < args.count or (args.passes and total != args.count * args.passes):
        print(f"attack.py names: {total} answers, {args.count} names a pass", file=sys.stderr)
        return 1
    if fl.status.get("401", 0) != total or fl.challenges != total:
        print("attack.py names: not every made-up name got a 401 with a challenge", file=sys.stderr)
        return 1
    return 0


# ---- timed --------------------------------------------------------------------------------


def cmd_timed(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        die("timed: no command")
    t0 = time.monotonic()
    try:
        rc = subprocess.run(cmd, timeout=args.cap).returncode
    except subprocess.TimeoutExpired:
        rc = 124
    secs = time.monotonic() - t0
    verdict = "ok" if rc == 0 and secs <= args.limit else ("failed" if rc != 0 else "slow")
    line = f"{args.label} {secs:.3f} s exit {rc} {verdict}"
    if args.record:
        with open(args.record, "a") as f:
            f.write(line + "\n")
    if verdict == "slow":
        print(f"attack.py timed: {args.label} took {secs:.3f} s, over {args.limit} s", file=sys.stderr)
        return 125
    return rc


# ---- watchdog -----------------------------------------------------------------------------


def cmd_watchdog(args):
    """SIGTERM to --pid after --seconds; gone as soon as that process is."""
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            os.kill(args.pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(min(0.5, max(0.0, end - time.monotonic())))
    try:
        os.kill(args.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd_name", required=True)

    h = sub.add_parser("hold", help="idle and slowloris connections")
    h.add_argument("--target", action="append", required=True, help="NAME=HOST:PORT[:tls]")
    h.add_argument("--idle", type=int, default=0, help="idle connections per target")
    h.add_argument("--slow", type=int, default=0, help="slowloris connections per target")
    h.add_argument("--interval", type=float, default=2.0, help="seconds between slow pieces")
    h.add_argument("--source", default="127.0.0.2", help="first source address")
    h.add_argument("--source-count", type=int, default=1)
    h.add_argument("--rate", type=float, default=5000.0, help="new connections per second")
    h.add_argument("--seconds", type=float, required=True, help="hard time cap")
    h.add_argument("--status", help="JSON status file, rewritten several times a second")

    s = sub.add_parser("status", help="check a hold status file")
    s.add_argument("file")
    s.add_argument("--open-min", type=int)
    s.add_argument("--held-min", type=int)
    s.add_argument("--held-max", type=int)
    s.add_argument("--closed-min", type=int, help="closed by the server after being held")
    s.add_argument("--fast-min", type=int, help="closed by the server at once (refused)")
    s.add_argument("--fast-max", type=int)
    s.add_argument("--errors-max", type=int, help="connections that failed to open")
    s.add_argument("--life", help="MIN:MAX seconds for the median life of a closed one")
    s.add_argument("--life-max", type=float, help="seconds the longest-lived closed one may have")
    s.add_argument("--server", action="store_true", help="also the daemons' side (/proc/net/tcp)")
    s.add_argument("--server-min", type=int, help="connections established on the daemon's side")
    s.add_argument("--server-per-addr-max", type=int, help="the most from one address there")

    n = sub.add_parser("names", help="the challenge flood")
    n.add_argument("--host", default="127.0.0.1")
    n.add_argument("--port", type=int, required=True)
    n.add_argument("--realm", default="localhost")
    n.add_argument("--count", type=int, required=True, help="names a pass (at least one pass)")
    n.add_argument("--passes", type=int, default=1, help="passes, each with new names (0: until SIGTERM)")
    n.add_argument("--conns", type=int, default=8)
    n.add_argument("--source", default="127.0.0.2")
    n.add_argument("--source-count", type=int, default=4)
    n.add_argument("--seconds", type=float, required=True, help="hard time cap")
    n.add_argument("--status", help="JSON progress file")

    t = sub.add_parser("timed", help="a command timed with the monotonic clock")
    t.add_argument("--label", required=True)
    t.add_argument("--limit", type=float, default=1.0, help="seconds allowed")
    t.add_argument("--cap", type=float, default=30.0, help="killed after this long")
    t.add_argument("--record", help="append the result line to this file")
    t.add_argument("cmd", nargs=argparse.REMAINDER)

    w = sub.add_parser("watchdog", help="a script's time cap")
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--pid", type=int, required=True)

    args = p.parse_args()
    if args.cmd_name == "watchdog":
        return cmd_watchdog(args)
    if args.cmd_name == "hold":
        if args.idle < 0 or args.slow < 0 or args.idle + args.slow == 0 or args.source_count < 1:
            die("hold: --idle/--slow/--source-count")
        return cmd_hold(args)
    if args.cmd_name == "status":
        return cmd_status(args)
    if args.cmd_name == "names":
        if args.count < 1 or args.conns < 1 or args.source_count < 1:
            die("names: --count/--conns/--source-count")
        return cmd_names(args)
    return cmd_timed(args)


if __name__ == "__main__":
    sys.exit(main())
