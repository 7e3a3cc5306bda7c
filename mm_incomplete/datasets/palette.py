"""Deterministic class palettes: K classes -> K x 3 RGB triples."""
from typing import List


def bit_palette(num_classes: int) -> List[List[int]]:
    """The PASCAL VOC bit-interleaving colour map, skipping its black entry.

    Entry k is the VOC colour of index k + 1, so every class gets a distinct,
    non-black colour (black is left for ignored pixels).

    Example:
        >>> bit_palette(2)
        [[128, 0, 0], [0, 128, 0]]
    """
    out = []
    for index in range(1, num_classes + 1):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        out.append([r, g, b])
    return out
