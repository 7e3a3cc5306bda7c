"""Render synthetic RGB-D scenes: RGB (H, W, 3) uint8, depth (H, W) metres.

Shorthand: H x W image size (S x S here).

A scene is a floor receding from the camera (depth grows towards the top of
the image) with objects standing on it, drawn with a z-buffer so nearer
objects occlude farther ones. Object classes come in two groups, which is
what makes a missing modality hurt:

- **geometry classes** (``sphere``, ``disc``, ``cone``, ``bowl``): a circular
  footprint and a colour drawn from one shared palette; only the 3-D depth
  profile (dome, flat, linear, concave) tells them apart, so RGB alone cannot.
- **appearance classes** (``red_box``, ``blue_box``, ``striped_box``,
  ``checker_box``): the same flat square box geometry; only colour or texture
  tells them apart, so depth alone cannot.

RGB carries no shape-dependent shading on purpose (shading would leak the
geometry into RGB); instead it gets a global illumination gain, a linear
illumination gradient, a colour cast and Gaussian noise. Depth gets
distance-dependent Gaussian noise and holes (0 = no measurement): random
blobs, a shadow band beside each object (as a structured-light sensor) and
random pixel drop-outs.

Scale of the depth cue (generator version 2). Objects stand out of the floor
by ``HEIGHT_RANGE`` (0.4-0.7 m, about their footprint radius), the floor
spans ``Z_NEAR_RANGE`` .. ``Z_FAR_RANGE`` (1.5-3.5 m, so objects are 5-23
pixels in radius at S = 64) and the noise is ``DEPTH_NOISE`` z^2 (a
structured-light sensor's 1.5 mm/m^2, Khoshelham & Elberink 2012). The
relief of a cone or dome then rises about 5 noise sigmas per pixel, which a
small CNN picks up within a few hundred iterations; with version 1's 0.15-0.45
m reliefs in 4 mm/m^2 noise on a floor up to 4.5 m away the relief was about
one noise sigma per pixel and a depth-only model needed ~1600 iterations to
find the objects.
"""
from typing import List, Tuple

import numpy as np

GEOMETRY_CLASSES = ('sphere', 'disc', 'cone', 'bowl')
APPEARANCE_CLASSES = ('red_box', 'blue_box', 'striped_box', 'checker_box')
OBJECT_CLASSES = GEOMETRY_CLASSES + APPEARANCE_CLASSES

# Shared palette (RGB, 0..1) of the geometry classes and textured boxes; it
# avoids the pure reds and blues of ``red_box`` / ``blue_box``.
PALETTE = np.array([[0.90, 0.80, 0.20], [0.95, 0.55, 0.15],
                    [0.20, 0.80, 0.80], [0.80, 0.30, 0.80],
                    [0.55, 0.55, 0.55], [0.55, 0.35, 0.20],
                    [0.90, 0.90, 0.85], [0.35, 0.75, 0.30]], np.float32)
RED = np.array([0.85, 0.12, 0.10], np.float32)
BLUE = np.array([0.12, 0.22, 0.85], np.float32)

# Depth scale of a scene (metres); see the module docstring.
Z_NEAR_RANGE = (1.5, 2.0)  # floor depth at the bottom row
Z_FAR_RANGE = (3.0, 3.5)  # floor depth at the top row
RADIUS_RANGE = (0.3, 0.55)  # footprint radius (m); pixels = S * r / z
HEIGHT_RANGE = (0.4, 0.7)  # relief of an object towards the camera (m)
DEPTH_NOISE = 0.0015  # sigma = DEPTH_NOISE * z^2 (m)
PIXEL_DROPOUT = (0.0, 0.01)  # fraction of random single-pixel holes
MAX_HOLE_BLOBS = 2  # 0 .. MAX_HOLE_BLOBS elliptic holes per image


def _profile(kind: str, d: np.ndarray) -> np.ndarray:
    """Height profile in [0, 1] at normalised footprint radius d in [0, 1]."""
    if kind == 'sphere':
        return np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0))
    if kind == 'cone':
        return 1.0 - d
    if kind == 'bowl':
        return 0.25 + 0.75 * d * d
    return np.ones_like(d)  # disc and boxes: flat top


def _albedo(kind: str, rng: np.random.Generator, u: np.ndarray,
            v: np.ndarray) -> np.ndarray:
    """Albedo (h, w, 3) of an object; u, v are object-local pixel coords."""
    jitter = rng.uniform(-0.08, 0.08, 3).astype(np.float32)
    if kind == 'red_box':
        base = RED + jitter
    elif kind == 'blue_box':
        base = BLUE + jitter
    elif kind in ('striped_box', 'checker_box'):
        c1, c2 = PALETTE[rng.choice(len(PALETTE), 2, replace=False)]
        period = rng.uniform(3.0, 5.0)
        if kind == 'striped_box':
            theta = rng.uniform(0, np.pi)
            t = u * np.cos(theta) + v * np.sin(theta)
            sel = (np.floor(t / period) % 2).astype(bool)
        else:
            sel = ((np.floor(u / period) + np.floor(v / period)) % 2
                   ).astype(bool)
        out = np.where(sel[..., None], c1, c2) + jitter
        return np.clip(out, 0, 1).astype(np.float32)
    else:  # geometry classes: one shared palette
        base = PALETTE[rng.integers(len(PALETTE))] + jitter
    base = np.clip(base, 0, 1)
    return np.broadcast_to(base, u.shape + (3, )).astype(np.float32)


def _floor(rng: np.random.Generator, size: int
           ) -> Tuple[np.ndarray, np.ndarray]:
    """Background albedo (S, S, 3) and depth (S, S) of a receding floor."""
    z_near, z_far = rng.uniform(*Z_NEAR_RANGE), rng.uniform(*Z_FAR_RANGE)
    rows = np.arange(size, dtype=np.float32)[:, None] / (size - 1)
    depth = np.broadcast_to(z_far - (z_far - z_near) * rows,
                            (size, size)).astype(np.float32).copy()
    colour = rng.uniform(0.25, 0.7, 3).astype(np.float32)
    # low-frequency texture: bilinear upsampling of a coarse random grid
    coarse = rng.normal(0, 0.06, (5, 5)).astype(np.float32)
    idx = np.linspace(0, 4, size, dtype=np.float32)
    i0 = np.clip(idx.astype(int), 0, 3)
    f = idx - i0
    rows_i = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    tex = rows_i[:, i0] * (1 - f)[None] + rows_i[:, i0 + 1] * f[None]
    albedo = np.clip(colour[None, None] + tex[..., None], 0, 1)
    return albedo.astype(np.float32), depth


def _draw_object(kind, rng, albedo, depth, label, label_id, cx, cy,
                 z_base):
    """Draw one object standing at depth ``z_base`` into the buffers.

    ``depth`` is the object z-buffer (inf where no object yet): objects stand
    in front of the floor and occlude each other by depth. Returns the
    footprint box (y0, y1, x0, x1), the radius in pixels and the footprint.
    """
    size = depth.shape[0]
    radius = size * rng.uniform(*RADIUS_RANGE) / z_base
    height = rng.uniform(*HEIGHT_RANGE)
    r_int = int(np.ceil(radius)) + 1
    y0, y1 = max(int(cy) - r_int, 0), min(int(cy) + r_int + 1, size)
    x0, x1 = max(int(cx) - r_int, 0), min(int(cx) + r_int + 1, size)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u, v = xx - cx, yy - cy
    if kind in GEOMETRY_CLASSES:
        d = np.sqrt(u * u + v * v) / radius
        inside = d <= 1.0
    else:  # square box of the same area as the disc
        half = radius * np.sqrt(np.pi) / 2
        d = np.maximum(np.abs(u), np.abs(v)) / half
        inside = d <= 1.0
    surface = z_base - height * _profile(kind, np.clip(d, 0, 1))
    win = (slice(y0, y1), slice(x0, x1))
    front = inside & (surface < depth[win])
    depth[win] = np.where(front, surface, depth[win])
    albedo[win] = np.where(front[..., None], _albedo(kind, rng, u, v),
                           albedo[win])
    label[win] = np.where(front, label_id, label[win])
    return (y0, y1, x0, x1), radius, inside


def _illuminate(albedo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Global gain, linear gradient, colour cast and noise -> uint8 RGB."""
    size = albedo.shape[0]
    gain = rng.uniform(0.6, 1.3)
    theta = rng.uniform(0, 2 * np.pi)
    grid = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    ramp = np.cos(theta) * grid[None, :] + np.sin(theta) * grid[:, None]
    light = gain * (1.0 + rng.uniform(0.0, 0.6) * ramp)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    rgb = albedo * light[..., None] * cast * 255.0
    rgb += rng.normal(0, rng.uniform(3.0, 10.0), rgb.shape)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _sensor_depth(depth: np.ndarray, footprints,
                  rng: np.random.Generator) -> np.ndarray:
    """Noise (sigma = DEPTH_NOISE z^2 m) and holes (0) of a depth sensor."""
    size = depth.shape[0]
    noisy = depth + rng.normal(0, 1, depth.shape) * DEPTH_NOISE * depth**2
    holes = rng.random(depth.shape) < rng.uniform(*PIXEL_DROPOUT)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(rng.integers(0, MAX_HOLE_BLOBS + 1)):  # blobs
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(1.5, size * 0.08, 2)
        holes |= ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1.0
    for (y0, y1, x0, x1), inside in footprints:  # shadow left of objects
        band = int(rng.integers(1, 3))
        shifted = np.zeros_like(inside)
        shifted[:, :-band] = inside[:, band:]
        shadow = shifted & ~inside
        holes[y0:y1, x0:x1] |= shadow
    noisy[holes] = 0.0
    return noisy.astype(np.float32)


def render_scene(rng: np.random.Generator, size: int,
                 kinds: List[str], centres: List[Tuple[float, float]]
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one scene.

    Args:
        rng: the random generator of this sample.
        size (int): S, the image side in pixels.
        kinds (list[str]): object classes (from ``OBJECT_CLASSES``).
        centres (list[tuple[float, float]]): (x, y) pixel centres.

    Returns:
        tuple: RGB (S, S, 3) uint8; depth (S, S) float32 metres with holes
        = 0; label (S, S) uint8 with 0 = floor and ``1 + OBJECT_CLASSES
        index`` for objects.
    """
    albedo, floor = _floor(rng, size)
    objects = np.full((size, size), np.inf, np.float32)
    label = np.zeros((size, size), np.uint8)
    footprints = []
    for kind, (cx, cy) in zip(kinds, centres):
        z_base = float(floor[int(cy), int(cx)])
        box, _, inside = _draw_object(kind, rng, albedo, objects, label,
                                      1 + OBJECT_CLASSES.index(kind), cx, cy,
                                      z_base)
        footprints.append((box, inside))
    depth = np.where(label > 0, objects, floor).astype(np.float32)
    return _illuminate(albedo, rng), _sensor_depth(depth, footprints,
                                                   rng), label
