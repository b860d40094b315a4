"""/plan: the capacity and cost plan (`dramafactory plan`) as an API call.

The measurements are the service's own: the bench results beside the installed package (bench/results) and, when
`runs` names them, finished runs of the calling tenant (another tenant's run is 'not found'). Folders on disk are
never taken from the request."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from pydantic import Field

from dramafactory.planner import Plan, PlanInputError, PlanRequest, make_plan

from ..deps import Service, Tenant
from ..models import problem
from .series import owned_run

router = APIRouter(prefix="/plan", tags=["plan"])


class PlanBody(PlanRequest):
    runs: list[str] = Field(default_factory=list, max_length=50, description="Ids of this tenant's finished runs "
                            "whose measured shots, retries, tokens and seconds replace the bench's figures.")


@router.post("", response_model=Plan, summary="What a target output needs and costs on owned GPUs, rented GPUs, "
                                              "hosted APIs and the laptop",
             responses={404: problem("No run with this id for this tenant."),
                        409: problem("A run is not finished, or the service lacks a measurement the plan needs.")})
def create_plan(body: PlanBody, tenant: Tenant, service: Service) -> Plan:
    folders: list[Path] = []
    for run_id in dict.fromkeys(body.runs):
        row = owned_run(service.store, run_id, tenant)
        if row["status"] != "finished":
            raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is {row['status']}: only a finished run "
                                                          "has figures to plan from")
        folders.append(Path(row["run_dir"]))
    request = PlanRequest.model_validate(body.model_dump(exclude={"runs"}))
    try:
        return make_plan(request, runs=folders)
    except PlanInputError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
