"""dfkd.core.modes.eval_mode: eval inside, each submodule's own mode after, even on error."""
import pytest
import torch.nn as nn

from dfkd.core.modes import eval_mode


def test_modes_restored_per_submodule_even_after_an_error():
    frozen = nn.BatchNorm1d(2).eval()
    model = nn.Sequential(nn.Linear(2, 2), frozen).train()
    frozen.eval()  # a frozen part inside a training model
    other = nn.Linear(2, 2).train()
    with pytest.raises(RuntimeError):
        with eval_mode(model, other):
            assert not any(m.training for m in (*model.modules(), other))
            raise RuntimeError("boom")
    assert model.training and model[0].training and not frozen.training and other.training
