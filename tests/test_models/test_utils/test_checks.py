"""The softmax-temperature check lives once, and every user goes through it."""
import math

import pytest

from mm_incomplete.models.late_fusion import decisions
from mm_incomplete.models.methods import duc_loss
from mm_incomplete.models.utils.checks import check_temperature


@pytest.mark.parametrize('bad', [0, -1.0, math.nan])
def test_check_temperature_rejects_and_names_the_option(bad):
    with pytest.raises(ValueError, match=r'^X\.temperature must be > 0'):
        check_temperature(bad, 'X.temperature')
    assert check_temperature(3, 'X.temperature') == 3.0


@pytest.mark.parametrize('build, option', [
    (lambda: duc_loss.DUCLoss(dict(rgb=3, depth=1), feat_dim=4,
                              temperature=7), 'DUCLoss.temperature'),
    (lambda: decisions.CertaintyWeightedDecision(['rgb'], temperature=7),
     'CertaintyWeightedDecision.temperature'),
    (lambda: decisions.UncertaintyWeightedDecision(['rgb'], temperature=7),
     'UncertaintyWeightedDecision.temperature'),
])
def test_every_temperature_goes_through_the_one_check(build, option,
                                                      monkeypatch):
    seen = []

    def spy(value, where):
        seen.append((value, where))
        return check_temperature(value, where)

    monkeypatch.setattr(duc_loss, 'check_temperature', spy)
    monkeypatch.setattr(decisions, 'check_temperature', spy)
    assert build().temperature == 7.0
    assert seen == [(7, option)]
