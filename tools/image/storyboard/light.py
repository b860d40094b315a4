"""Light by time of day: sky colours, the tint every colour takes under the shot's light, lamp glows, and the
re-lighting of a set a retry asks for."""

from __future__ import annotations

from PIL import Image, ImageChops

from .colour import RGB, mix

SKY: dict[str, tuple[RGB, RGB]] = {  # top, horizon
    "dawn": ((118, 128, 190), (250, 188, 158)),
    "day": ((104, 164, 222), (200, 224, 240)),
    "dusk": ((72, 62, 124), (242, 136, 86)),
    "night": ((12, 16, 40), (40, 46, 82)),
}

TINT: dict[str, tuple[float, float, float]] = {
    "dawn": (1.0, 0.91, 0.9),
    "day": (1.0, 1.0, 1.0),
    "dusk": (1.0, 0.83, 0.7),
    "night": (0.46, 0.5, 0.7),
}


def tint_of(time_of_day: str, kind: str) -> tuple[float, float, float]:
    return (0.66, 0.62, 0.66) if kind == "interior" and time_of_day == "night" else TINT[time_of_day]


def lit(c: RGB, tint: tuple[float, float, float]) -> RGB:
    return mix(c, (round(c[0] * tint[0]), round(c[1] * tint[1]), round(c[2] * tint[2])), 0.4)


def glow(img: Image.Image, x: float, y: float, r: float, colour: RGB, power: float) -> None:
    size = max(4, round(2 * r))
    box = (round(x - r), round(y - r), round(x - r) + size, round(y - r) + size)
    if box[2] <= 0 or box[3] <= 0 or box[0] >= img.width or box[1] >= img.height:
        return
    mask = _radial(size, power)
    region = img.crop(box)
    screened = ImageChops.screen(region, Image.new("RGB", region.size, colour))
    img.paste(Image.composite(screened, region, mask), box[:2])


_RADIAL: dict[tuple[int, int], Image.Image] = {}


def _radial(size: int, power: float) -> Image.Image:
    key = (size, round(power * 100))
    if key not in _RADIAL:
        if len(_RADIAL) > 256:
            _RADIAL.clear()
        base = Image.radial_gradient("L").resize((size, size), Image.Resampling.BILINEAR)
        k = round(power * 100) / 100
        _RADIAL[key] = base.point([round(255 * k * max(0.0, 1 - v / 180) ** 2) for v in range(256)])
    return _RADIAL[key]


def relight(img: Image.Image, exposure: int, contrast: int) -> None:
    """Re-light a set in place. `exposure`: steps of compensation, + brighter, - darker (each a tone curve of
    gamma 2^(-1/2): shadows and mid-tones move most, pure black and white stay). `contrast`: + steeper about
    mid-grey (a flat frame), - tones pulled in from pure black and white (a clipped one)."""
    if not exposure and not contrast:
        return
    gamma = 2.0 ** (-exposure / 2)
    table = []
    for v in range(256):
        y = (v / 255) ** gamma
        for _ in range(max(0, contrast)):
            y = 0.5 + (y - 0.5) * 1.5
        for _ in range(max(0, -contrast)):
            y = 0.1 + 0.8 * y
        table.append(round(255 * min(1.0, max(0.0, y))))
    img.paste(img.point(table * 3))
