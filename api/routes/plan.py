"""/plan: the capacity and cost plan (`dramafactory plan`) as an API call.

The measurements are the service's own, never folders named in a request:
- the bench results in `bench/results` beside the installed package: the folder that holds the `dramafactory`
  package (the repository root for a source checkout; site-packages for an installed wheel), resolved from the
  package's own location (`dramafactory.planner.inputs.default_bench_dir`), so the same folder whatever the
  service's working directory. There is no setting for it; it is named "bench/results" in the answer;
- when `runs` names them, finished runs of the calling tenant (another tenant's run is 'not found'), named by their
  id in the answer's provenance and in errors: the server's folders are not shown.

A request the measurements cannot answer (a run not finished or unusable, a measurement the service lacks, a figure
the arithmetic refuses) is a 409 with a Problem body saying which."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import Field

from dramafactory.catalogue import catalogue
from dramafactory.planner import Plan, PlanInputError, PlanRequest, make_plan
from dramafactory.planner.inputs import default_bench_dir
from dramafactory.planner.runs import RunFigures, read_run

from ..deps import Service, Tenant
from ..models import problem
from .series import owned_run

router = APIRouter(prefix="/plan", tags=["plan"])
BENCH_LABEL = "bench/results"  # how the service's bench folder is named in the answer


class PlanBody(PlanRequest):
    runs: list[str] = Field(default_factory=list, max_length=50, description="Ids of this tenant's finished runs "
                            "whose measured shots, retries, tokens and seconds replace the bench's figures.")


@router.post("", response_model=Plan, summary="What a target output needs and costs on owned GPUs, rented GPUs, "
                                              "hosted APIs and the laptop",
             responses={404: problem("No run with this id for this tenant."),
                        409: problem("A run is not finished or not usable, or the service lacks a measurement the "
                                     "plan needs.")})
def create_plan(body: PlanBody, tenant: Tenant, service: Service) -> Plan:
    cat = catalogue()
    request = PlanRequest.model_validate(body.model_dump(exclude={"runs"}))  # checked already, as PlanBody
    runs: list[RunFigures] = []
    try:
        for run_id in dict.fromkeys(body.runs):
            row = owned_run(service.store, run_id, tenant)
            if row["status"] != "finished":
                raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is {row['status']}: only a finished "
                                                              "run has figures to plan from")
            runs.append(read_run(row["run_dir"], cat, run_id=run_id))
        return make_plan(request, cat=cat, bench_dir=default_bench_dir(), bench_label=BENCH_LABEL, runs=runs)
    except PlanInputError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:  # a figure the arithmetic refuses: the service's data, not the request's fields
        raise HTTPException(status.HTTP_409_CONFLICT, f"cannot plan from the service's measurements: {exc}") \
            from None
