"""Run eval suites: produce the golden concepts (or resume their productions), score them, aggregate.

Every suite except qc measures productions, so one production per (concept, seed) serves all of them. Productions
live in OUT/runs/<concept>-s<seed>/ and are ordinary run folders: a second eval (or one after a crash) resumes
them instead of producing again, and a person can open them like any other run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dramafactory.agents.context import AgentContext
from dramafactory.config import Settings
from dramafactory.graphs.backends import build_context, build_text
from dramafactory.graphs.runner import has_run, produce
from dramafactory.schemas import EpisodeScript, SeriesBible
from dramafactory.tools.accounting import is_text_call
from dramafactory.tools.ledger import Ledger

from .bible_metrics import across_series, score_bible
from .continuity_metrics import heatmap, measure, score_continuity
from .e2e_metrics import score_e2e
from .golden import GoldenConcept, PremiseLabels, QCSetSize, load_golden
from .invariants import check as check_invariants
from .invariants import split as split_invariants
from .judge import CRITERIA, judge_scripts
from .metrics import MetricResult, not_measured
from .production import Production
from .script_metrics import score_scripts
from .shotlist_metrics import score_shotlists
from .story_metrics import score_story_bible, score_story_scripts

Progress = Callable[[str], None]
MakeContext = Callable[[Path, Settings], AgentContext]
JUDGE_PASS = 3.0  # "a clear conflict", "speakable" on the rubric (evals/judge_prompts.py)
JUDGE_AGREEMENT = 0.8  # share of seed pairs within one point: below it the judge's scores are noise


@dataclass
class EvalPlan:
    name: str
    suites: list[str]
    concepts: list[GoldenConcept]
    episodes: int = 1
    seconds: int = 60
    seeds: list[int] = field(default_factory=lambda: [0])
    qc: QCSetSize = field(default_factory=QCSetSize)

    @property
    def needs_production(self) -> bool:
        return any(s != "qc" for s in self.suites)

    @property
    def stop_after(self) -> str | None:
        """The last stage the suites need: the bible alone, or a one-episode plan's shot list, costs far less than
        rendering, voicing and cutting the episode."""
        if set(self.suites) <= {"bible", "qc"}:
            return "director"
        if set(self.suites) <= {"bible", "script", "shotlist", "qc"} and self.episodes == 1:
            return "cinematographer"
        return None


def plan_for(name: str, concept_ids: list[str] | None = None, seeds: list[int] | None = None,
             episodes: int | None = None, seconds: int | None = None) -> EvalPlan:
    """A preset (smoke, golden) or one suite over the golden concepts; options override the preset."""
    golden = load_golden()
    if name in golden.presets:
        preset = golden.presets[name]
        plan = EvalPlan(name, list(preset.suites), golden.pick(preset.concepts), preset.episodes, preset.seconds,
                        list(preset.seeds), preset.qc)
    else:
        default = golden.presets["golden"]
        plan = EvalPlan(name, [name], golden.pick(None), default.episodes, default.seconds, [0])
    if concept_ids:
        plan.concepts = golden.pick(concept_ids)
    plan.seeds = seeds or plan.seeds
    plan.episodes = episodes or plan.episodes
    plan.seconds = seconds or plan.seconds
    return plan


def run_dir_for(out: Path, concept: GoldenConcept, seed: int) -> Path:
    return out / "runs" / f"{concept.id}-s{seed}"


class PlanMismatch(ValueError):
    """An eval folder holds a production made from another concept, length or configuration."""


FINGERPRINT = "eval_plan.json"


def fingerprint(concept: GoldenConcept, seed: int, plan: EvalPlan, settings: Settings) -> dict:
    """What a production depends on: reusing one made from anything else would score the wrong thing."""
    return {"concept": concept.concept(plan.episodes, plan.seconds).model_dump(mode="json"), "seed": seed,
            "settings": settings.model_dump(mode="json", exclude={"text_threads", "openai_api_key"})}


def check_fingerprint(run_dir: Path, wanted: dict) -> None:
    path = run_dir / FINGERPRINT
    if not has_run(run_dir):
        return
    if not path.is_file():  # made before fingerprints: the concept at least must match
        found = {"concept": json.loads((run_dir / "concept.json").read_text(encoding="utf-8")),
                 "seed": wanted["seed"], "settings": wanted["settings"]}
    else:
        found = json.loads(path.read_text(encoding="utf-8"))
    differs = [f"{part}.{key}" for part in ("concept", "settings") for key in sorted(set(wanted[part]) |
                                                                                       set(found[part]))
               if wanted[part].get(key) != found[part].get(key)]
    differs += ["seed"] if wanted["seed"] != found["seed"] else []
    if differs:
        raise PlanMismatch(f"{run_dir} holds a production made with other {', '.join(differs[:4])}: scoring it "
                           f"would measure the wrong thing; use another --out, or delete {run_dir}")


def ensure_production(run_dir: Path, concept: GoldenConcept, seed: int, plan: EvalPlan, ctx: AgentContext
                      ) -> Production:
    """Produce the concept into run_dir, or resume what an earlier eval left there (only as far as the plan's
    suites need). A folder holding a production of another plan or configuration is refused."""
    wanted = fingerprint(concept, seed, plan, ctx.settings)
    check_fingerprint(run_dir, wanted)
    stop_after = plan.stop_after
    if not has_run(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / FINGERPRINT).write_text(json.dumps(wanted, indent=2), encoding="utf-8")
        produce(ctx, concept=concept.concept(plan.episodes, plan.seconds), seed=seed, stop_after=stop_after)
    elif not _has_reached(run_dir, stop_after):
        produce(ctx, concept=None, seed=seed, resume=True, stop_after=stop_after)
    if not (run_dir / FINGERPRINT).is_file():
        (run_dir / FINGERPRINT).write_text(json.dumps(wanted, indent=2), encoding="utf-8")
    return Production.load(run_dir)


def _has_reached(run_dir: Path, stop_after: str | None) -> bool:
    if (run_dir / "summary.json").is_file():
        return True
    return {"director": (run_dir / "bible.json").is_file(),
            "cinematographer": (run_dir / "episodes" / "01" / "shotlist.json").is_file()}.get(stop_after or "", False)


FACT_METRICS = ["script.fact_contradictions"]


def fact_metrics(bible: SeriesBible, scripts: list[EpisodeScript]) -> list[MetricResult]:
    """Contradictions of facts established in earlier episodes (evals/fact_metrics.py, the series memory's
    metric), imported only when scored: until that module exists the metric reads 'not measured', never a pass."""
    try:
        from .fact_metrics import fact_contradictions
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.fact_metrics":
            raise  # the module is there but something it needs is not: that is a bug to see, not a skip
        return not_measured(FACT_METRICS, "not measured: evals/fact_metrics.py is not installed")
    if not scripts:
        return not_measured(FACT_METRICS, "no script was written")
    return list(fact_contradictions(bible, scripts))


def score_case(production: Production, suites: list[str], settings: Settings,
               labels: PremiseLabels | None = None) -> tuple[list[MetricResult], dict | None]:
    """Score one production on the plan's suites; `labels` are the golden concept's hand labels the story
    metrics measure against (None: those metrics read 'not measured')."""
    bible, metrics, grid = production.bible, [], None
    if bible is None:
        raise RuntimeError(f"{production.run_dir} has no bible.json: the production failed before the director")
    target = production.concept.seconds_per_episode
    if "bible" in suites:
        metrics += score_bible(bible, production.concept)
        metrics += score_story_bible(bible, labels)
    if "script" in suites:
        metrics += score_scripts(production.scripts, bible, target)
        metrics += score_story_scripts(production.scripts, labels)
        metrics += fact_metrics(bible, production.scripts)
    if "shotlist" in suites:
        metrics += score_shotlists(production.shotlists, production.scripts, target, production.canonical)
    if "continuity" in suites:
        measured = measure(production.run_dir, production.cuts, bible, production.canonical)
        metrics += score_continuity(measured, settings.qc.max_palette_drift, settings.qc.min_identity)
        grid = heatmap(measured)
    if "e2e" in suites:
        metrics += score_e2e(production.summary)
    metrics += text_cost(production.ledger())
    return metrics, grid


def text_cost(ledger: list[dict]) -> list[MetricResult]:
    """What the text model spent on the production so far (calls, tokens, seconds), so an A/B of a prompt or a
    re-ask policy weighs quality against cost. Reported, never gated."""
    text = [row for row in ledger if is_text_call(row)]  # not model loads, failed calls or marks
    return [MetricResult(name="cost.text_calls", value=len(text), passed=True, better="lower"),
            MetricResult(name="cost.text_tokens", value=sum(r.get("tokens", 0) for r in text), passed=True,
                         better="lower"),
            MetricResult(name="cost.text_seconds", value=round(sum(r.get("seconds", 0.0) for r in text), 1),
                         passed=True, better="lower")]


def aggregate(cases: list[dict]) -> dict[str, dict]:
    """Per metric over the cases: mean, min, max; passed only if it passed in every case."""
    by_name: dict[str, list[dict]] = {}
    for case in cases:
        for m in case["metrics"]:
            by_name.setdefault(m["name"], []).append(m)
    out = {}
    for name, rows in by_name.items():
        values = [r["value"] for r in rows]
        out[name] = {"mean": round(sum(values) / len(values), 4), "min": min(values), "max": max(values),
                     "threshold": rows[0]["threshold"], "better": rows[0]["better"],
                     "passed": all(r["passed"] for r in rows), "cases": len(rows)}
    return out


def run_eval(plan: EvalPlan, out: Path, settings: Settings, *, label: str = "embedded default",
             progress: Progress = lambda _: None, judge_seeds: list[int] | None = None,
             make_context: MakeContext | None = None) -> dict:
    """Produce (or resume) every case, score it; with judge_seeds, the LLM judge scores each case's scripts.
    make_context builds each production's context (tests give fake backends); by default one loaded text model
    serves every production."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cases: list[dict] = []
    bibles: dict[str, SeriesBible] = {}
    if plan.needs_production:
        if make_context is None:
            text = build_text(settings)

            def make_context(run_dir: Path, settings: Settings) -> AgentContext:
                return build_context(run_dir, settings, text=text)
        for concept in plan.concepts:
            for seed in plan.seeds:
                run_dir = run_dir_for(out, concept, seed)
                progress(f"producing {concept.id} (seed {seed}) in {run_dir}")
                ctx = make_context(run_dir, settings)
                case = {"id": f"{concept.id}-s{seed}", "concept": concept.logline, "genre": concept.genre,
                        "seed": seed, "run_dir": str(run_dir.relative_to(out)), "contact_sheets": [],
                        "heatmap": None}
                try:
                    production = ensure_production(run_dir, concept, seed, plan, ctx)
                    if production.bible is not None:
                        bibles[case["id"]] = production.bible
                    metrics, case["heatmap"] = score_case(production, plan.suites, settings, concept.labels)
                    if judge_seeds and production.scripts:
                        progress(f"judging {concept.id} (seed {seed}) with {len(judge_seeds)} judge seeds")
                        metrics += judge_metrics(judge_scripts(ctx.text, Ledger(out / "judge_ledger.jsonl"),
                                                               production.scripts, judge_seeds))
                    case["contact_sheets"] = [str(p.relative_to(out)) for p in production.contact_sheets()]
                except PlanMismatch:
                    raise
                except Exception as exc:  # one broken case must not lose the others' figures: record it, go on
                    progress(f"{concept.id} (seed {seed}) failed: {type(exc).__name__}: {exc}")
                    metrics = not_measured(["case.produced"], f"{type(exc).__name__}: {exc} (resume: run the "
                                                              f"same eval again)")
                # Invariants are checked, not measured: they go beside the case's metrics, not among them, so
                # the metric table, the A/B verdicts and --compare see only what can move.
                measured, held = split_invariants(metrics)
                case["metrics"] = [m.model_dump(mode="json") for m in measured]
                case["invariants"] = [m.model_dump(mode="json") for m in held]
                for broken in (m for m in held if not m.passed):
                    progress(f"INVARIANT VIOLATED: {broken.name} in {case['id']}: "
                             f"{'; '.join(broken.detail[:2]) or 'violated'}")
                cases.append(case)
    if "bible" in plan.suites and len(bibles) > 1:  # the slate as a whole: one cast per series, not one for all
        cases.append({"id": "across-series", "concept": f"{len(bibles)} series", "genre": "", "seed": 0,
                      "run_dir": "runs", "contact_sheets": [], "heatmap": None,
                      "metrics": [m.model_dump(mode="json") for m in across_series(bibles)]})
    qc = None
    if "qc" in plan.suites:
        from .qc_eval import run as run_qc

        progress("scoring QC on the labelled set")
        qc = run_qc(out / "qc", series=plan.qc.series, shots_per_series=plan.qc.shots, limits=settings.qc)
        cases.append({"id": "qc-labelled-set", "concept": "", "genre": "", "seed": 0, "run_dir": "qc",
                      "metrics": [m.model_dump(mode="json") for m in qc_metrics(qc)], "contact_sheets": [],
                      "heatmap": None})
    metrics = aggregate(cases)
    invariants = check_invariants(cases)
    return {"suite": plan.name, "label": label, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 1),
            "passed": all(m["passed"] for m in metrics.values()) and all(i["held"] for i in invariants.values()),
            "settings": {"text_backend": settings.text_backend, "image_backend": settings.image_backend,
                         "speech_backend": settings.speech_backend, "episodes": plan.episodes,
                         "seconds_per_episode": plan.seconds, "seeds": plan.seeds,
                         "concepts": [c.id for c in plan.concepts], "suites": plan.suites},
            "cases": cases, "metrics": metrics, "invariants": invariants, **({"qc": qc} if qc else {})}


def judge_metrics(judged: dict) -> list[MetricResult]:
    out = []
    for criterion in CRITERIA:
        mean = judged[criterion]["mean"]
        out.append(MetricResult(name=f"judge.{criterion}", value=mean or 0.0,
                                passed=mean is not None and mean >= JUDGE_PASS, threshold=JUDGE_PASS))
    agreements = [judged[c]["agreement"] for c in CRITERIA if judged[c]["agreement"] is not None]
    worst = min(agreements) if agreements else 0.0
    out.append(MetricResult(name="judge.self_agreement", value=worst, passed=worst >= JUDGE_AGREEMENT,
                            threshold=JUDGE_AGREEMENT,
                            detail=[f"{judged['unanswered']} judge calls gave no valid answer"]
                            if judged["unanswered"] else []))
    return out


def qc_metrics(qc: dict) -> list[MetricResult]:
    from .qc_eval import TARGET

    return [MetricResult(name="qc.precision", value=qc["precision"], passed=qc["precision"] >= TARGET,
                         threshold=TARGET),
            MetricResult(name="qc.recall", value=qc["recall"], passed=qc["recall"] >= TARGET, threshold=TARGET),
            MetricResult(name="qc.false_alarm_rate", value=qc["false_alarm_rate"],
                         passed=qc["false_alarm_rate"] <= 1 - TARGET, threshold=round(1 - TARGET, 4),
                         better="lower")]
