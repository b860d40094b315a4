"""Which people-scorer recognises the people in a backend's frames.

A backend declares its scorer with a `people_scorer()` method (base.DeclaresPeople). Takes are also judged where
only the backend's name is known (a resumed run, `dramafactory qc --backend`, the evals), so the backends shipped
here are declared by name too (the storyboard renderer's own `people_scorer()` returns the same colour model; it is
imported only when a storyboard frame is judged).
"""

from __future__ import annotations

from collections.abc import Callable

from .base import DeclaresPeople, ImageBackend, PeopleScorer


def _storyboard() -> PeopleScorer:
    from .storyboard_people import StoryboardPeople

    return StoryboardPeople()


def _faces() -> PeopleScorer | None:
    from dramafactory.tools.vision.faces import faces_available

    if not faces_available()[0]:
        return None  # no face scorer installed: who is on screen stays "not judged"
    from .face_people import FacePeople

    return FacePeople()  # type: ignore[return-value]


BY_NAME: dict[str, Callable[[], PeopleScorer | None]] = {"storyboard": _storyboard, "diffusers": _faces}


def people_scorer_for(backend: str) -> PeopleScorer | None:
    """The people-scorer declared for the backend of this name; None when it declares none."""
    factory = BY_NAME.get(backend)
    return factory() if factory else None


def people_scorer_of(backend: ImageBackend) -> PeopleScorer | None:
    """The people-scorer of a backend object: its own declaration, else (a wrapper such as the fault injector,
    which renders through `inner`) the wrapped backend's, else the one declared for its name."""
    if isinstance(backend, DeclaresPeople):
        return backend.people_scorer()
    inner = getattr(backend, "inner", None)
    if inner is not None and inner is not backend:
        return people_scorer_of(inner)
    return people_scorer_for(backend.name)
