"""Checks of scalar options shared by several modules.

Shorthand: none (scalars only).
"""


def check_temperature(temperature, option: str) -> float:
    """``temperature`` as a float, or an error naming ``option`` if it is not
    > 0 (a softmax temperature: 0 divides by zero, < 0 inverts the ranking).

    Args:
        temperature (float): the value.
        option (str): where it was given, e.g. ``'DUCLoss.temperature'``.

    Example:
        >>> check_temperature(50, 'DUCLoss.temperature')
        50.0
        >>> check_temperature(0, 'DUCLoss.temperature')
        Traceback (most recent call last):
        ...
        ValueError: DUCLoss.temperature must be > 0, got 0
    """
    if not temperature > 0:
        raise ValueError(f'{option} must be > 0, got {temperature!r}')
    return float(temperature)
