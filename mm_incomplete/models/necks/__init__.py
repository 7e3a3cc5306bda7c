from .probabilistic_embedding import (  # noqa: F401
    GaussianEmbedding, ProbabilisticEmbedding, ProbabilisticEmbeddingNeck)
from .sequential_neck import SequentialNeck  # noqa: F401
