from .esanet_head import (ESANetHead, NonBottleneck1D,  # noqa: F401
                          Upsample2x)
