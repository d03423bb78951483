#!/usr/bin/env python3
"""Multi-host test (make multihost-test): rzero across network namespaces.

Four "hosts", each a network namespace with its own address on a private bridge (the bridge lives in
a fifth namespace, so the machine's own network is never touched):
  rzmh-chal  10.77.0.2  Challenger service
  rzmh-sol0  10.77.0.3  Solver service (trainer)
  rzmh-sol1  10.77.0.4  Solver service (replica; pulls the trainer's weights over the bridge)
  rzmh-coord 10.77.0.5  coordinator
The services bind their namespace address (so a bearer token is required). A third of the way into
the run the replica's link is cut (its veth is set down: packets are dropped, nothing is refused), and
restored two thirds of the way in. Checks:
  - the coordinator finishes (exit 0) and the run holds every unit exactly once;
  - its records equal those of a run on the same configuration with a single Solver (votes do not
    depend on which Solver answered), so the cut lost or changed nothing;
  - traffic went over the namespace addresses: the replica answered vote requests (its Prometheus
    counters, read over the bridge) and the coordinator's log names 10.77.0.x addresses;
  - the coordinator left the replica out while it was cut off.
Needs root and iproute2; prints "SKIP" and exits 0 where namespaces cannot be created.

Usage: scripts/multihost_test.py --rzero .build/debug/rzero --model models/base [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from crash_test import comparable, read_lines, stop_process  # the same journal comparison as the crash test

HOSTS = {"chal": "10.77.0.2", "sol0": "10.77.0.3", "sol1": "10.77.0.4", "coord": "10.77.0.5"}
SWITCH = "rzmh-switch"
TOKEN = "multihost-test-token-0123456789"


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def ns(host):
    return f"rzmh-{host}"


def can_use_namespaces():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2 (the ip command)"
    probe = "rzmh-probe"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"cannot create network namespaces here: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


def teardown():
    for host in HOSTS:
        sh("ip", "netns", "del", ns(host), check=False)
    sh("ip", "netns", "del", SWITCH, check=False)


def setup():
    teardown()
    sh("ip", "netns", "add", SWITCH)
    sh("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", SWITCH, "link", "set", "br0", "up")
    for host, addr in HOSTS.items():
        name = ns(host)
        sh("ip", "netns", "add", name)
        # One veth pair per host: "eth0" inside the host, "<host>" on the bridge.
        sh("ip", "link", "add", f"rzmh-{host}-h", "type", "veth", "peer", "name", f"rzmh-{host}-s")
        sh("ip", "link", "set", f"rzmh-{host}-h", "netns", name)
        sh("ip", "link", "set", f"rzmh-{host}-s", "netns", SWITCH)
        sh("ip", "-n", name, "link", "set", f"rzmh-{host}-h", "name", "eth0")
        sh("ip", "-n", name, "addr", "add", f"{addr}/24", "dev", "eth0")
        sh("ip", "-n", name, "link", "set", "eth0", "up")
        sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "-n", SWITCH, "link", "set", f"rzmh-{host}-s", "master", "br0")
        sh("ip", "-n", SWITCH, "link", "set", f"rzmh-{host}-s", "up")


def cut(host, up):
    sh("ip", "-n", SWITCH, "link", "set", f"rzmh-{host}-s", "up" if up else "down")


def in_ns(host, cmd, **kw):
    env = dict(os.environ, RZERO_TOKEN=TOKEN)
    return subprocess.Popen(["ip", "netns", "exec", ns(host)] + cmd, env=env, **kw)


def wait_ready(host, port, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = sh("ip", "netns", "exec", ns("coord"), "curl", "-sf", f"http://{HOSTS[host]}:{port}/readyz", check=False)
        if r.returncode == 0:
            return
        time.sleep(0.3)
    raise SystemExit(f"service on {HOSTS[host]}:{port} did not become ready")


def metrics(host, port):
    r = sh("ip", "netns", "exec", ns("coord"), "curl", "-sf", f"http://{HOSTS[host]}:{port}/metrics", check=False)
    total = 0.0
    for line in r.stdout.splitlines():
        if line.startswith("rzero_requests_total") and 'operation="generate"' in line:
            total += float(line.split()[-1])
    return total


def reference_run(args, root, config):
    """The same configuration with one Solver, all on loopback in this namespace."""
    import socket

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    ports = {"challenger": free_port(), "solver": free_port()}
    procs = []
    try:
        for role, port in ports.items():
            log = open(os.path.join(root, f"ref-{role}.log"), "w")
            procs.append(subprocess.Popen([args.rzero, "serve", "--role", role, "--model", args.model, "--port", str(port),
                                           "--checkpoints", os.path.join(root, f"ref-ckpt-{role}"), "--threads", "1"],
                                          stdout=log, stderr=log))
        for port in ports.values():
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    break
                except Exception:
                    time.sleep(0.2)
        run = os.path.join(root, "ref-run")
        with open(os.path.join(root, "ref-coordinator.log"), "w") as log:
            r = subprocess.run([args.rzero, "coordinate", "--config", config, "--run", run, "--status-port=-1", "--no-progress",
                                "--challenger", f"http://127.0.0.1:{ports['challenger']}",
                                "--solver", f"http://127.0.0.1:{ports['solver']}"], stdout=log, stderr=log)
        if r.returncode != 0:
            raise SystemExit("the single-Solver reference run failed (see ref-coordinator.log)")
        return run
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", default=".build/debug/rzero")
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--config", default="scripts/crash_test_config.json")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    why = can_use_namespaces()
    if why:
        print(f"SKIP multihost test: {why}")
        return 0
    if shutil.which("curl") is None:
        print("SKIP multihost test: needs curl")
        return 0
    args.rzero, args.model = os.path.abspath(args.rzero), os.path.abspath(args.model)
    root = tempfile.mkdtemp(prefix="rzero-multihost-")
    # The test's own settings on top of the short configuration: replicas given up quickly when cut off.
    with open(args.config) as f:
        config = json.load(f)
    config.setdefault("services", {}).update({"connect_timeout_seconds": 1, "replica_retry_for_seconds": 1,
                                             "replica_request_timeout_seconds": 5, "replica_retry_interval_seconds": 1})
    config_path = os.path.join(root, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    print(f"work folder: {root}")
    ok, procs = True, []
    try:
        setup()
        print("namespaces: " + ", ".join(f"{ns(h)} {a}" for h, a in HOSTS.items()) + f" on a bridge in {SWITCH}")
        roles = {"chal": ("challenger", 8101), "sol0": ("solver", 8102), "sol1": ("solver", 8102)}
        for host, (role, port) in roles.items():
            log = open(os.path.join(root, f"{host}.log"), "w")
            # The replica pulls the trainer's weights, and only from there.
            source = ["--weights-source", f"http://{HOSTS['sol0']}:8102"] if host == "sol1" else []
            procs.append(in_ns(host, [args.rzero, "serve", "--role", role, "--model", args.model, "--host", HOSTS[host],
                                      "--port", str(port), "--checkpoints", os.path.join(root, f"ckpt-{host}"), "--threads", "1"]
                               + source, stdout=log, stderr=log))
        for host, (_, port) in roles.items():
            wait_ready(host, port)
        run = os.path.join(root, "run")
        log = open(os.path.join(root, "coordinator.log"), "w")
        coord = in_ns("coord", [args.rzero, "coordinate", "--config", config_path, "--run", run, "--status-port", "8100", "--no-progress",
                                "--challenger", f"http://{HOSTS['chal']}:8101",
                                "--solver", f"http://{HOSTS['sol0']}:8102", f"http://{HOSTS['sol1']}:8102"],
                      stdout=log, stderr=log)
        procs.append(coord)
        # The plan's length from the coordinator's /status (on its namespace's loopback).
        total = None
        while total is None and coord.poll() is None:
            r = sh("ip", "netns", "exec", ns("coord"), "curl", "-sf", "http://127.0.0.1:8100/status", check=False)
            try:
                total = json.loads(r.stdout)["unit_count"] or None
            except (ValueError, KeyError):
                time.sleep(0.2)
        total = total or 0
        phase, replica_before_cut = "before", 0.0
        while coord.poll() is None:
            done = len(read_lines(os.path.join(run, "events.jsonl")))
            if phase == "before" and done >= total // 3:
                replica_before_cut = metrics("sol1", 8102)
                cut("sol1", up=False)
                print(f"cut the replica {HOSTS['sol1']} off after {done} units (it had answered {replica_before_cut:.0f} vote requests)")
                phase = "cut"
            elif phase == "cut" and done >= 2 * total // 3:
                cut("sol1", up=True)
                print(f"restored the replica's link after {done} units")
                phase = "after"
            time.sleep(0.2)
        log.close()
        if coord.returncode != 0:
            print(f"FAIL: the coordinator exited with {coord.returncode} (see coordinator.log)")
            ok = False
        replica_after = metrics("sol1", 8102)
        trainer_total = metrics("sol0", 8102)
        events = read_lines(os.path.join(run, "events.jsonl"))
        if sorted(e["unit"] for e in events) != list(range(len(events))) or len(events) != total:
            print(f"FAIL: {len(events)} events, expected units 0..{total - 1} once each")
            ok = False
        coordinator_log = open(os.path.join(root, "coordinator.log")).read()
        if phase == "before":
            print("FAIL: the run ended before the replica could be cut off")
            ok = False
        if "replica unavailable" not in coordinator_log:
            print("FAIL: the coordinator never reported the cut-off replica")
            ok = False
        addresses = sorted({a for a in HOSTS.values() if a in coordinator_log})
        print(f"traffic: trainer answered {trainer_total:.0f} generate requests, replica {replica_after:.0f} "
              f"({replica_before_cut:.0f} before the cut); coordinator log names {', '.join(addresses)}")
        if replica_before_cut <= 0:
            print("FAIL: the replica answered no vote requests before the cut")
            ok = False
        if replica_after <= replica_before_cut:
            print("FAIL: the replica answered no vote requests after its link came back")
            ok = False
        ref = reference_run(args, root, config_path)
        a, b = comparable(ref), comparable(run)
        for key in a:
            if a[key] != b[key]:
                print(f"FAIL: {key} differs from the single-Solver run")
                ok = False
        print("multihost test:", "PASS" if ok else "FAIL",
              f"({len(events)} units across 4 namespaces; records equal to a single-Solver run)" if ok else "")
    finally:
        for p in procs:
            stop_process(p)
        teardown()
        if args.keep or not ok:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
