"""Speed of `chartgen validate` and of its parts, each beside a baseline run on the same machine.

Prints figures and ratios; asserts nothing about speed (targets live here, not in timed tests):
  - `chartgen --help` vs `python -c pass` (interpreter start); target < 150 ms
  - validate, unchanged tree (verdict cache) vs the same run without the cache; target < 0.3 s
  - validate --no-cache, cold (no Python bytecode: first run after install) vs warm
  - validate, full warm (--no-cache) vs the hand-made chain `helm lint` + `helm template` +
    `kubeconform`, made to do the same Helm and schema work: every environment chartgen
    validates (values.yaml too) and both Kubernetes versions (1.25.0 and the newest shipped);
    the checks it still lacks are listed                                         target < 1 s
  - validate over N generated environments (10, 25, 50), chartgen and the chain side by side:
    the marginal cost per environment (least-squares fit time = a + b*n) and its linearity
    (marginal cost 25->50 / marginal cost 10->25; 1.0 = linear)                 50 envs < 10 s
  - schema validation rate: embedded validator vs kubeconform, resources/s on the same objects

Machines are shared and noisy: the runs being compared are interleaved (in a rotating order)
and medians are reported. Every timed command's exit code is checked against what it must be;
a wrong one aborts the benchmark with the command and its output, so a run that fails fast is
never timed as a success.

Run: python benchmarks/validate_bench.py   (Helm v3 CLI and kubeconform from `go install`)
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `python benchmarks/validate_bench.py`

from benchmarks.harness import BenchError, Step, interleaved, row, sequence, tool  # noqa: E402

CHARTGEN = str(Path(sys.executable).parent / "chartgen")
CHART = "generated/helm/session-database"
COUNTS = (10, 25, 50)
# What the Helm steps of chartgen use (chartgen.engines.helm): release, namespace, and the
# version Helm renders for (the templates do not read Capabilities).
RELEASE, NAMESPACE, RENDER_VERSION = "sessions", "session-db", "1.25.0"
# The checks the baseline chain also performs: helm lint, helm template, kubeconform.
BASELINE_CHECKS = ("helm-lint", "render", "kube-schema")


def environments_of(chart: Path) -> list[str]:
    """The environments `chartgen validate` checks by default: values.yaml, then each overlay."""
    found = sorted(p.name[len("values-") : -len(".yaml")] for p in chart.glob("values-*.yaml"))
    return ["defaults", *found]


def project_with_environments(root: Path, count: int) -> Path:
    """A copy of the spec with `count` environments (varied overlays), built."""
    shutil.copytree(REPO / "values", root / "values")
    envs = root / "values" / "environments"
    for path in envs.glob("*.yaml"):
        path.unlink()
    names = [f"env{i:02d}" for i in range(count)]
    spec = root / "values" / "topology.yaml"
    listed = "environments: [development, staging, production]"
    text = spec.read_text()
    if listed not in text:
        raise BenchError(f"{spec}: no line `{listed}` to replace; update the benchmark")
    text = text.replace(listed, f"environments: [{', '.join(names)}]")
    # application.yaml's environment (spec argocd.application) must be one of them
    text = text.replace("  application: production\n", f"  application: {names[0]}\n")
    spec.write_text(text)
    for i, name in enumerate(names):
        (envs / f"{name}.yaml").write_text(
            f"redis:\n  persistence:\n    size: {i + 1}Gi\nsentinel:\n"
            f"  downAfterMilliseconds: {1000 + i}\n"
        )
    Step([CHARTGEN, "build"], root).run()
    built = environments_of(root / CHART)
    if len(built) != count + 1:
        raise BenchError(f"{root}: build wrote {len(built) - 1} environments, not {count}")
    return root


def baseline_chain(
    root: Path, helm: str, kubeconform: str, versions: Sequence[str], scratch: Path
) -> list[Step]:
    """The hand-made chain doing chartgen's Helm and schema work: `helm lint --strict` and
    `helm template` of every environment, then one strict kubeconform run per Kubernetes
    version over all rendered environments (the cheapest way to chain them by hand)."""
    from chartgen.engines.kubeconform import prepare_schemas, schema_location

    chart = root / CHART
    location = schema_location(prepare_schemas(versions[0]))
    for version in versions[1:]:
        prepare_schemas(version)
    steps, rendered = [], []
    scratch.mkdir(parents=True, exist_ok=True)
    for env in environments_of(chart):
        values = [] if env == "defaults" else ["--values", str(chart / f"values-{env}.yaml")]
        steps.append(
            Step([helm, "lint", "--strict", "--namespace", NAMESPACE, str(chart), *values], root)
        )
        out = scratch / f"{env}.yaml"
        template = [helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE]
        template += ["--kube-version", RENDER_VERSION, *values]
        steps.append(Step(template, root, stdout=out))
        rendered.append(str(out))
    for version in versions:
        steps.append(
            Step(
                [
                    *(kubeconform, "-strict", "-summary", "-kubernetes-version", version),
                    *("-schema-location", location, *rendered),
                ],
                root,
            )
        )
    return steps


def say(text: str) -> None:
    print(textwrap.fill(text, 100, initial_indent="  ", subsequent_indent="    "))


def describe(root: Path, versions: Sequence[str], have_tools: bool) -> None:
    """What each side of the comparison does, so the ratios can be read for what they are."""
    from chartgen.validate.checks import CHECK_IDS

    envs = environments_of(root / CHART)
    missing = [c for c in CHECK_IDS if c not in BASELINE_CHECKS]
    print("What is compared (committed chart):")
    say(
        f"chartgen validate --no-cache --embedded-schemas: all {len(CHECK_IDS)} checks "
        f"({', '.join(CHECK_IDS)}) on {len(envs)} environments ({', '.join(envs)}) and "
        f"Kubernetes {' and '.join(versions)}; Helm v4 engine in-process (lint and render "
        "overlap the Python checks on 2 threads), embedded schema validator."
    )
    if not have_tools:
        say("baseline chain: skipped (Helm v3 CLI or kubeconform not found)")
        print()
        return
    say(
        "baseline chain: per environment `helm lint --strict` and `helm template` (Helm v3 "
        "CLI, one process each), then `kubeconform -strict` once per Kubernetes version "
        f"({', '.join(versions)}) over all {len(envs)} rendered environments, with the same "
        "local strict schemas chartgen gives kubeconform. Same environments and versions, "
        f"but it does NOT run {len(missing)} of chartgen's {len(CHECK_IDS)} checks: "
        f"{', '.join(missing)}."
    )
    say(
        "Exit codes checked on every timed run: chartgen validate 0 (the committed chart and "
        "the generated environments have no errors), each chain step 0, `--help` 0."
    )
    print()


def main() -> None:
    from chartgen.engines.kube_schema import DEFAULT_VERSIONS, resolve_version

    helm, kubeconform = tool("helm"), tool("kubeconform")
    versions = [resolve_version(v) for v in DEFAULT_VERSIONS]
    print(
        f"machine: {os.cpu_count()} cores; helm v3: {helm or 'absent'}; "
        f"kubeconform: {kubeconform or 'absent'}\n"
        f"figures are medians of interleaved runs; ratio = left / right (below 1: left faster)\n"
    )
    describe(REPO, versions, bool(helm and kubeconform))

    times = interleaved(
        {
            "help": Step([CHARTGEN, "--help"], REPO).run,
            "python": Step([sys.executable, "-c", "pass"], REPO).run,
        },
        10,
    )
    med = {name: statistics.median(values) for name, values in times.items()}
    row("chartgen --help", med["help"], "python -c pass", med["python"], "target < 150 ms")

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        work = scratch / "p"
        shutil.copytree(REPO / "values", work / "values")
        shutil.copytree(REPO / "generated", work / "generated")
        embedded = [CHARTGEN, "validate", "--embedded-schemas"]
        warm = Step([*embedded, "--no-cache"], work)
        cached = Step(embedded, work)
        compare_cache_and_cold(work, warm, cached, scratch)

        if helm and kubeconform:
            chain = sequence(baseline_chain(work, helm, kubeconform, versions, scratch / "chain"))
            full = [CHARTGEN, "validate", "--no-cache"]
            times = interleaved(
                {
                    "warm": warm.run,
                    "kc": Step([*full, "--kubeconform", kubeconform], work).run,
                    "tools": Step([*full, "--kubeconform", kubeconform, "--helm", helm], work).run,
                    "chain": chain,
                },
                5,
            )
            med = {name: statistics.median(values) for name, values in times.items()}
            row(
                "validate --no-cache (warm), all checks",
                med["warm"],
                "baseline chain (same envs, versions)",
                med["chain"],
                "target < 1 s",
            )
            row(
                "validate --no-cache --kubeconform",
                med["kc"],
                "validate --no-cache (embedded)",
                med["warm"],
            )
            row(
                "validate --no-cache --kubeconform --helm",
                med["tools"],
                "baseline chain (same tools)",
                med["chain"],
            )

        scaling(scratch, embedded, helm, kubeconform, versions)
        if kubeconform:
            rate_comparison(scratch / f"e{COUNTS[-1]}", kubeconform)


def compare_cache_and_cold(work: Path, warm: Step, cached: Step, scratch: Path) -> None:
    """Verdict cache hit vs warm full run; cold (no bytecode) vs warm full run."""
    cached.run()  # writes the verdict
    verdicts = sorted((work / ".chartgen-cache" / "validate").glob("*.json"))
    if len(verdicts) != 1:
        raise BenchError(f"expected one cached verdict after a validate run, found {verdicts}")
    stamp = verdicts[0].stat().st_mtime_ns
    colds = iter(range(1000))

    def cold() -> float:
        # a fresh, empty bytecode cache: every module of chartgen and its engines is compiled,
        # as on the first run after installing
        prefix = scratch / f"pycache-{next(colds)}"
        return Step(
            warm.command, work, env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}
        ).run()

    times = interleaved({"cached": cached.run, "warm": warm.run}, 5)
    if verdicts[0].stat().st_mtime_ns != stamp or len(list(verdicts[0].parent.iterdir())) != 1:
        raise BenchError("the cached runs rewrote or added a verdict: they missed the cache")
    med = {name: statistics.median(values) for name, values in times.items()}
    row(
        "validate, unchanged tree (verdict cache hit)",
        med["cached"],
        "validate --no-cache (warm)",
        med["warm"],
        "target < 300 ms",
    )
    times = interleaved({"cold": cold, "warm": warm.run}, 3, warm_up=False)
    row(
        "validate --no-cache, cold (no bytecode yet)",
        statistics.median(times["cold"]),
        "validate --no-cache (warm)",
        statistics.median(times["warm"]),
    )


def scaling(
    scratch: Path,
    embedded: list[str],
    helm: str | None,
    kubeconform: str | None,
    versions: Sequence[str],
) -> None:
    """chartgen and the baseline chain over 10, 25 and 50 generated environments."""
    samplers: dict[str, Callable[[], float]] = {}
    for count in COUNTS:
        root = project_with_environments(scratch / f"e{count}", count)
        samplers[f"chartgen {count}"] = Step([*embedded, "--no-cache"], root).run
        if helm and kubeconform:
            steps = baseline_chain(root, helm, kubeconform, versions, scratch / f"chain{count}")
            samplers[f"chain {count}"] = sequence(steps)
    times = interleaved(samplers, 5)
    sides = ["chartgen"] + (["chain"] if helm and kubeconform else [])
    print(
        "\nGenerated environments (each also validates values.yaml; both Kubernetes versions):"
        f"\n{'environments':>12}  {'chartgen validate':>18}"
        + (f"  {'baseline chain':>15}  ratio" if len(sides) > 1 else "")
    )
    med = {name: statistics.median(values) for name, values in times.items()}
    for count in COUNTS:
        line = f"{count:>12}  {med[f'chartgen {count}']:16.2f} s"
        if len(sides) > 1:
            ours, chain = med[f"chartgen {count}"], med[f"chain {count}"]
            line += f"  {chain:13.2f} s  {ours / chain:5.2f}"
        print(line + ("   target 50 envs < 10 s" if count == 50 else ""))
    print(
        "Fit over every run: time = a + b*n, a = fixed cost (start-up, spec, checks that run "
        "once),\nb = marginal cost of one more environment. Linearity = marginal cost 25->50 / "
        "marginal cost\n10->25 (from the medians): 1.0 = linear, above 1 = environments cost "
        "more as they grow."
    )
    slopes = {}
    for side in sides:
        xs = [float(c) for c in COUNTS for _ in times[f"{side} {c}"]]
        ys = [t for c in COUNTS for t in times[f"{side} {c}"]]
        slopes[side], intercept = statistics.linear_regression(xs, ys)
        m = [med[f"{side} {c}"] for c in COUNTS]
        low = (m[1] - m[0]) / (COUNTS[1] - COUNTS[0])
        high = (m[2] - m[1]) / (COUNTS[2] - COUNTS[1])
        print(
            f"  {side:<9} a = {intercept:5.2f} s   b = {slopes[side] * 1000:5.1f} ms/env   "
            f"marginal 10->25 {low * 1000:5.1f} ms/env, 25->50 {high * 1000:5.1f} ms/env"
            f"   linearity {high / low:4.2f}"
        )
    if len(sides) > 1:
        ratio = slopes["chartgen"] / slopes["chain"]
        print(f"  marginal cost ratio b(chartgen) / b(chain): {ratio:.2f}")


def rate_comparison(root: Path, kubeconform: str) -> None:
    """Resources/s of the embedded validator and kubeconform on the same distinct objects."""
    import json

    from chartgen.engines import helm
    from chartgen.engines.kube_schema import KubeValidator
    from chartgen.engines.kubeconform import prepare_schemas, validate_with_kubeconform

    chart = root / CHART
    objects = []
    for index, path in enumerate(sorted(chart.glob("values-*.yaml"))):
        for obj in helm.render(chart, path.stem[len("values-") :]):
            body = json.loads(json.dumps(obj.body))
            body["metadata"].setdefault("labels", {})["bench"] = str(index)  # all distinct
            objects.append(helm.RenderedObject(obj.template, body))
    prepare_schemas("1.25.0")

    def ours() -> float:
        start = time.perf_counter()
        validator = KubeValidator("1.25.0")  # fresh: no compiled schema, no remembered verdict
        findings = [f for obj in objects for f in validator.validate(obj.body)]
        elapsed = time.perf_counter() - start
        if findings:
            raise BenchError(f"embedded validator found problems: {findings[:3]}")
        return elapsed

    def theirs() -> float:
        start = time.perf_counter()
        findings = [
            f for found in validate_with_kubeconform(kubeconform, objects, "1.25.0") for f in found
        ]
        elapsed = time.perf_counter() - start
        if findings:
            raise BenchError(f"kubeconform found problems: {findings[:3]}")
        return elapsed

    times = interleaved({"ours": ours, "theirs": theirs}, 3)
    mine, other = statistics.median(times["ours"]), statistics.median(times["theirs"])
    print(f"\nSchema validation of {len(objects)} distinct objects (Kubernetes 1.25.0):")
    print(f"  embedded    {len(objects) / mine:8.0f} resources/s  ({mine:.2f} s, 1 thread)")
    print(
        f"  kubeconform {len(objects) / other:8.0f} resources/s  ({other:.2f} s, "
        f"{max(2, os.cpu_count() or 2)} workers, incl. process start and writing the files)"
    )
    print(f"  ratio embedded/kubeconform throughput: {other / mine:.2f}")


if __name__ == "__main__":
    from chartgen.errors import ChartgenError

    try:
        main()
    except (BenchError, ChartgenError) as error:
        sys.exit(f"\nbenchmark aborted: {error}")
