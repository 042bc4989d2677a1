"""The network-namespace lab shared by scripts/netns-test and scripts/bench-netns.

A bridge in the root namespace and one namespace per host (Redis, the router, workers), each
with a veth on the bridge and its own address in a private /24; processes started in them;
tcpdump captures of the bridge and a pcap reader; the router's HTTP side; a Tessera cluster
(router, remote workers, optional netproxy sidecars) started and stopped with readiness
polled, never slept for. Everything it creates carries the prefix `tsr-<pid>-` and is removed
by Lab.close(), also on failure or Ctrl-C; leftovers of crashed runs are removed on start.

Stdlib only. Needs root, iproute2 (ip netns, veth, bridge) and setpriv; tcpdump for captures.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(SCRIPTS)
NETPROXY = os.path.join(SCRIPTS, "netproxy")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"

HTTP_PORT = 8080  # the router's API (http or https)
WORKERS_PORT = 5555  # the router's --workers-bind
REDIS_PORT = 6379
DATA_PORT = 7000  # a worker's data plane as peers dial it (the sidecar proxy, or the worker)
DATA_LOCAL_PORT = 7001  # behind a sidecar: the worker's own data bind, on its loopback
PROXY_CONTROL_PORT = 7099  # a sidecar's control socket, on the worker's address

PREFIX = "tsr"
OWN_SCRIPTS = ("netns-test", "bench-netns")


class Failure(Exception):
    """A check or a set-up step failed; the message says which and why."""


def log(tag, message):
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_until(condition, timeout, what, interval=0.02):
    """Polls `condition` until it returns something truthy (returned) or `timeout` seconds
    pass (Failure naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def sh(*argv, check=True, capture=True):
    result = subprocess.run(argv, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if check and result.returncode != 0:
        raise Failure(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


def preflight(tools, binary=None, flags=()):
    """Root, the tools, the binary and the flags it must have: a clear Failure otherwise,
    never a skip."""
    if os.geteuid() != 0:
        raise Failure("must run as root (network namespaces, veth, a bridge, tcpdump); "
                      "run it with sudo")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise Failure(f"missing tools: {', '.join(missing)} (scripts/setup installs them: "
                      f"apt-get install -y iproute2 tcpdump openssl redis-server util-linux)")
    probe = f"{PREFIX}-{os.getpid()}-probe"
    result = sh("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        raise Failure(f"`ip netns add` does not work here: {result.stderr.strip()}")
    sh("ip", "netns", "del", probe, check=False)
    if binary is not None:
        if not os.access(binary, os.X_OK):
            raise Failure(f"{binary} is not built (swift build, or --bin)")
        if not os.path.exists(MODEL):
            raise Failure(f"{MODEL} is missing (scripts/setup fetches it)")
        for command, flag in flags:
            text = sh(binary, *command, "--help", check=False)
            if flag not in (text.stdout + text.stderr):
                raise Failure(f"{binary} {' '.join(command)} has no {flag} "
                              f"(`{binary} {' '.join(command)} --help`)")


def snapshot_binary(binary, work):
    """A copy of the binary in the work directory, run instead of it: a rebuild during the
    run (which rewrites the file) cannot pull it from under running processes."""
    copy = os.path.join(work, os.path.basename(binary))
    shutil.copy2(binary, copy)
    return copy


def _ours_alive(pid):
    """Is `pid` a live run of one of these scripts (whose lab must not be touched)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().decode(errors="replace")
    except OSError:
        return False
    return any(name in command for name in OWN_SCRIPTS)


def remove_leftovers(tag):
    """Namespaces and links of this prefix left by runs that are gone (crashed, killed)."""
    removed = []
    names = sh("ip", "netns", "list", check=False).stdout.split("\n")
    for line in names:
        name = line.split(" ")[0]
        match = re.match(rf"^{PREFIX}-(\d+)-", name)
        if not match or _ours_alive(int(match.group(1))):
            continue
        for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        sh("ip", "netns", "del", name, check=False)
        removed.append(name)
    for line in sh("ip", "-o", "link", "show", check=False).stdout.split("\n"):
        match = re.match(rf"^\d+: ({PREFIX}-(\d+)-[^:@]+)", line)
        if match and not _ours_alive(int(match.group(2))):
            # A veth of a namespace just deleted may go by itself meanwhile.
            if sh("ip", "link", "del", match.group(1), check=False).returncode == 0:
                removed.append(match.group(1))
    if removed:
        log(tag, f"removed leftovers of earlier runs: {', '.join(dict.fromkeys(removed))}")


def _free_subnet():
    """A 10.77.N.0/24 no route or address of this machine uses."""
    used = sh("ip", "-4", "route", "show", "table", "all", check=False).stdout + \
        sh("ip", "-4", "addr", check=False).stdout
    start = os.getpid() % 200
    for step in range(250):
        n = (start + step) % 250 + 2
        if f"10.77.{n}." not in used:
            return f"10.77.{n}"
    raise Failure("no free 10.77.N.0/24 on this machine")


class Proc:
    def __init__(self, name, popen, log_path):
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def output(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, lines=15):
        return "\n".join(self.output().rstrip().split("\n")[-lines:])

    def stop(self, timeout=5, sig=signal.SIGTERM):
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
            except OSError:
                pass
        return self.popen.returncode


class Lab:
    """The bridge and the namespaces: hosts = {short name: last octet}. Short names are at
    most 3 characters: interface names (tsr-PID-NAME) have at most 15, and a pid 7 digits."""

    def __init__(self, hosts, work, tag="netns"):
        assert all(len(host) <= 3 for host in hosts), "host names of at most 3 characters"
        self.tag = tag
        self.work = work
        self.id = f"{PREFIX}-{os.getpid()}"
        self.bridge = f"{self.id}-br"
        self.hosts = dict(hosts)
        self.procs = []
        self.created_ns = []
        self.created_links = []
        self.subnet = None

    # -- set-up and tear-down ----------------------------------------------------------------

    def up(self):
        remove_leftovers(self.tag)
        self.subnet = _free_subnet()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.created_links.append(self.bridge)
        sh("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for host in self.hosts:
            ns, veth = self.ns(host), self.veth(host)
            sh("ip", "netns", "add", ns)
            self.created_ns.append(ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.created_links.append(veth)
            sh("ip", "link", "set", veth, "master", self.bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def close(self):
        """Every process, namespace and link of this run, whatever state things are in."""
        for proc in reversed(self.procs):
            try:
                proc.stop(timeout=3)
            except Exception:
                pass
        for ns in self.created_ns:
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        for ns in self.created_ns:
            sh("ip", "netns", "del", ns, check=False)
        for link in self.created_links:
            if os.path.exists(f"/sys/class/net/{link}"):
                sh("ip", "link", "del", link, check=False)
        def left():
            names = [link for link in os.listdir("/sys/class/net")
                     if link.startswith(self.id + "-")]
            return names + [line.split(" ")[0] for line in sh(
                "ip", "netns", "list", check=False).stdout.split("\n")
                if line.startswith(self.id + "-")]
        try:  # a veth goes with its namespace, asynchronously
            wait_until(lambda: not left(), 5, "the namespaces and links to go")
        except Failure:
            pass
        return left()

    # -- names and addresses -----------------------------------------------------------------

    def ns(self, host):
        return f"{self.id}-{host}"

    def veth(self, host):
        return f"{self.id}-{host}"

    def ip(self, host):
        return f"{self.subnet}.{self.hosts[host]}"

    def link(self, host, up):
        """The host's veth, seen from the bridge side: down is a cut cable."""
        sh("ip", "link", "set", self.veth(host), "up" if up else "down")

    # -- processes ---------------------------------------------------------------------------

    def spawn(self, host, argv, name, env=None):
        """`argv` in the host's namespace (None: the root one), output in WORK/NAME.log. It gets
        SIGTERM when this process dies, however it dies (setpriv --pdeathsig); spawn from the
        main thread only (the death signal follows the spawning thread)."""
        log_path = os.path.join(self.work, f"{name}.log")
        prefix = ["ip", "netns", "exec", self.ns(host)] if host else []
        command = prefix + ["setpriv", "--pdeathsig", "TERM", "--"] + [str(a) for a in argv]
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def forget(self, proc):
        if proc in self.procs:
            self.procs.remove(proc)


# -- HTTP to the router -----------------------------------------------------------------------


class Endpoint:
    """The router's HTTP API from the root namespace: http, or https verified against a CA file
    (the router's self-signed certificate)."""

    def __init__(self, host, port, cafile=None):
        self.host = host
        self.port = port
        self.cafile = cafile
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    @property
    def base_url(self):
        return f"{'https' if self.cafile else 'http'}://{self.host}:{self.port}"

    def request(self, method, path, body=None, timeout=5):
        if self.context:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                     context=self.context)
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, None if body is None else json.dumps(body), headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def get(self, path, timeout=5):
        try:
            return self.request("GET", path, timeout=timeout)
        except (OSError, http.client.HTTPException):
            return 0, b""

    def json(self, path):
        status, body = self.get(path)
        try:
            return json.loads(body) if status == 200 else {}
        except ValueError:
            return {}

    def cluster(self):
        return self.json("/v1/cluster")

    def metrics(self):
        status, body = self.get("/metrics")
        return body.decode(errors="replace") if status == 200 else ""

    def metric(self, name, labels=None):
        """A sample of /metrics: `name` with exactly these labels (None: no labels); summed
        over every series of the name when labels == "*"; None when absent."""
        total, found = 0.0, False
        for line in self.metrics().split("\n"):
            match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if not match or match.group(1) != name:
                continue
            series = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if labels == "*" or series == (labels or {}):
                total += float(match.group(3))
                found = True
        return total if found else None


# -- captures ---------------------------------------------------------------------------------


class Capture:
    """tcpdump on an interface with a capture filter, into a pcap file. `marker` is an
    (ip, port) the filter lets through: stop() sends UDP datagrams there until one is in the
    file, so everything before it was written (tcpdump delivers packets as they come,
    --immediate-mode, and writes each at once, -U)."""

    def __init__(self, lab, interface, bpf, name, marker):
        self.lab = lab
        self.interface = interface
        self.bpf = bpf
        self.name = name
        self.marker = marker
        self.path = os.path.join(lab.work, f"{name}.pcap")
        self.proc = None

    def __enter__(self):
        self.proc = self.lab.spawn(None, ["tcpdump", "-i", self.interface, "-n", "-s", "0", "-U",
                                          "--immediate-mode", "-w", self.path, self.bpf],
                                   f"tcpdump-{self.name}")
        # tcpdump says so once the capture is attached: packets from then on are in the file.
        wait_until(lambda: "listening on" in self.proc.output() or not self.proc.alive(), 15,
                   f"tcpdump ({self.name}) to start")
        if not self.proc.alive():
            raise Failure(f"tcpdump ({self.name}) exited: {self.proc.tail()}")
        return self

    def __exit__(self, *_):
        self.stop()

    def stop(self):
        if not (self.proc and self.proc.alive()):
            return self
        token = f"tessera-capture-marker-{os.getpid()}-{time.monotonic_ns()}".encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            def flushed():
                udp.sendto(token, self.marker)
                with open(self.path, "rb") as f:
                    return token in f.read()
            wait_until(flushed, 10, f"the capture ({self.name}) to take a marker packet",
                       interval=0.05)
        self.proc.stop(sig=signal.SIGINT)
        self.lab.forget(self.proc)
        return self

    def streams(self):
        return pcap_streams(self.path)


def pcap_streams(path):
    """The TCP payload of every flow of a classic pcap file, reassembled by sequence number:
    {(src, sport, dst, dport): bytes}. Ethernet, Linux cooked (v1, v2) and raw IPv4 links."""
    with open(path, "rb") as f:
        data = memoryview(f.read())  # frames are sliced from it without copies
    if len(data) < 24:
        return {}
    magic = bytes(data[:4])
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise Failure(f"{path} is not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    segments = {}
    offset = 24
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        if linktype == 1:  # Ethernet, maybe with VLAN tags
            ethertype, at = struct.unpack("!H", frame[12:14])[0], 14
            while ethertype in (0x8100, 0x88A8) and len(frame) >= at + 4:
                ethertype, at = struct.unpack("!H", frame[at + 2:at + 4])[0], at + 4
        elif linktype == 113:  # Linux cooked v1
            ethertype, at = struct.unpack("!H", frame[14:16])[0], 16
        elif linktype == 276:  # Linux cooked v2
            ethertype, at = struct.unpack("!H", frame[0:2])[0], 20
        elif linktype in (12, 101):  # raw IP
            ethertype, at = 0x0800, 0
        else:
            raise Failure(f"{path}: link type {linktype} not handled")
        if ethertype != 0x0800 or len(frame) < at + 20:
            continue
        ip = frame[at:]
        header = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0] or len(ip)  # 0: a TSO frame, take all
        if ip[9] != 6 or len(ip) < header + 20:
            continue
        src, dst = socket.inet_ntoa(bytes(ip[12:16])), socket.inet_ntoa(bytes(ip[16:20]))
        tcp = ip[header:min(len(ip), total)]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            segments.setdefault((src, sport, dst, dport), []).append((seq, payload))
    streams = {}
    for flow, parts in segments.items():
        base = parts[0][0]
        ordered = sorted((((seq - base) % (1 << 32), payload) for seq, payload in parts),
                         key=lambda part: part[0])
        stream = bytearray()
        for relative, payload in ordered:  # payload: a memoryview into the file
            if relative + len(payload) <= len(stream):
                continue  # a retransmission
            if relative < len(stream):
                payload = payload[len(stream) - relative:]
            stream += payload  # a gap (a packet the capture lost) just joins up
        streams[flow] = bytes(stream)
    return streams


# -- a Tessera cluster in the lab ------------------------------------------------------------


class Keys:
    """Curve key pairs made with `tessera keys generate`, and the authorized-keys file."""

    def __init__(self, binary, work, names, authorized):
        self.dir = os.path.join(work, "keys")
        os.makedirs(self.dir, exist_ok=True)
        for name in names:
            sh(binary, "keys", "generate", "--out", self.secret(name)[:-4])
            for path in (self.secret(name), self.public(name)):
                if not os.path.exists(path):
                    raise Failure(f"`tessera keys generate --out {self.secret(name)[:-4]}` "
                                  f"made no {path}")
            mode = os.stat(self.secret(name)).st_mode & 0o777
            if mode & 0o077:
                raise Failure(f"{self.secret(name)} is mode {mode:o}, readable by others")
        self.authorized = os.path.join(self.dir, "authorized-keys")
        with open(self.authorized, "w") as f:
            for name in authorized:
                f.write(open(self.public(name)).read().strip() + "\n")

    def secret(self, name):
        return os.path.join(self.dir, f"{name}.key")

    def public(self, name):
        return os.path.join(self.dir, f"{name}.pub")


def make_certificate(work, ip):
    """A self-signed certificate for the router's address (an IP SAN), for --tls-cert."""
    cert, key = os.path.join(work, "router-cert.pem"), os.path.join(work, "router-key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "2", "-subj", "/CN=tessera-router", "-addext",
       f"subjectAltName=IP:{ip}", "-keyout", key, "-out", cert)
    return cert, key


def proxy_control(address, line, timeout=3):
    """One command to a netproxy control socket; its reply line."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall((line + "\n").encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    reply = reply.decode().strip()
    if not reply.startswith("ok"):
        raise Failure(f"netproxy at {address[0]}:{address[1]}: `{line}` answered {reply!r}")
    return reply[3:]


class Cluster:
    """Redis, a router with --workers-bind and remote workers, each in its lab host.

    secure: Curve keys (else --insecure everywhere); tls: (cert, key) for https; proxied: each
    worker has a netproxy sidecar in its namespace, through which it dials the router and
    through which its peers dial its data plane (it binds that on its loopback and
    --advertises the sidecar), so every connection crosses exactly one proxy."""

    def __init__(self, lab, binary, *, tp, pp, standby, workers, secure, keys=None, tls=None,
                 redis="rd", router="rt", proxied=False, delay_ms=0.0, worker_timeout=1.0,
                 names=None, label="cluster", router_args=()):
        self.lab = lab
        self.binary = binary
        self.tp, self.pp, self.standby = tp, pp, standby
        self.workers = list(workers)  # lab hosts
        self.names = names or {host: f"worker-{i + 1}" for i, host in enumerate(self.workers)}
        self.secure = secure
        self.keys = keys
        self.tls = tls
        self.redis_host = redis
        self.router_host = router
        self.proxied = proxied
        self.delay_ms = delay_ms
        self.worker_timeout = worker_timeout
        self.label = label  # in the log files' names: WORK/ROLE.LABEL.log
        self.router_args = list(router_args)
        self.procs = {}  # role -> Proc
        self.endpoint = Endpoint(lab.ip(router), HTTP_PORT, cafile=tls[0] if tls else None)

    # -- addresses ----------------------------------------------------------------------------

    @property
    def router_ip(self):
        return self.lab.ip(self.router_host)

    def workers_endpoint(self):
        return f"tcp://{self.router_ip}:{WORKERS_PORT}"

    def control_address(self, host):
        return (self.lab.ip(host), PROXY_CONTROL_PORT)

    def host_of(self, name):
        return next(host for host, n in self.names.items() if n == name)

    # -- start --------------------------------------------------------------------------------

    def start(self):
        if self.redis_host:
            self.start_redis()
        self.start_router()
        for host in self.workers:
            if self.proxied:
                self.start_proxy(host)
            self.start_worker(host)
        self.wait_ready()
        return self

    def spawn(self, host, role, argv):
        proc = self.lab.spawn(host, argv, f"{role}.{self.label}")
        self.procs[role] = proc
        return proc

    def start_redis(self):
        ip = self.lab.ip(self.redis_host)
        proc = self.spawn(self.redis_host, "redis", [
            "redis-server", "--port", REDIS_PORT, "--bind", ip, "--save", "", "--appendonly",
            "no", "--protected-mode", "no", "--dir", self.lab.work, "--maxmemory", "256mb",
            "--maxmemory-policy", "volatile-lru"])

        def pong():
            if not proc.alive():
                raise Failure(f"redis-server exited: {proc.tail()}")
            try:
                with socket.create_connection((ip, REDIS_PORT), 0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_until(pong, 15, "redis-server to answer PING")

    def redis_url(self):
        return f"redis://{self.lab.ip(self.redis_host)}:{REDIS_PORT}" if self.redis_host else None

    def start_router(self):
        argv = [self.binary, "router", "--model", MODEL, "--listen",
                f"{self.router_ip}:{HTTP_PORT}", "--workers-bind", self.workers_endpoint(),
                "--tp", self.tp, "--pp", self.pp, "--standby", self.standby, "--threads", 1,
                "--worker-timeout", self.worker_timeout, *self.router_args]
        argv += (["--curve-secret-key", self.keys.secret("router"), "--authorized-keys",
                  self.keys.authorized] if self.secure else ["--insecure"])
        if self.tls:
            argv += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        if self.redis_host:
            argv += ["--redis", self.redis_url()]
        proc = self.spawn(self.router_host, "router", argv)
        scheme = "https" if self.tls else "http"
        line = f"at {scheme}://{self.router_ip}:{HTTP_PORT}/v1"

        def serving():
            if not proc.alive():
                raise Failure(f"the router exited ({proc.popen.returncode}): {proc.tail()}")
            return "tessera router: serving" in proc.output() and line in proc.output()
        wait_until(serving, 60, f"the router to print `tessera router: serving … {line}`")

    def start_proxy(self, host, delay_ms=None):
        ip = self.lab.ip(host)
        proc = self.spawn(host, f"netproxy-{self.names[host]}", [
            sys.executable, NETPROXY,
            "--map", f"127.0.0.1:{WORKERS_PORT}={self.router_ip}:{WORKERS_PORT}",
            "--map", f"{ip}:{DATA_PORT}=127.0.0.1:{DATA_LOCAL_PORT}",
            "--control", f"{ip}:{PROXY_CONTROL_PORT}",
            "--delay-ms", self.delay_ms if delay_ms is None else delay_ms])

        def answering():
            if not proc.alive():
                raise Failure(f"netproxy for {self.names[host]} exited: {proc.tail()}")
            try:
                return proxy_control(self.control_address(host), "stats", timeout=0.5)
            except (OSError, Failure):
                return None
        wait_until(answering, 15, f"the netproxy sidecar of {self.names[host]} to answer")

    def worker_argv(self, host, name=None, keys_of=None, router=None, security=None):
        """A worker's command line; the defaults are this cluster's, the arguments let a test
        build another: an intruder (keys_of: another key pair), security "none" (neither keys
        nor --insecure)."""
        name = name or self.names[host]
        ip = self.lab.ip(host)
        security = security or ("curve" if self.secure else "insecure")
        argv = [self.binary, "worker", "--model", MODEL, "--name", name, "--threads", 1]
        if self.proxied and router is None:
            argv += ["--router", f"tcp://127.0.0.1:{WORKERS_PORT}",
                     "--data-bind", f"tcp://127.0.0.1:{DATA_LOCAL_PORT}",
                     "--advertise", f"tcp://{ip}:{DATA_PORT}"]
        else:
            argv += ["--router", router or self.workers_endpoint(),
                     "--data-bind", f"tcp://{ip}:{DATA_PORT}"]
        if security == "curve":
            argv += ["--curve-secret-key", self.keys.secret(keys_of or host),
                     "--router-public-key", self.keys.public("router")]
        elif security == "insecure":
            argv += ["--insecure"]
        if self.redis_host:
            argv += ["--redis", self.redis_url()]
        return argv

    def start_worker(self, host):
        return self.spawn(host, self.names[host], self.worker_argv(host))

    # -- state --------------------------------------------------------------------------------

    def members(self):
        """{name: worker} from /v1/cluster."""
        return {w.get("name"): w for w in self.endpoint.cluster().get("workers", [])}

    def planned(self):
        return sorted(n for n, w in self.members().items() if w.get("role") == "plan")

    def standbys(self):
        return sorted(n for n, w in self.members().items() if w.get("role") == "standby")

    def failures(self):
        return sum((self.endpoint.cluster().get("cluster") or {}).get("failures", {}).values())

    def replans(self):
        return (self.endpoint.cluster().get("cluster") or {}).get("replans", 0)

    def ready(self):
        status, _ = self.endpoint.get("/ready")
        return status == 200

    def dead(self):
        """What has exited that should not have: "router exited (-11): <its last lines>"."""
        return [f"{role} exited ({proc.popen.returncode}): {proc.tail(5)}"
                for role, proc in self.procs.items() if not proc.alive()]

    def check_alive(self):
        dead = self.dead()
        if dead:
            raise Failure("; ".join(dead))

    def wait_ready(self, timeout=90):
        """/ready is 200, T×P workers are in the plan and the standbys are there."""
        def condition():
            self.check_alive()
            return self.ready() and len(self.planned()) == self.tp * self.pp \
                and len(self.standbys()) >= self.standby
        try:
            wait_until(condition, timeout, f"the router to be ready with {self.tp * self.pp} "
                       f"planned workers and {self.standby} standby", interval=0.05)
        except Failure as error:
            status, body = self.endpoint.get("/ready")
            raise Failure(f"{error}; /ready: {status} {body.decode(errors='replace')[:300]}; "
                          f"members: {sorted(self.members())} (if no worker ever joined: "
                          f"bridged traffic blocked? br_netfilter with a FORWARD DROP policy)")

    def stop(self):
        for role in reversed(list(self.procs)):
            proc = self.procs.pop(role)
            proc.stop(timeout=5)
            self.lab.forget(proc)
