#!/usr/bin/env python3
"""Consistency checks for deploy/ that no off-the-shelf tool does.

Run by deploy/validate.sh (one sub-command per PASS/FAIL line); usable alone:

    python3 deploy/lint.py contract-sources
    python3 deploy/lint.py contract-metrics
    python3 deploy/lint.py rules-coverage
    python3 deploy/lint.py dashboard
    python3 deploy/lint.py grafana-provisioning
    python3 deploy/lint.py otel
    python3 deploy/lint.py prometheus-jobs
    python3 deploy/lint.py compose
    python3 deploy/lint.py dockerignore
    python3 deploy/lint.py k8s dev RENDERED.yaml
    python3 deploy/lint.py k8s prod RENDERED.yaml
    python3 deploy/lint.py k8s jobs deploy/k8s/jobs/*.yaml
    python3 deploy/lint.py servicemonitor RENDERED.yaml
    python3 deploy/lint.py grpc-tls RENDERED.yaml

Ports, health names and metric names come from the tables of docs/contract.md
(`contract-sources` checks them against the Rust sources). Each command prints
nothing and exits 0 when fine, or prints one line per problem and exits 1.
Needs PyYAML only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent

# --------------------------------------------------------------------------
# The contract: binaries, ports and metric names users rely on. They are read
# from the tables of docs/contract.md (the lines after `<!-- contract:services
# -->` and `<!-- contract:metrics -->`), so they are typed out in one place;
# `contract-sources` checks those tables against the Rust sources.
# --------------------------------------------------------------------------
CONTRACT_DOC = ROOT / "docs" / "contract.md"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
STABILITIES = ("contract", "operational")
METRIC_TYPES = ("counter", "gauge", "histogram")
# Metric-name prefixes owned by this project; other names (up, ALERTS, ...)
# are Prometheus' own.
OWN_PREFIXES = ("shadow_", "redis_export_", "grpc_server_")


class ContractError(Exception):
    """docs/contract.md lacks a table or a row cannot be read."""


def _cells(line: str) -> list[str]:
    """Cells of a Markdown table row; `\\|` inside a cell is not a separator."""
    inner = line.strip()
    if not (inner.startswith("|") and inner.endswith("|")):
        raise ContractError(f"not a table row: {line.strip()!r}")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner[1:-1])]


def _plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def contract_table(marker: str, header: list[str], text: str | None = None) -> list[tuple[int, list[str]]]:
    """(line number, cells) of the table after `<!-- contract:{marker} -->`."""
    if text is None:
        text = CONTRACT_DOC.read_text(encoding="utf-8")
    lines = text.splitlines()
    tag = f"<!-- contract:{marker} -->"
    try:
        at = next(i for i, l in enumerate(lines) if l.strip() == tag)
    except StopIteration:
        raise ContractError(f"{tag} not found") from None
    rows = []
    i = at + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or [_plain(c) for c in _cells(lines[i])] != header:
        raise ContractError(f"line {i + 1}: the table after {tag} must have the columns {' | '.join(header)}")
    i += 2  # header and |---| separator
    while i < len(lines) and lines[i].strip().startswith("|"):
        cells = _cells(lines[i])
        if len(cells) != len(header):
            raise ContractError(f"line {i + 1}: expected {len(header)} cells, found {len(cells)}")
        rows.append((i + 1, cells))
        i += 1
    if not rows:
        raise ContractError(f"the table after {tag} has no rows")
    return rows


def load_services(text: str | None = None) -> dict[str, tuple[str, int, int, str]]:
    """binary -> (component, gRPC port, metrics port, gRPC health service name)."""
    header = ["binary", "component", "gRPC port", "metrics port", "gRPC service (health name)"]
    out = {}
    for line, cells in contract_table("services", header, text):
        binary, comp, gport, mport, hsvc = (_plain(c) for c in cells)
        if not (gport.isdigit() and mport.isdigit()):
            raise ContractError(f"line {line}: ports of {binary} must be integers, got {gport!r} and {mport!r}")
        out[binary] = (comp, int(gport), int(mport), hsvc)
    return out


def load_metrics(text: str | None = None) -> dict[str, dict]:
    """metric -> {type, labels, binary, stability, line}."""
    header = ["metric", "type", "labels", "binary", "stability", "meaning"]
    out = {}
    for line, cells in contract_table("metrics", header, text):
        name, mtype, labels, binary, stability = (_plain(c) for c in cells[:5])
        if mtype not in METRIC_TYPES:
            raise ContractError(f"line {line}: type of {name} must be one of {', '.join(METRIC_TYPES)}, got {mtype!r}")
        if stability not in STABILITIES:
            raise ContractError(f"line {line}: stability of {name} must be one of {', '.join(STABILITIES)}, got {stability!r}")
        if name in out:
            raise ContractError(f"line {line}: {name} is listed twice")
        out[name] = {
            "type": mtype,
            "labels": () if labels in ("", "—", "-") else tuple(l.strip() for l in labels.split(",")),
            "binary": binary,
            "stability": stability,
            "line": line,
        }
    return out


try:
    SERVICES = load_services()
    METRIC_TABLE = load_metrics()
except (OSError, ContractError) as e:
    print(f"{CONTRACT_DOC.relative_to(ROOT)}: {e}")
    sys.exit(1)
HISTOGRAMS = {n for n, m in METRIC_TABLE.items() if m["type"] == "histogram"}
# Every name a query may use (histograms with their series suffixes) ...
METRICS = set(METRIC_TABLE) | {h + s for h in HISTOGRAMS for s in HISTOGRAM_SUFFIXES}
# ... and those that alerts and dashboards rely on: never renamed, each used.
CONTRACT_METRICS = {n for n, m in METRIC_TABLE.items() if m["stability"] == "contract"}

RULES = DEPLOY / "prometheus" / "rules" / "shadowkpi.rules.yml"
RULE_TESTS = sorted((DEPLOY / "prometheus" / "rules" / "tests").glob("*.yml"))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "shadowkpi.json"
COMPOSE = ROOT / "docker-compose.yml"

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_all(path: Path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


# --------------------------------------------------------------------------
# PromQL metric names
# --------------------------------------------------------------------------
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_RE_MATCHER = re.compile(r'__name__\s*=~\s*"((?:[^"\\]|\\.)*)"')
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)")


def _expand(regex: str) -> list[str]:
    """Expand `a(b|c)d|e` style alternations (no nesting) into literals."""
    out = []
    for top in _split_top(regex):
        m = re.fullmatch(r"([\w:]*)\(([\w:|]+)\)([\w:]*)", top)
        if m:
            out += [m.group(1) + alt + m.group(3) for alt in m.group(2).split("|")]
        else:
            out.append(top)
    return out


def _split_top(regex: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in regex:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def metric_names(expr: str) -> set[str]:
    names = set()
    for m in _NAME_RE_MATCHER.finditer(expr):
        names.update(_expand(m.group(1)))
    bare = _STRING.sub('""', expr)
    # Drop label matchers/grouping lists: {a="b"}, by (x, y), without (x).
    bare = re.sub(r"\{[^}]*\}", "{}", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # range selectors [5m]
    for m in _IDENT.finditer(bare):
        tok = m.group(1)
        if tok.startswith(OWN_PREFIXES):
            names.add(tok)
    return {n for n in names if n.startswith(OWN_PREFIXES)}


def check_exprs(where: str, exprs: list[str]) -> set[str]:
    used = set()
    for expr in exprs:
        for name in metric_names(expr):
            used.add(name)
            if name not in METRICS:
                problem(f"{where}: metric {name!r} is not in docs/contract.md (expr: {expr.strip()[:80]})")
    return used


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = []
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            if t.get("expr"):
                exprs.append(t["expr"])
    return exprs


def rule_list():
    doc = load_yaml(RULES)
    return [r for g in doc["groups"] for r in g["rules"]]


def _family(name: str) -> str:
    """redis_export_duration_ms_bucket -> redis_export_duration_ms."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return name[: -len(suffix)]
    return name


def cmd_contract_metrics(_args):
    used = check_exprs("rules", [r["expr"] for r in rule_list()])
    used |= check_exprs("dashboard", dashboard_exprs())
    # Every contract metric should be visible somewhere (dashboard or alert),
    # otherwise nobody notices when it breaks.
    for name in sorted(CONTRACT_METRICS - {_family(n) for n in used}):
        problem(f"contract metric {name!r} is used by neither an alert nor the dashboard")


# --------------------------------------------------------------------------
# docs/contract.md against the Rust sources
# --------------------------------------------------------------------------
_REGISTER_START = re.compile(r'register_(counter|gauge|histogram)_vec\(\s*"')
_REGISTER = re.compile(
    r'register_(counter|gauge|histogram)_vec\(\s*'
    r'"([A-Za-z0-9_:]+)"\s*,\s*'  # name
    r'"(?:[^"\\]|\\.)*"\s*,\s*'  # help
    r'&\[([^\]]*)\]'  # labels
)


def registered_metrics(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, name, labels) of every metric registered in a Rust file."""
    text = path.read_text(encoding="utf-8")
    found = [(m.group(1), m.group(2), tuple(re.findall(r'"([^"]+)"', m.group(3))))
             for m in _REGISTER.finditer(text)]
    if len(found) != len(_REGISTER_START.findall(text)):
        problem(f"{path.relative_to(ROOT)}: a metric registration is not of the form "
                f"register_<type>_vec(\"name\", \"help\", &[labels], ...); lint.py cannot read it")
    return found


def _rust_const(path: Path, name: str) -> int | None:
    m = re.search(rf"pub const {name}: u16 = (\d+);", path.read_text(encoding="utf-8"))
    return int(m.group(1)) if m else None


def cmd_contract_sources(_args):
    """The tables of docs/contract.md say what the code does."""
    doc = CONTRACT_DOC.relative_to(ROOT)
    components = {comp: binary for binary, (comp, _g, _m, _h) in SERVICES.items()}
    on_disk = {p.parent.name for p in (ROOT / "services").glob("*/Cargo.toml")}
    for comp in sorted(on_disk - set(components)):
        problem(f"{doc}: services/{comp} is not in the services table")
    for binary, (comp, gport, mport, hsvc) in SERVICES.items():
        crate = ROOT / "services" / comp
        if comp not in on_disk:
            problem(f"{doc}: {binary}: there is no services/{comp}")
            continue
        bins = re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', (crate / "Cargo.toml").read_text(encoding="utf-8"))
        if binary not in bins:
            problem(f"{doc}: services/{comp}/Cargo.toml builds {bins or 'no binary'}, not {binary}")
        lib = crate / "src" / "lib.rs"
        for const, want in (("GRPC_PORT", gport), ("METRICS_PORT", mport)):
            got = _rust_const(lib, const)
            if got != want:
                problem(f"{doc}: {binary} {const} is {want}, services/{comp}/src/lib.rs says {got}")
        proto = ROOT / "proto" / "shadowkpi" / "v1" / f"{comp}.proto"
        if not proto.exists():
            problem(f"{doc}: {binary}: proto/shadowkpi/v1/{comp}.proto is missing")
            continue
        ptext = proto.read_text(encoding="utf-8")
        pkg = re.search(r"^package\s+([\w.]+);", ptext, re.M)
        svcs = re.findall(r"^service\s+(\w+)", ptext, re.M)
        names = [f"{pkg.group(1)}.{s}" for s in svcs] if pkg else []
        if hsvc not in names:
            problem(f"{doc}: {binary} health name {hsvc}, but {proto.relative_to(ROOT)} defines {names or 'no service'}")

    sources = (sorted((ROOT / "services").glob("*/src/**/*.rs"))
               + sorted((ROOT / "crates" / "runtime" / "src").glob("**/*.rs"))
               + sorted((ROOT / "crates" / "store" / "src").glob("**/*.rs")))
    seen = {}
    for path in sources:
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "services":
            owner = components.get(rel.parts[1], f"services/{rel.parts[1]}")
        elif rel.parts[1] == "store":
            owner = "ingestd, exportd, dryrund"  # the services with a Redis store
        else:
            owner = "every service"
        for mtype, name, labels in registered_metrics(path):
            if name in seen:
                problem(f"{rel}: {name} is also registered in {seen[name]}")
                continue
            seen[name] = rel
            row = METRIC_TABLE.get(name)
            if row is None:
                problem(f"{rel}: registers {name}, which is not in the metrics table of {doc}")
                continue
            where = f"{doc} line {row['line']}"
            if row["type"] != mtype:
                problem(f"{where}: {name} is a {row['type']}, {rel} registers a {mtype}")
            if row["labels"] != labels:
                problem(f"{where}: {name} has labels {list(row['labels'])}, {rel} registers {list(labels)}")
            if row["binary"] != owner:
                problem(f"{where}: {name} belongs to {row['binary']}, but {rel} registers it ({owner})")
    for name in sorted(set(METRIC_TABLE) - set(seen)):
        problem(f"{doc} line {METRIC_TABLE[name]['line']}: {name} is registered nowhere in services/*/src, crates/runtime/src or crates/store/src")


# --------------------------------------------------------------------------
# Alert rules: every alert has a firing and a non-firing unit test
# --------------------------------------------------------------------------
def cmd_rules_coverage(_args):
    alerts = [r["alert"] for r in rule_list() if "alert" in r]
    if len(alerts) != len(set(alerts)):
        problem("duplicate alert names in the rules file")
    required = {"ShadowEdgeLow", "ShadowMakerLow", "ShadowLatencyHigh", "ShadowRiskHigh",
                "ShadowClockDriftHigh", "ShadowMetricsMissing"}
    for name in sorted(required - set(alerts)):
        problem(f"required alert {name} is missing")
    firing, quiet = set(), set()
    for path in RULE_TESTS:
        doc = load_yaml(path)
        files = doc.get("rule_files", [])
        if not any((path.parent / f).resolve() == RULES.resolve() for f in files):
            problem(f"{path.name}: does not load {RULES.name}")
        for test in doc.get("tests", []):
            for art in test.get("alert_rule_test", []) or []:
                (firing if art.get("exp_alerts") else quiet).add(art["alertname"])
    for r in rule_list():
        if "alert" not in r:
            continue
        name = r["alert"]
        labels = r.get("labels", {})
        ann = r.get("annotations", {})
        if name not in firing:
            problem(f"{name}: no unit test where it fires")
        if name not in quiet:
            problem(f"{name}: no unit test where it stays quiet")
        if labels.get("severity") not in ("critical", "warning", "info"):
            problem(f"{name}: severity label missing or unknown")
        if not ann.get("summary") or not ann.get("description"):
            problem(f"{name}: summary and description annotations are required")
        if "symbol" in r["expr"] and "by (symbol" in r["expr"] and "$labels.symbol" not in ann.get("summary", "") + ann.get("description", ""):
            problem(f"{name}: groups by symbol but its annotations do not name {{{{ $labels.symbol }}}}")


# --------------------------------------------------------------------------
# Grafana
# --------------------------------------------------------------------------
def cmd_dashboard(_args):
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for key in ("uid", "title", "panels", "templating", "schemaVersion"):
        if key not in dash:
            problem(f"dashboard: missing {key!r}")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problem("dashboard: needs a `datasource` variable so it imports into any Grafana")
    if "symbol" not in variables:
        problem("dashboard: needs a `symbol` variable")
    ids, cells = set(), {}
    titles = []
    for p in dash.get("panels", []):
        pid = p.get("id")
        if pid in ids:
            problem(f"dashboard: duplicate panel id {pid}")
        ids.add(pid)
        g = p.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24:
            problem(f"dashboard: panel {p.get('title')!r} is wider than the grid")
        for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
            for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                if (x, y) in cells:
                    problem(f"dashboard: panels {cells[(x, y)]!r} and {p.get('title')!r} overlap")
                    break
                cells[(x, y)] = p.get("title")
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        titles.append(p.get("title", ""))
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problem(f"dashboard: panel {p.get('title')!r} does not use the $datasource variable")
        if not p.get("targets"):
            problem(f"dashboard: panel {p.get('title')!r} has no query")
    # The issue asks for these views; keep them.
    wanted = {
        "KPIs against thresholds": ["shadow_edge_bps", "shadow_maker_taker_ratio", "shadow_p95_latency_ms", "shadow_risk_ratio"],
        "ingest rate": ["shadow_ingest_ticks_total"], "lag": ["shadow_ingest_lag_msgs"],
        "gaps": ["shadow_seq_gaps_total"], "drops": ["shadow_backpressure_drops_total"],
        "rejects": ["shadow_ingest_rejected_total"], "export rate/failures": ["redis_export_success_total", "redis_export_fail_total"],
        "export batch latency": ["redis_export_batch_duration_ms_bucket"],
        "gRPC rate": ["grpc_server_handled_total"], "gRPC latency": ["grpc_server_handling_seconds_bucket"],
    }
    text = json.dumps(dash)
    for view, names in wanted.items():
        for n in names:
            if n not in text:
                problem(f"dashboard: no panel shows {n} ({view})")
    for p in dash["panels"]:
        if p.get("type") == "timeseries" and any(k in json.dumps(p.get("targets")) for k in ("shadow_edge_bps", "shadow_maker_taker_ratio", "shadow_p95_latency_ms", "shadow_risk_ratio")):
            style = p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
            if style == "off" or len(p["fieldConfig"]["defaults"]["thresholds"]["steps"]) < 2:
                problem(f"dashboard: KPI panel {p['title']!r} does not draw its gate threshold")


def cmd_grafana_provisioning(_args):
    compose = load_yaml(COMPOSE)
    mounts = compose["services"]["grafana"]["volumes"]
    targets = {}
    for m in mounts:
        if isinstance(m, str) and m.startswith("./"):
            src, dst = m.split(":")[:2]
            targets[dst] = ROOT / src[2:]
            if not (ROOT / src[2:]).exists():
                problem(f"compose grafana: mounted path {src} does not exist")
    prov = DEPLOY / "grafana" / "provisioning"
    ds_files = sorted((prov / "datasources").glob("*.yml"))
    db_files = sorted((prov / "dashboards").glob("*.yml"))
    if not ds_files or not db_files:
        problem("grafana: provisioning needs datasources/*.yml and dashboards/*.yml")
    for f in ds_files:
        doc = load_yaml(f)
        for ds in doc.get("datasources", []):
            if ds.get("type") == "prometheus" and "prometheus:9090" not in ds.get("url", ""):
                problem(f"{f.name}: Prometheus data source should point at the compose service prometheus:9090")
    for f in db_files:
        doc = load_yaml(f)
        for prov_ in doc.get("providers", []):
            path = prov_.get("options", {}).get("path")
            if path not in targets:
                problem(f"{f.name}: dashboard path {path} is not a compose mount target ({sorted(targets)})")
            elif not list(targets[path].glob("*.json")):
                problem(f"{f.name}: no dashboard JSON in {targets[path]}")


# --------------------------------------------------------------------------
# OpenTelemetry collector
# --------------------------------------------------------------------------
def cmd_otel(_args):
    cfg = load_yaml(DEPLOY / "otel" / "collector.yaml")
    svc = cfg.get("service", {})
    for ext in svc.get("extensions", []):
        if ext not in (cfg.get("extensions") or {}):
            problem(f"otel: extension {ext} used but not defined")
    pipelines = svc.get("pipelines", {})
    if "traces" not in pipelines:
        problem("otel: no traces pipeline")
    for pname, p in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for comp in p.get(kind, []):
                if comp not in (cfg.get(kind) or {}):
                    problem(f"otel: pipeline {pname} uses {kind[:-1]} {comp} which is not defined")
        if "memory_limiter" in p.get("processors", []) and p["processors"][0] != "memory_limiter":
            problem(f"otel: memory_limiter must be the first processor of {pname}")
    grpc = cfg.get("receivers", {}).get("otlp", {}).get("protocols", {}).get("grpc", {})
    if not str(grpc.get("endpoint", "")).endswith(":4317"):
        problem("otel: OTLP gRPC receiver must listen on :4317 (services send there)")
    compose = load_yaml(COMPOSE)
    env = compose["services"]["ingestd"]["environment"]
    if "otel-collector:4317" not in str(env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        problem("compose: services should send OTLP to otel-collector:4317")
    col = compose["services"]["otel-collector"]
    cfg_arg = [a for a in col.get("command", []) if a.startswith("--config=")]
    mounted = [v.split(":")[1] for v in col.get("volumes", []) if "collector.yaml" in v]
    if not cfg_arg or cfg_arg[0].split("=", 1)[1] not in mounted:
        problem("compose: otel-collector --config does not point at the mounted deploy/otel/collector.yaml")


def cmd_prometheus_jobs(_args):
    cfg = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {j["job_name"]: j for j in cfg.get("scrape_configs", [])}
    for name, (_c, _g, mport, _h) in SERVICES.items():
        job = jobs.get(name)
        if not job:
            problem(f"prometheus.yml: no job {name} (rules and dashboard use job=\"{name}\")")
            continue
        targets = [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        if f"{name}:{mport}" not in targets:
            problem(f"prometheus.yml: job {name} should scrape {name}:{mport}")
    if "rules/*.rules.yml" not in cfg.get("rule_files", []):
        problem("prometheus.yml: must load rules/*.rules.yml")


# --------------------------------------------------------------------------
# docker-compose.yml (the parts `docker-compose config` cannot judge)
# --------------------------------------------------------------------------
def cmd_compose(_args):
    doc = load_yaml(COMPOSE)
    services = doc.get("services", {})
    for name, svc in services.items():
        for port in svc.get("ports", []):
            if not str(port).startswith("${SHADOWKPI_BIND:-127.0.0.1}:"):
                problem(f"compose {name}: port {port} must bind to ${{SHADOWKPI_BIND:-127.0.0.1}}")
    redis = services.get("redis", {})
    if not redis.get("image", "").startswith("redis:7-alpine"):
        problem("compose redis: image should be redis:7-alpine")
    if "redis-cli" not in json.dumps(redis.get("healthcheck", {})):
        problem("compose redis: needs a redis-cli ping health check")
    if not any(str(v).startswith("redis-data:") for v in redis.get("volumes", [])):
        problem("compose redis: needs the named volume redis-data")
    for name, (comp, gport, mport, _h) in SERVICES.items():
        svc = services.get(name)
        if not svc:
            problem(f"compose: service {name} missing")
            continue
        if svc.get("build", {}).get("dockerfile") != "deploy/Dockerfile":
            problem(f"compose {name}: must build from deploy/Dockerfile")
        if svc.get("command") != [name]:
            problem(f"compose {name}: command should be [{name}]")
        hc = svc.get("healthcheck", {}).get("test", [])
        if hc[:3] != ["CMD", "shadowctl", "health"] or comp not in hc:
            problem(f"compose {name}: health check should be shadowctl health --service {comp}")
        deps = svc.get("depends_on", {})
        if deps.get("redis", {}).get("condition") != "service_healthy":
            problem(f"compose {name}: must wait for a healthy redis")
        if not svc.get("read_only") or str(svc.get("user")) != "65532:65532":
            problem(f"compose {name}: must run read-only as 65532:65532")
        env = svc.get("environment", {})
        for key in ("REDIS_URL", "SHADOWKPI_INGEST_ADDR", "SHADOWKPI_SHADOW_ADDR", "SHADOWKPI_EXPORT_ADDR",
                    "SHADOWKPI_DRYRUN_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT", "SHADOWKPI_DRAIN_TIMEOUT"):
            if key not in env:
                problem(f"compose {name}: environment lacks {key}")
        if env.get("OTEL_SERVICE_NAME") != name:
            problem(f"compose {name}: OTEL_SERVICE_NAME should be {name}")
        ports = {str(p).rsplit(":", 1)[-1] for p in svc.get("ports", [])}
        if {str(gport), str(mport)} - ports:
            problem(f"compose {name}: should publish {gport} and {mport}")
    feed = services.get("feed", {})
    if feed.get("command", [])[:3] != ["shadowctl", "feed", "synthetic"]:
        problem("compose feed: should run shadowctl feed synthetic")
    ctl = services.get("shadowctl", {})
    if ctl.get("profiles") != ["tools"] or ctl.get("entrypoint") != ["shadowctl"]:
        problem("compose shadowctl: profile tools with entrypoint shadowctl (so `run shadowctl pipeline` works)")
    if not any(str(v).endswith(":/work/artifacts") for v in ctl.get("volumes", [])):
        problem("compose shadowctl: needs a volume on /work/artifacts")
    strat = services.get("strategy-python", {})
    if strat.get("profiles") != ["strategy"]:
        problem("compose strategy-python: must be in the strategy profile")
    if strat.get("build", {}).get("dockerfile") != "examples/strategies/python/Dockerfile":
        problem("compose strategy-python: must build from examples/strategies/python/Dockerfile")
    if not strat.get("read_only") or str(strat.get("user")) != "65532:65532":
        problem("compose strategy-python: must run read-only as 65532:65532")
    if "50060" not in json.dumps(strat.get("healthcheck", {})):
        problem("compose strategy-python: needs a health check on its port 50060")
    for name in ("otel-collector", "jaeger", "prometheus", "grafana"):
        if services.get(name, {}).get("profiles") != ["observability"]:
            problem(f"compose {name}: must be in the observability profile")
        for v in services.get(name, {}).get("volumes", []):
            if isinstance(v, str) and v.startswith("./") and not (ROOT / v.split(":")[0][2:]).exists():
                problem(f"compose {name}: mounted {v.split(':')[0]} does not exist")


def cmd_dockerignore(_args):
    lines = {l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()}
    for need in ("target/", "artifacts/", ".git/"):
        if need not in lines:
            problem(f".dockerignore: missing {need}")
    # Whatever the image build compiles must stay in the context.
    for keep in ("Cargo.toml", "Cargo.lock", "proto/", "crates/", "services/", "clients/", "tests/"):
        if keep in lines or keep.rstrip("/") in lines:
            problem(f".dockerignore: {keep} is needed by the build")


# --------------------------------------------------------------------------
# Kubernetes (rendered manifests)
# --------------------------------------------------------------------------
def _pod_spec(obj):
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"], obj["spec"]["template"]["metadata"]
    return None, None


def _check_pod(where, spec, meta, suite: bool):
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problem(f"{where}: pod securityContext.runAsNonRoot must be true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(f"{where}: pod seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where}: automountServiceAccountToken should be false (no API access needed)")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        cw = f"{where}/{c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problem(f"{cw}: allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(f"{cw}: readOnlyRootFilesystem must be true")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problem(f"{cw}: must drop ALL capabilities")
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(k, {}):
                    problem(f"{cw}: resources.{k}.{r} missing")
        if suite:
            if c.get("image", "").split(":")[0] != "ghcr.io/shadowkpi/shadowkpi":
                problem(f"{cw}: image {c.get('image')} was not resolved by the kustomize images transformer")
            env = {e["name"]: e for e in c.get("env", [])}
            ref = env.get("REDIS_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
            if ref.get("name") != "shadowkpi-redis" or ref.get("key") != "REDIS_URL":
                problem(f"{cw}: REDIS_URL must come from Secret shadowkpi-redis")
    if suite and meta.get("labels", {}).get("shadowkpi.io/redis-client") != "true":
        problem(f"{where}: pod label shadowkpi.io/redis-client=true is needed to reach Redis")


def _selects(selector: dict, labels: dict) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        val = labels.get(e["key"])
        op = e["operator"]
        if op == "In" and val not in e["values"]:
            return False
        if op == "NotIn" and val in e["values"]:
            return False
        if op == "Exists" and val is None:
            return False
        if op == "DoesNotExist" and val is not None:
            return False
    return True


def cmd_k8s(args):
    overlay, files = args[0], args[1:]
    docs = [d for f in files for d in load_yaml_all(Path(f))]
    by_kind: dict[str, list] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
        ns = d["metadata"].get("namespace")
        if d["kind"] != "Namespace" and ns != "shadowkpi":
            problem(f"{d['kind']}/{d['metadata']['name']}: namespace is {ns!r}, expected shadowkpi")
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "shadowkpi":
            problem(f"{d['kind']}/{d['metadata']['name']}: missing common label app.kubernetes.io/part-of=shadowkpi")

    for d in docs:
        spec, meta = _pod_spec(d)
        if spec is not None:
            name = d["metadata"]["name"]
            _check_pod(f"{d['kind']}/{name}", spec, meta, suite=name in SERVICES or d["kind"] == "Job")

    if overlay == "jobs":
        for j in by_kind.get("Job", []):
            c = j["spec"]["template"]["spec"]["containers"][0]
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if "pipeline" in c.get("args", []) and "/work/artifacts" not in mounts:
                problem(f"Job/{j['metadata']['name']}: shadowctl pipeline needs a writable /work/artifacts")
        return

    workloads = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])}
    services = {d["metadata"]["name"]: d for d in by_kind.get("Service", [])}
    pdbs = by_kind.get("PodDisruptionBudget", [])
    cms = [d for d in by_kind.get("ConfigMap", []) if d["metadata"]["name"].startswith("shadowkpi-config")]
    if len(cms) != 1:
        problem("expected exactly one shadowkpi-config ConfigMap")
    else:
        data = cms[0].get("data", {})
        for k in ("SHADOWKPI_LOG_FORMAT", "SHADOWKPI_STREAM", "SHADOWKPI_INGEST_ADDR", "SHADOWKPI_SHADOW_ADDR",
                  "SHADOWKPI_EXPORT_ADDR", "SHADOWKPI_DRYRUN_ADDR"):
            if k not in data:
                problem(f"ConfigMap shadowkpi-config: missing {k}")
        if data.get("SHADOWKPI_LOG_FORMAT") != "json":
            problem("ConfigMap shadowkpi-config: SHADOWKPI_LOG_FORMAT should be json in clusters")

    for name, (comp, gport, mport, hsvc) in SERVICES.items():
        w = workloads.get(name)
        if not w:
            problem(f"{name}: workload missing")
            continue
        want_kind = "StatefulSet" if name == "ingestd" else "Deployment"
        if w["kind"] != want_kind:
            problem(f"{name}: should be a {want_kind}")
        tmpl = w["spec"]["template"]
        c = tmpl["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        if ports.get("grpc") != gport or ports.get("metrics") != mport:
            problem(f"{name}: container ports should be grpc={gport}, metrics={mport}")
        rp, lp = c.get("readinessProbe", {}), c.get("livenessProbe", {})
        if rp.get("grpc", {}).get("port") != gport or rp["grpc"].get("service") != hsvc:
            problem(f"{name}: readinessProbe should be grpc on {gport} for {hsvc}")
        if lp.get("grpc", {}).get("port") != gport:
            problem(f"{name}: livenessProbe should be grpc on {gport}")
        cenv = {e["name"]: e for e in c.get("env", [])}
        if cenv.get("OTEL_SERVICE_NAME", {}).get("value") != name:
            problem(f"{name}: OTEL_SERVICE_NAME should be {name}")
        if not any(ef.get("configMapRef", {}).get("name", "").startswith("shadowkpi-config") for ef in c.get("envFrom", [])):
            problem(f"{name}: envFrom shadowkpi-config missing")
        if name == "ingestd":
            fr = cenv.get("SHADOWKPI_CONSUMER", {}).get("valueFrom", {}).get("fieldRef", {})
            if fr.get("fieldPath") != "metadata.name":
                problem("ingestd: SHADOWKPI_CONSUMER must come from the pod name (stable consumer names)")
            if w["spec"].get("serviceName") not in services:
                problem("ingestd: StatefulSet serviceName must name an existing (headless) Service")
        grace = tmpl["spec"].get("terminationGracePeriodSeconds", 30)
        if grace <= 10:
            problem(f"{name}: terminationGracePeriodSeconds must exceed the 10s drain timeout")
        labels = tmpl["metadata"].get("labels", {})
        svc = services.get(name)
        if not svc or not _selects({"matchLabels": svc["spec"].get("selector", {})}, labels):
            problem(f"{name}: no Service selects its pods")
        elif svc["spec"].get("clusterIP") != "None":
            problem(f"{name}: Service should be headless (clusterIP: None) for client-side balancing")
        elif {p["name"]: p["port"] for p in svc["spec"]["ports"]} != {"grpc": gport, "metrics": mport}:
            problem(f"{name}: Service ports should be grpc={gport}, metrics={mport}")
        if not any(_selects(p["spec"]["selector"], labels) for p in pdbs):
            problem(f"{name}: no PodDisruptionBudget covers it")
        replicas = w["spec"].get("replicas", 1)
        if overlay == "prod":
            # ingestd replicas split the consumer group's stream; subscribers
            # read one address, so prod runs exactly one (deploy/README.md).
            if name == "ingestd" and replicas != 1:
                problem(f"{name}: prod must run exactly 1 replica (a consumer group splits the stream)")
            elif name != "ingestd" and replicas < 2:
                problem(f"{name}: prod should run at least 2 replicas")
            if not tmpl["spec"].get("topologySpreadConstraints"):
                problem(f"{name}: prod needs topologySpreadConstraints")
        if overlay == "dev" and replicas != 1:
            problem(f"{name}: dev runs 1 replica")

    # NetworkPolicies
    nps = by_kind.get("NetworkPolicy", [])
    if not any(n["spec"].get("podSelector") == {} and not n["spec"].get("ingress") and "Ingress" in n["spec"].get("policyTypes", []) for n in nps):
        problem("NetworkPolicy: a default-deny-ingress policy is expected")
    ingest_labels = workloads.get("ingestd", {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    from_monitoring = False
    for n in nps:
        if not _selects(n["spec"]["podSelector"], ingest_labels):
            continue
        for rule in n["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "monitoring":
                    if any(p.get("port") == "metrics" for p in rule.get("ports", [])):
                        from_monitoring = True
    if not from_monitoring:
        problem("NetworkPolicy: metrics must be open to the monitoring namespace")

    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    sec = secrets.get("shadowkpi-redis")
    if not sec:
        problem("Secret shadowkpi-redis missing")
    else:
        import base64
        url = base64.b64decode(sec.get("data", {}).get("REDIS_URL", "")).decode() if "data" in sec else sec.get("stringData", {}).get("REDIS_URL", "")
        want = "rediss://" if overlay == "prod" else "redis://"
        if not url.startswith(want):
            problem(f"Secret shadowkpi-redis: {overlay} REDIS_URL should start with {want}")
    redis_dep = workloads.get("redis")
    if overlay == "dev":
        if not redis_dep or "redis" not in services:
            problem("dev: needs a Redis Deployment and Service")
        else:
            rl = redis_dep["spec"]["template"]["metadata"]["labels"]
            guarded = False
            for n in nps:
                if _selects(n["spec"]["podSelector"], rl):
                    for rule in n["spec"].get("ingress", []):
                        peers = rule.get("from", [])
                        if peers and all(p.get("podSelector", {}).get("matchLabels", {}).get("shadowkpi.io/redis-client") == "true" for p in peers):
                            guarded = True
            if not guarded:
                problem("dev: Redis must only admit pods labelled shadowkpi.io/redis-client=true")
    if overlay == "prod" and redis_dep:
        problem("prod: must not deploy the dev Redis")


def cmd_servicemonitor(args):
    docs = [d for f in args for d in load_yaml_all(Path(f))]
    sms = [d for d in docs if d["kind"] == "ServiceMonitor"]
    if len(sms) != 1:
        problem(f"expected one ServiceMonitor, found {len(sms)}")
        return
    sm = sms[0]
    if sm["metadata"].get("namespace") != "shadowkpi":
        problem("ServiceMonitor: not in namespace shadowkpi")
    services = [d for d in docs if d["kind"] == "Service"]
    selected = {s["metadata"]["name"] for s in services if _selects(sm["spec"]["selector"], s["metadata"].get("labels", {}))}
    if selected != set(SERVICES):
        problem(f"ServiceMonitor: selects {sorted(selected)}, expected {sorted(SERVICES)}")
    ports = {e.get("port") for e in sm["spec"].get("endpoints", [])}
    if ports != {"metrics"}:
        problem("ServiceMonitor: should scrape the named port `metrics`")


def cmd_grpc_tls(args):
    """prod + components/grpc-tls: every workload serves and dials TLS from the
    cert-manager Secret, and probes over HTTP on the metrics port."""
    docs = [d for f in args for d in load_yaml_all(Path(f))]
    certs = [d for d in docs if d["kind"] == "Certificate"]
    if len(certs) != 1:
        problem(f"expected one Certificate, found {len(certs)}")
        return
    cert = certs[0]["spec"]
    secret = cert.get("secretName")
    for name in SERVICES:
        if name not in cert.get("dnsNames", []):
            problem(f"Certificate: no dnsName {name} (its peers dial https://{name}:PORT)")
    if set(cert.get("usages", [])) != {"server auth", "client auth"}:
        problem("Certificate: usages should be server auth and client auth (mutual TLS)")
    config = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("shadowkpi-config")]
    data = config[0].get("data", {}) if config else {}
    for key in ("SHADOWKPI_TLS_CERT", "SHADOWKPI_TLS_KEY", "SHADOWKPI_TLS_CLIENT_CA", "SHADOWKPI_TLS_CA",
                "SHADOWKPI_TLS_CLIENT_CERT", "SHADOWKPI_TLS_CLIENT_KEY"):
        if not str(data.get(key, "")).startswith("/etc/shadowkpi/tls/"):
            problem(f"shadowkpi-config: {key} should name a file of /etc/shadowkpi/tls/")
    for key, value in data.items():
        if key.endswith("_ADDR") and key != "SHADOWKPI_METRICS_ADDR" and not str(value).startswith("https://"):
            problem(f"shadowkpi-config: {key}={value} should be https://")
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    if {w["metadata"]["name"] for w in workloads} != set(SERVICES):
        problem(f"workloads {sorted(w['metadata']['name'] for w in workloads)}, expected {sorted(SERVICES)}")
    for w in workloads:
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        if vols.get("grpc-tls", {}).get("secret", {}).get("secretName") != secret:
            problem(f"{name}: no volume grpc-tls from the Secret {secret}")
        c = spec["containers"][0]
        mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
        m = mounts.get("grpc-tls", {})
        if m.get("mountPath") != "/etc/shadowkpi/tls" or not m.get("readOnly"):
            problem(f"{name}: grpc-tls should be mounted read-only at /etc/shadowkpi/tls")
        for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            p = c.get(probe, {})
            if "grpc" in p or p.get("httpGet", {}) != {"path": path, "port": "metrics"}:
                problem(f"{name}: {probe} should be HTTP GET {path} on the metrics port (gRPC probes cannot speak TLS)")


COMMANDS = {
    "contract-sources": cmd_contract_sources,
    "contract-metrics": cmd_contract_metrics,
    "rules-coverage": cmd_rules_coverage,
    "dashboard": cmd_dashboard,
    "grafana-provisioning": cmd_grafana_provisioning,
    "otel": cmd_otel,
    "prometheus-jobs": cmd_prometheus_jobs,
    "compose": cmd_compose,
    "dockerignore": cmd_dockerignore,
    "k8s": cmd_k8s,
    "servicemonitor": cmd_servicemonitor,
    "grpc-tls": cmd_grpc_tls,
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    COMMANDS[argv[1]](argv[2:])
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
