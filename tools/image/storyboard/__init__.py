"""Storyboard renderer: a deterministic, CPU-only storyboard artist's frame drawn with Pillow + numpy.

One frame per shot take: a backdrop chosen by ``location.setting`` and lit by ``shot.time_of_day``, the shot's
characters drawn from their canonical look (hair, skin, build, wardrobe palette) and placed by ``shot.framing``, a
header strip (shot id, framing, camera move), a caption box with the action, a name tag next to every visible face
and a camera-move arrow glyph. The bottom ~22% of the frame holds no faces (burned-in subtitles go there).

Everything is derived from the request: the look of a character depends only on the character (so it is identical
in every shot), the layout of a location only on the location, and the seed only moves small things (paper grain,
a few pixels of camera and blocking jitter). The same request renders to byte-identical PNG bytes.

The package's face: the renderer, and what QC needs to know about a panel (where the picture is, who is meant to
be seen, in which colours). Each module has one job; see their docstrings.
"""

from .colour import INK, RGB, shade
from .looks import figure_colours
from .panel import picture_box
from .renderer import StoryboardRenderer
from .staging import visible_characters

__all__ = ["INK", "RGB", "StoryboardRenderer", "figure_colours", "picture_box", "shade", "visible_characters"]
