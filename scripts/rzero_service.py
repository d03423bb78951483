"""A local `rzero serve` for the measuring scripts (standard library only)."""
import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request


def status_kb(pid, field):
    """A /proc/PID/status field in kB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def serve(rzero, model, port, role="solver", extra=(), checkpoints=None, log=None, timeout=600):
    """Starts `rzero serve` on 127.0.0.1:port, waits for /healthz and yields (process, seconds to healthy);
    stops it with SIGTERM afterwards. Raises RuntimeError when it does not come up."""
    ckpt = checkpoints or tempfile.mkdtemp(prefix="rzero-measure-")
    out = log or subprocess.DEVNULL
    t0 = time.time()
    proc = subprocess.Popen([rzero, "serve", "--role", role, "--model", model, "--checkpoints", ckpt, "--port", str(port)]
                            + list(extra), stdout=out, stderr=out)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except Exception:
                if proc.poll() is not None or time.time() - t0 > timeout:
                    raise RuntimeError(f"rzero serve on port {port} did not start")
                time.sleep(0.2)
        yield proc, time.time() - t0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        if checkpoints is None:
            shutil.rmtree(ckpt, ignore_errors=True)


def post(url, body, timeout=7200):
    """POSTs `body` as JSON and returns the decoded JSON response."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())
