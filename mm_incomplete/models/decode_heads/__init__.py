from .esanet_head import (ESANetContextNeck, ESANetHead,  # noqa: F401
                          NonBottleneck1D, PyramidPoolingContext)
