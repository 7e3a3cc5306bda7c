from .combination_selection import CombinationSelector, find_selectors

__all__ = ['CombinationSelector', 'find_selectors']
