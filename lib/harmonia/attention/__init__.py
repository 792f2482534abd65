r"""Layer 2: spatial attention with a rotated rectangle (CRAM, chapter 16) and its position-wise baseline.

- :mod:`~harmonia.attention.mask` -- pixel coordinates, the soft rotated-rectangle mask (exact area
  :math:`4s_xs_y`), its hard limit and its corners;
- :mod:`~harmonia.attention.modules` -- the two parameter heads (moments of a saliency map, squashed regression),
  :class:`RectangularAttention` (CRAM), CBAM's spatial and channel gates, the area prior for :func:`harmonia.nn.fit`;
- :mod:`~harmonia.attention.localisation` -- pointing game, IoU and mass of a map in a ground-truth box, compactness,
  exact IoU of two rotated rectangles.
"""

from harmonia.attention.localisation import (
    box_raster,
    largest_component_fraction,
    map_box_iou,
    mass_in_box,
    normalised_to_pixels,
    peak_location,
    pointing_game,
    polygon_area,
    rotated_iou,
    upsample_map,
)
from harmonia.attention.mask import (
    KINDS,
    boxcar,
    pixel_spacing,
    rect_coords,
    rect_frame,
    rect_indicator,
    rect_mask,
    rect_mask_derivative,
    rectangle_polygon,
)
from harmonia.attention.modules import (
    CBAMChannelGate,
    CBAMSpatialGate,
    RectangularAttention,
    area_penalty_closure,
    params_from_raw,
    params_from_saliency,
)

__all__ = [
    "KINDS", "boxcar", "pixel_spacing", "rect_coords", "rect_frame", "rect_indicator", "rect_mask", "rect_mask_derivative",
    "rectangle_polygon",
    "params_from_saliency", "params_from_raw", "RectangularAttention", "CBAMSpatialGate", "CBAMChannelGate",
    "area_penalty_closure",
    "upsample_map", "box_raster", "normalised_to_pixels", "peak_location", "pointing_game", "map_box_iou", "mass_in_box",
    "largest_component_fraction", "polygon_area", "rotated_iou",
]
