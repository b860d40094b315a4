"""/reviews: what waits for a person, and their decision (approve, edit, reject with a note).

A decision is checked completely before anything changes: a wrong field is a 422 naming it, a second decision on
the same review is a 409, and in both cases the review stays as it was and the run stays paused."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from dramafactory.graphs.review import Decision, EditRejected, check_bible_edit, check_script_edit, check_shot_decisions
from dramafactory.schemas import EpisodeScript, SeriesBible

from ..deps import Service, StoreDep, Tenant
from ..models import ReviewPublic, concept_of, problem
from .series import plausible_id

router = APIRouter(prefix="/reviews", tags=["reviews"])


def _public(row: dict) -> ReviewPublic:
    return ReviewPublic(**{k: row[k] for k in ReviewPublic.model_fields})


def _owned(store, review_id: str, tenant: str) -> dict:
    row = store.review(review_id, tenant) if plausible_id(review_id) else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id[:64]!r}")
    return row


@router.get("", response_model=list[ReviewPublic], summary="Reviews of this tenant (by default: waiting ones)")
def list_reviews(tenant: Tenant, store: StoreDep,
                 status_filter: Annotated[Literal["pending", "decided", "withdrawn"] | None,
                                          Query(alias="status")] = "pending",
                 run_id: Annotated[str | None, Query(max_length=64)] = None) -> list[ReviewPublic]:
    return [_public(r) for r in store.list_reviews(tenant, status_filter, run_id)]


@router.get("/{review_id}", response_model=ReviewPublic, responses={404: problem("No such review.")})
def get_review(review_id: str, tenant: Tenant, store: StoreDep) -> ReviewPublic:
    return _public(_owned(store, review_id, tenant))


def _unprocessable(field: str, message: str) -> JSONResponse:
    loc = ["body", *field.split(".")]
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
                        content={"detail": [{"loc": loc, "msg": message, "type": "edit_rejected"}]})


@router.post("/{review_id}", response_model=ReviewPublic, status_code=status.HTTP_202_ACCEPTED,
             responses={404: problem("No such review."),
                        409: problem("Already decided, or withdrawn (the run was cancelled).")},
             # only the description: FastAPI's own 422 (HTTPValidationError, the shape the edit checks answer too)
             # is added when the route declares no 422 itself
             openapi_extra={"responses": {"422": {
                 "description": "The decision or the edit does not validate; the field is named."}}},
             summary="Decide a waiting review; the run resumes with the decision")
def decide_review(review_id: str, body: Decision, tenant: Tenant, service: Service):
    store = service.store
    row = _owned(store, review_id, tenant)
    if row["status"] != "pending":
        raise HTTPException(status.HTTP_409_CONFLICT, f"this review is already {row['status']}")
    run = store.run(row["run_id"], tenant)
    payload = row["payload"]
    try:
        if row["kind"] == "bible" and body.action == "edit":
            draft = SeriesBible.model_validate(payload["bible"])
            body.bible = check_bible_edit(body.bible, concept_of(run["request"]), draft).model_dump(mode="json")
        elif row["kind"] == "script" and body.action == "edit":
            bible = SeriesBible.model_validate_json((Path(run["run_dir"]) / "bible.json").read_text("utf-8"))
            draft = EpisodeScript.model_validate(payload["script"])
            body.script = check_script_edit(body.script, bible, draft).model_dump(mode="json")
        elif row["kind"] == "shots":
            check_shot_decisions(body, [s["shot"] for s in payload["shots"]])
        if row["kind"] != "bible" and body.bible is not None:
            raise EditRejected("bible", f"this review is of a {row['kind']}; it takes no bible")
        if row["kind"] != "script" and body.script is not None:
            raise EditRejected("script", f"this review is of a {row['kind']}; it takes no script")
        if row["kind"] != "shots" and body.shots:
            raise EditRejected("shots", f"this review is of a {row['kind']}; it takes no shot decisions")
    except EditRejected as exc:
        return _unprocessable(exc.field, exc.message)
    decision = body.model_dump(mode="json", exclude_none=True)
    if not store.decide_review(review_id, decision):  # lost a race with another decision
        raise HTTPException(status.HTTP_409_CONFLICT, "this review was decided meanwhile")
    service.answer(row["run_id"])
    return _public(store.review(review_id, tenant))
