"""The fast path (bfloat16 autocast, fused optimizers, flushed denormals) and where the data lives."""

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import aekit.training._data as data_module
from aekit.training import TrainableModule, Trainer
from aekit.training._data import StreamedBatches
from aekit.training._trainer import bf16_supported

# bfloat16 autocast may move the final training loss by at most this fraction of the float32 run's.
BF16_RTOL = 0.01


class SigmoidAE(TrainableModule):
    """64-32-64 sigmoid autoencoder with cross-entropy, on 8x8 digits."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(32, 64, generator=g) * 0.1)
        self.b = nn.Parameter(torch.zeros(32))
        self.V = nn.Parameter(torch.randn(64, 32, generator=g) * 0.1)
        self.c = nn.Parameter(torch.zeros(64))
        self.flush_seen = None

    def loss_terms(self, x, generator=None):
        if self.flush_seen is None:  # denormals flushed while training?
            self.flush_seen = torch.tensor([1e-40]).mul(1.0).item() == 0.0
        h = torch.sigmoid(nn.functional.linear(x, self.W, self.b))
        logits = nn.functional.linear(h, self.V, self.c)
        ce = nn.functional.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum") / x.shape[0]
        return {"reconstruction": ce, "weight_decay": 1e-4 * (self.W.square().sum() + self.V.square().sum())}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one intra-op thread is faster


@pytest.fixture(scope="module")
def digits():
    return torch.from_numpy(load_digits().data.astype("float32") / 16.0)


def _fit(digits, **options):
    module = SigmoidAE()
    history = Trainer(batch_size=64, max_epochs=15, learning_rate=3e-3, random_state=0, verbose=False, **options).fit(
        module, digits
    )
    return module, history


@pytest.mark.skipif(not bf16_supported(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_bfloat16_autocast_stays_within_the_stated_tolerance_of_float32(digits):
    m32, h32 = _fit(digits, precision="float32")
    m16, h16 = _fit(digits, precision="bfloat16")
    _, hauto = _fit(digits, precision="auto")
    assert h16[-1]["loss"] == pytest.approx(h32[-1]["loss"], rel=BF16_RTOL)
    assert h16[-1]["loss"] < 0.75 * h16[0]["loss"]  # and it does train
    # "auto" keeps float32 for a model this small (AUTO_BFLOAT16_MIN_WEIGHTS), bfloat16 or not
    assert [r["loss"] for r in hauto] == [r["loss"] for r in h32]
    assert m16.W.dtype == torch.float32  # weights and optimizer state stay float32
    assert h16 != h32


def test_bfloat16_is_refused_where_unsupported(digits, monkeypatch):
    monkeypatch.setattr("aekit.training._trainer.bf16_supported", lambda device: False)
    with pytest.raises(ValueError, match="no native bfloat16 support; use precision='float32' or 'auto'"):
        _fit(digits, precision="bfloat16")
    _, h = _fit(digits[:100], precision="auto")  # auto falls back to float32
    _, h32 = _fit(digits[:100], precision="float32")
    assert [r["loss"] for r in h] == [r["loss"] for r in h32]


def test_denormals_are_flushed_while_training_and_the_mode_restored(digits):
    torch.set_flush_denormal(False)
    module, _ = _fit(digits[:64])
    assert module.flush_seen is True
    assert torch.tensor([1e-40]).mul(1.0).item() != 0.0  # restored: off again
    torch.set_flush_denormal(True)
    try:
        module, _ = _fit(digits[:64], flush_denormal=False)
        assert module.flush_seen is True  # left as the caller set it
        assert torch.tensor([1e-40]).mul(1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
    module, _ = _fit(digits[:64], flush_denormal=False)
    assert module.flush_seen is False


def test_streamed_batches_give_the_same_run_as_data_on_the_device(digits, monkeypatch):
    m_dev, h_dev = _fit(digits)
    monkeypatch.setattr(data_module, "fits_on_device", lambda data, device: False)
    placed = data_module.place_data((digits,), torch.device("cpu"), 64)
    assert isinstance(placed, StreamedBatches)
    m_str, h_str = _fit(digits)
    for a, b in zip(m_dev.parameters(), m_str.parameters()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in h_dev] == [r["loss"] for r in h_str]


def test_streamed_batches_never_hand_out_a_buffer_they_refill():
    X = torch.arange(40, dtype=torch.float32).reshape(20, 2)
    source = StreamedBatches((X,), torch.device("cpu"), batch_size=4)
    first = source.gather(torch.tensor([0, 1, 2, 3]))[0]
    source.gather(torch.tensor([4, 5, 6, 7]))
    source.gather(torch.tensor([8, 9]))  # reuses the first staging buffer
    assert torch.equal(first, X[:4])


def test_data_on_a_gpu_is_kept_within_the_memory_budget(monkeypatch):
    # the rule, without a GPU: data fits when it takes at most DEVICE_MEMORY_FRACTION of the free memory
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    small, big = (torch.zeros(125),), (torch.zeros(126),)  # 500 and 504 bytes against a budget of 500
    cuda = torch.device("cuda")
    assert data_module.fits_on_device(small, cuda)
    assert not data_module.fits_on_device(big, cuda)
    assert data_module.fits_on_device(big, torch.device("cpu"))


def test_fused_optimizers_are_used_on_the_cpu(digits):
    from aekit.training._optimizers import OPTIMIZERS

    params = list(SigmoidAE().parameters())
    for name in ("adam", "sgd"):
        opt = OPTIMIZERS[name](params, Trainer(optimizer=name))
        assert opt.defaults["fused"] is True


@pytest.mark.slow  # torch.compile spends 10-60 s compiling on the CPU
def test_compiled_training_matches_eager_within_float_tolerance(digits):
    _, eager = _fit(digits, precision="float32")
    _, compiled = _fit(digits, precision="float32", compile=True)
    assert compiled[-1]["loss"] == pytest.approx(eager[-1]["loss"], rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_cuda_training_matches_the_cpu_run(digits, precision):
    m_cpu, h_cpu = _fit(digits, precision="float32")
    m_gpu, h_gpu = _fit(digits, precision=precision, device="cuda")
    assert m_gpu.W.device.type == "cuda"
    # the same permutations (drawn on the CPU); kernels differ, so a float tolerance
    assert h_gpu[-1]["loss"] == pytest.approx(h_cpu[-1]["loss"], rel=BF16_RTOL)
    m_again, h_again = _fit(digits, precision=precision, device="cuda")
    assert [r["loss"] for r in h_again] == [r["loss"] for r in h_gpu]
