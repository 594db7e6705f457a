import pytest
import torch

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.replay import ReplayBuffer


def batch(start, n=4):
    ids = torch.arange(start, start + n, dtype=torch.float32)
    return ids.view(n, 1, 1, 1).expand(n, 1, 2, 2).clone(), ids.view(n, 1).repeat(1, 3)


def stored_ids(buf):
    return sorted(buf.images[: len(buf), 0, 0, 0].long().tolist())


def test_fifo_keeps_newest_and_stays_bounded():
    buf = ReplayBuffer(6, "fifo")
    for start in (0, 4, 8):
        buf.add(*batch(start))
    assert len(buf) == 6
    assert stored_ids(buf) == [6, 7, 8, 9, 10, 11]
    assert buf.images.shape == (6, 1, 2, 2)  # memory allocated once, never grows


def test_logits_travel_with_their_images():
    buf = ReplayBuffer(5, "reservoir")
    torch.manual_seed(0)
    for start in range(0, 40, 4):
        buf.add(*batch(start))
    images, logits = buf.sample(50)
    assert torch.equal(images[:, 0, 0, 0], logits[:, 0])


def test_reservoir_keeps_a_uniform_sample_of_everything_seen():
    torch.manual_seed(0)
    hits = torch.zeros(40)
    for trial in range(300):
        buf = ReplayBuffer(10, "reservoir")
        for start in range(0, 40, 8):
            buf.add(*batch(start, 8))
        assert len(buf) == 10 and len(set(stored_ids(buf))) == 10
        hits[stored_ids(buf)] += 1
    # each of the 40 samples is kept with probability 10/40: early ones as often as late ones
    assert hits[:20].sum() / hits.sum() == pytest.approx(0.5, abs=0.05)
    assert hits.min() > 0


def test_state_round_trip():
    buf = ReplayBuffer(6, "fifo")
    buf.add(*batch(0))
    buf.add(*batch(4))
    other = ReplayBuffer(6, "fifo")
    other.load_state_dict(buf.state_dict())
    assert len(other) == 6 and other.seen == 8
    assert torch.equal(other.images, buf.images) and torch.equal(other.logits, buf.logits)
    other.add(*batch(8))
    buf.add(*batch(8))
    assert torch.equal(other.images, buf.images)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="policy"):
        ReplayBuffer(4, "lifo")
    with pytest.raises(ConfigError, match="capacity"):
        ReplayBuffer(0)
    state = ReplayBuffer(4).state_dict()
    with pytest.raises(ConfigError, match="capacity 4"):
        ReplayBuffer(8).load_state_dict(state)
