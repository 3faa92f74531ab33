"""Speed of `chartgen validate` and of its parts, each beside a baseline run on the same machine.

Prints figures and ratios; asserts nothing (targets live here, not in timed tests):
  - `chartgen --help` vs `python -c pass` (interpreter start); target < 150 ms
  - validate, unchanged tree (cache) vs the same run without the cache; target < 0.3 s
  - validate, full warm (--no-cache) vs the hand-made chain helm lint + helm template | kubeconform
                                                                                        target < 1 s
  - validate over N generated environments (10, 25, 50): seconds per environment      50 envs < 10 s
  - schema validation rate: embedded validator vs kubeconform, resources/s on the same objects

Run: python benchmarks/validate_bench.py   (Helm v3 CLI and kubeconform from `go install`)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHARTGEN = str(Path(sys.executable).parent / "chartgen")
GOBIN = Path(os.environ.get("GOBIN") or Path.home() / "go" / "bin")


def tool(name: str) -> str | None:
    return shutil.which(name) or (str(GOBIN / name) if (GOBIN / name).is_file() else None)


def timed(command: list[str], cwd: Path, repeat: int = 5, **kw: object) -> float:
    """Median wall time of `command` over `repeat` runs (after one warm-up)."""
    subprocess.run(command, cwd=cwd, capture_output=True, check=False, **kw)  # type: ignore[call-overload]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False, **kw)  # type: ignore[call-overload]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, value: float, baseline_name: str, baseline: float, target: str = "") -> None:
    print(
        f"{name:<46} {value * 1000:8.0f} ms   {baseline_name:<34} {baseline * 1000:8.0f} ms"
        f"   ratio {value / baseline:5.2f}   {target}"
    )


def project_with_environments(root: Path, count: int) -> Path:
    """A copy of the spec with `count` environments (varied overlays), built."""
    shutil.copytree(REPO / "values", root / "values")
    envs = root / "values" / "environments"
    for path in envs.glob("*.yaml"):
        path.unlink()
    names = [f"env{i:02d}" for i in range(count)]
    spec = root / "values" / "topology.yaml"
    text = spec.read_text().replace(
        "environments: [development, staging, production]", f"environments: [{', '.join(names)}]"
    )
    spec.write_text(text)
    for i, name in enumerate(names):
        (envs / f"{name}.yaml").write_text(
            f"redis:\n  persistence:\n    size: {i + 1}Gi\nsentinel:\n"
            f"  downAfterMilliseconds: {1000 + i}\n"
        )
    subprocess.run([CHARTGEN, "build"], cwd=root, check=True, capture_output=True)
    return root


def manual_chain(chart: Path, envs: list[str], helm: str, kubeconform: str) -> list[list[str]]:
    """What users chain by hand today, per environment."""
    from chartgen.engines.kubeconform import prepare_schemas, schema_location

    location = schema_location(prepare_schemas("1.25.0"))
    commands = []
    for env in envs:
        values = ["-f", str(chart / f"values-{env}.yaml")]
        commands.append([helm, "lint", "--strict", str(chart), *values])
        commands.append(
            [
                "sh",
                "-c",
                f"{helm} template s {chart} {' '.join(values)} "
                f"--kube-version 1.25.0 | {kubeconform} -strict -kubernetes-version "
                f"1.25.0 -schema-location '{location}' -",
            ]
        )
    return commands


def time_commands(commands: list[list[str]], cwd: Path, repeat: int = 3) -> float:
    def once() -> float:
        start = time.perf_counter()
        for command in commands:
            subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        return time.perf_counter() - start

    once()
    return statistics.median(once() for _ in range(repeat))


def main() -> None:
    helm, kubeconform = tool("helm"), tool("kubeconform")
    print(
        f"machine: {os.cpu_count()} cores; helm v3: {helm or 'absent'}; "
        f"kubeconform: {kubeconform or 'absent'}\n"
    )
    env = {
        **os.environ,
        "PATH": os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if "go/bin" not in p
        ),
    }
    row(
        "chartgen --help",
        timed([CHARTGEN, "--help"], REPO, 10),
        "python -c pass",
        timed([sys.executable, "-c", "pass"], REPO, 10),
        "target < 150 ms",
    )

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "p"
        shutil.copytree(REPO / "values", work / "values")
        shutil.copytree(REPO / "generated", work / "generated")
        embedded = [CHARTGEN, "validate", "--embedded-schemas"]
        start = time.perf_counter()
        subprocess.run(
            [*embedded, "--no-cache"], cwd=work, capture_output=True, env=env, check=False
        )
        cold = time.perf_counter() - start
        warm = timed([*embedded, "--no-cache"], work, env=env)
        cached = timed(embedded, work, env=env)
        row(
            "validate, unchanged tree (verdict cache)",
            cached,
            "validate --no-cache (warm)",
            warm,
            "target < 300 ms",
        )
        row("validate --no-cache, cold first run", cold, "validate --no-cache (warm)", warm)
        envs = ["development", "staging", "production"]
        if helm and kubeconform:
            chain = time_commands(
                manual_chain(work / "generated/helm/session-database", envs, helm, kubeconform),
                work,
            )
            row(
                "validate --no-cache (warm), all checks",
                warm,
                "helm lint + template|kubeconform",
                chain,
                "target < 1 s",
            )
            with_kc = timed(
                [CHARTGEN, "validate", "--no-cache", "--kubeconform", kubeconform], work, 3
            )
            row(
                "validate --no-cache via kubeconform",
                with_kc,
                "validate --no-cache (embedded)",
                warm,
            )

        print("\nenvironments  validate --no-cache   per environment")
        per_env = {}
        for count in (10, 25, 50):
            root = project_with_environments(Path(scratch) / f"e{count}", count)
            seconds = timed([*embedded, "--no-cache"], root, 1, env=env)
            per_env[count] = seconds / count
            print(
                f"{count:>12}  {seconds:8.2f} s          {seconds / count * 1000:6.0f} ms"
                + ("   target 50 envs < 10 s" if count == 50 else "")
            )
        print(
            f"linearity: per-environment cost at 50 / at 10 = {per_env[50] / per_env[10]:.2f}"
            " (1.0 = linear)"
        )

        if kubeconform:
            rate_comparison(Path(scratch) / "e50", kubeconform)


def rate_comparison(root: Path, kubeconform: str) -> None:
    """Resources/s of the embedded validator and kubeconform on the same distinct objects."""
    from chartgen.engines import helm
    from chartgen.engines.kube_schema import KubeValidator
    from chartgen.engines.kubeconform import prepare_schemas, validate_with_kubeconform

    chart = root / "generated/helm/session-database"
    objects = []
    for index, path in enumerate(sorted(chart.glob("values-*.yaml"))):
        for obj in helm.render(chart, path.stem[len("values-") :]):
            body = json.loads(json.dumps(obj.body))
            body["metadata"].setdefault("labels", {})["bench"] = str(index)  # all distinct
            objects.append(helm.RenderedObject(obj.template, body))
    prepare_schemas("1.25.0")
    start = time.perf_counter()
    validator = KubeValidator("1.25.0")
    for obj in objects:
        validator.validate(obj.body)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    validate_with_kubeconform(kubeconform, objects, "1.25.0")
    theirs = time.perf_counter() - start
    print(f"\nschema validation of {len(objects)} distinct objects (Kubernetes 1.25.0):")
    print(f"  embedded    {len(objects) / ours:8.0f} resources/s  ({ours:.2f} s)")
    print(
        f"  kubeconform {len(objects) / theirs:8.0f} resources/s  ({theirs:.2f} s, "
        f"{os.cpu_count()} workers, incl. process start)"
    )
    print(f"  ratio embedded/kubeconform throughput: {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
