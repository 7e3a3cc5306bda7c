from . import cross_translation  # noqa: F401  registers the CTN block
from .combination_selection import (CombinationSelector, find_selectors,
                                    selection_state)

__all__ = ['CombinationSelector', 'find_selectors', 'selection_state']
