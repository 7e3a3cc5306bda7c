from .esanet_context_neck import (ESANetContextNeck,  # noqa: F401
                                  PyramidPoolingContext)
from .probabilistic_embedding import (  # noqa: F401
    GaussianEmbedding, ProbabilisticEmbedding, ProbabilisticEmbeddingNeck)
from .sequential_neck import SequentialNeck  # noqa: F401
