from .probabilistic_embedding import (  # noqa: F401
    GaussianEmbedding, ProbabilisticEmbedding, ProbabilisticEmbeddingNeck,
    accumulate_embedding_variance)
