from .combination_regularizer_head import (  # noqa: F401
    CombinationRegularizerClsHead, CombinationRegularizerSegHead)
