#!/usr/bin/env python3
"""Crash test of the coordinator (make crash-test).

1. An uninterrupted reference run: a Challenger and a Solver service (`rzero serve`) and
   `rzero coordinate` on a short configuration.
2. The same run again on fresh services, while this script SIGKILLs the coordinator at >= 10 random
   moments (resuming it each time with `rzero coordinate --run DIR`) and once SIGKILLs the Solver
   service mid-run, restarting it a few seconds later on the same port and checkpoint folder (the
   coordinator must wait, retry, restore it and go on).
3. Checks: every unit appears exactly once in events.jsonl; the journals (questions, votes, rewards,
   pool, datasets, Solver samples, training metrics, evaluation) equal the reference run's; the
   final state (steps, units, checkpoints) and the final weights of both roles are identical. The
   configuration evaluates the Solver (70 held-out questions, greedy and majority-of-3, base + every iteration),
   and the check fails unless those evaluation records exist. It has the default's stabilisers (second opinion,
   phase averaging, the probe guard), so their units (averaging from checkpoints, the probe's measurements and
   verdicts in probe.jsonl) are killed and resumed too.

Only the Python standard library is needed. Usage:
  scripts/crash_test.py --rzero .build/debug/rzero --model models/base [--kills 10] [--seed 1]
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=120):
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"service on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"service on port {port} did not become ready")


class Services:
    def __init__(self, rzero, model, root, threads):
        self.rzero, self.model, self.root, self.threads = rzero, model, root, threads
        self.ports = {"challenger": free_port(), "solver": free_port()}
        self.procs = {}

    def start(self, role):
        log = open(os.path.join(self.root, f"{role}.log"), "a")
        self.procs[role] = subprocess.Popen(
            [self.rzero, "serve", "--role", role, "--model", self.model, "--port", str(self.ports[role]),
             "--checkpoints", os.path.join(self.root, f"checkpoints-{role}"), "--threads", str(self.threads)],
            stdout=log, stderr=log)
        wait_ready(self.ports[role], self.procs[role])

    def start_all(self):
        for role in self.ports:
            self.start(role)

    def kill(self, role):
        p = self.procs[role]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self):
        for p in self.procs.values():
            stop_process(p)

    def urls(self):
        return (f"http://127.0.0.1:{self.ports['challenger']}", f"http://127.0.0.1:{self.ports['solver']}")


def stop_process(p):
    """Terminates a child process that is still running; kills it if it does not exit within 30 s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def coordinate_cmd(rzero, config, run, services):
    challenger, solver = services.urls()
    cmd = [rzero, "coordinate", "--run", run, "--status-port=-1", "--no-progress",
           "--challenger", challenger, "--solver", solver]
    if config:
        cmd += ["--config", config]
    return cmd


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def comparable(run):
    out = {}
    for name in ["challenger", "pool", "solver", "eval", "probe", "health"]:
        out[name] = read_lines(os.path.join(run, f"{name}.jsonl"))
    out["train"] = [{k: v for k, v in r.items() if k not in ("seconds", "model_version")} for r in read_lines(os.path.join(run, "train.jsonl"))]
    datasets = os.path.join(run, "datasets")
    out["datasets"] = {f: read_lines(os.path.join(datasets, f)) for f in sorted(os.listdir(datasets))}
    return out


def final_state(run):
    with open(os.path.join(run, "state.json")) as f:
        s = json.load(f)
    rid = s["run_id"]
    return {"next_unit": s["next_unit"], "steps": s["steps"],
            "checkpoints": [(c["role"], c["name"].replace(rid, "RUN"), c["step"]) for c in s["checkpoints"]]}, s


def weights_digest(root, state):
    digests = {}
    for c in state["checkpoints"]:
        if c["name"].endswith("-end"):
            path = os.path.join(root, f"checkpoints-{c['role']}", c["name"], "model.safetensors")
            with open(path, "rb") as f:
                data = f.read()
            # The tensors only: the header's metadata holds the service's own version counters, which
            # also count the checkpoint loads of a restored service.
            header = int.from_bytes(data[:8], "little")
            tensors = {k: v for k, v in json.loads(data[8:8 + header]).items() if k != "__metadata__"}
            digest = hashlib.sha256(json.dumps(tensors, sort_keys=True).encode() + data[8 + header:]).hexdigest()
            digests[c["name"].replace(state["run_id"], "RUN")] = digest
    return digests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rzero", default=".build/debug/rzero")
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--config", default="scripts/crash_test_config.json")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="rzero-crash-")
    print(f"work folder: {root}")
    ok = True
    finished = False
    try:
        # 1. Reference run.
        ref_root = os.path.join(root, "reference")
        os.makedirs(ref_root)
        services = Services(args.rzero, args.model, ref_root, args.threads)
        services.start_all()
        ref_run = os.path.join(ref_root, "run")
        t0 = time.time()
        with open(os.path.join(ref_root, "coordinator.log"), "w") as log:
            r = subprocess.run(coordinate_cmd(args.rzero, args.config, ref_run, services), stdout=log, stderr=log)
        duration = time.time() - t0
        services.stop_all()
        if r.returncode != 0:
            raise SystemExit(f"reference run failed (see {ref_root}/coordinator.log)")
        print(f"reference run: {duration:.1f} s")

        # 2. The same run, killed and resumed.
        crash_root = os.path.join(root, "crashed")
        os.makedirs(crash_root)
        services = Services(args.rzero, args.model, crash_root, args.threads)
        services.start_all()
        crash_run = os.path.join(crash_root, "run")
        kills, service_killed, attempts = 0, False, 0
        log = open(os.path.join(crash_root, "coordinator.log"), "w")
        while True:
            attempts += 1
            cmd = coordinate_cmd(args.rzero, args.config if attempts == 1 else None, crash_run, services)
            proc = subprocess.Popen(cmd, stdout=log, stderr=log)
            if kills < args.kills:
                # A random moment within the expected remaining time of this attempt.
                time.sleep(rng.uniform(0.2, max(0.5, duration / (args.kills + 1) * 1.5)))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    print(f"killed the coordinator ({kills}/{args.kills})")
                    continue
            elif not service_killed:
                time.sleep(min(3.0, duration / 4))
                if proc.poll() is None:
                    services.kill("solver")
                    print("killed the Solver service; restarting it in 3 s")
                    time.sleep(3)
                    services.start("solver")
                    service_killed = True
            proc.wait()
            if proc.returncode == 0:
                break
            if attempts > args.kills + 20:
                raise SystemExit("the coordinator keeps failing; see coordinator.log")
            print(f"coordinator exited with {proc.returncode}; resuming")
        log.close()
        services.stop_all()
        print(f"crashed run finished after {kills} kills, Solver service killed: {service_killed}")
        if kills < args.kills:
            print(f"FAIL: only {kills} kills landed (the run finished too fast)")
            ok = False

        # 3. Checks.
        events = read_lines(os.path.join(crash_run, "events.jsonl"))
        units = [e["unit"] for e in events]
        plan_len = final_state(crash_run)[1]["next_unit"]
        if sorted(units) != list(range(plan_len)) or len(set(units)) != len(units):
            print(f"FAIL: units not exactly once: {len(units)} events for {plan_len} units")
            ok = False
        a, b = comparable(ref_run), comparable(crash_run)
        # The evaluation must have happened (base + every iteration, per set) for its comparison to mean anything.
        with open(args.config) as f:
            cfg = json.load(f)
        expected_evals = (cfg.get("iterations", 3) + 1) * len(cfg.get("evaluation", {}).get("datasets", []))
        if expected_evals == 0 or len(a["eval"]) != expected_evals:
            print(f"FAIL: {len(a['eval'])} evaluation records in the reference run, expected {expected_evals} (evaluation on)")
            ok = False
        for key in a:
            if a[key] != b[key]:
                print(f"FAIL: {key} differs from the uninterrupted run")
                ok = False
        (sa, ra), (sb, rb) = final_state(ref_run), final_state(crash_run)
        if sa != sb:
            print(f"FAIL: final state differs: {sa} vs {sb}")
            ok = False
        wa, wb = weights_digest(ref_root, ra), weights_digest(crash_root, rb)
        if wa != wb or not wa:
            print(f"FAIL: final weights differ: {wa} vs {wb}")
            ok = False
        print("crash test:", "PASS" if ok else "FAIL",
              f"({len(events)} units, {sum(len(v) if isinstance(v, list) else 0 for v in b.values())} records compared, "
              f"{len(wa)} checkpoints' weights identical)" if ok else "")
        finished = True
    finally:
        if args.keep or not ok or not finished:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
