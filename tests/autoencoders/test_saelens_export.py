"""Export to SAELens's folder format: the files, SAELens's documented forward on them, and (slow) SAELens itself.

The slow round trip runs where ``sae_lens`` imports, or in the interpreter named
by ``AEKIT_PEERS_PYTHON`` (a separate environment with sae-lens installed);
otherwise it is skipped with the reason.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aekit.autoencoders import SparseDictionary, export_saelens
from aekit.datasets import make_sparse_dictionary_data

FAST = dict(k=3, batch_size=128, max_epochs=2, learning_rate=3e-3, warmup_steps=2, random_state=0)
ARCHITECTURES = ["topk", "batchtopk", "relu", "jumprelu", "matryoshka"]


@pytest.fixture(scope="module")
def X():
    X, _, _ = make_sparse_dictionary_data(600, 16, 40, 3, random_state=1)
    return X * 4.0 + 1.0


def _saelens_forward(folder, x):
    """SAELens's inference forward (as documented in aekit.autoencoders._saelens) on the exported files."""
    cfg = json.loads((folder / "cfg.json").read_text())
    w = {k: v.double() for k, v in load_file(str(folder / "sae_weights.safetensors")).items()}
    pre = (torch.as_tensor(x, dtype=torch.float64) - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    if cfg["architecture"] == "topk":
        values, idx = torch.topk(pre, cfg["k"], dim=1)
        h = torch.zeros_like(pre).scatter(1, idx, torch.relu(values))
    elif cfg["architecture"] == "jumprelu":
        h = torch.relu(pre) * (pre > w["threshold"])
    else:
        h = torch.relu(pre)
    return h.numpy(), (h @ w["W_dec"] + w["b_dec"]).numpy()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_exported_files_reproduce_the_estimator(X, tmp_path, architecture):
    est = SparseDictionary(32, architecture=architecture, **FAST).fit(X)
    folder = export_saelens(est, tmp_path / "sae", model_name="toy", hook_name="blocks.0.hook_resid_post")
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["d_in"] == 16 and cfg["d_sae"] == 32 and cfg["normalize_activations"] == "none"
    assert cfg["metadata"]["hook_name"] == "blocks.0.hook_resid_post"
    weights = load_file(str(folder / "sae_weights.safetensors"))
    assert weights["W_enc"].shape == (16, 32) and weights["W_dec"].shape == (32, 16)
    h, x_hat = _saelens_forward(folder, X)
    np.testing.assert_allclose(h, est.transform(X), rtol=1e-4, atol=1e-4)  # float32 weights, |x| ~ 5
    np.testing.assert_allclose(x_hat, est.inverse_transform(est.transform(X)), rtol=1e-4, atol=1e-4)


def _peers_python():
    try:
        import sae_lens  # noqa: F401

        return sys.executable
    except ImportError:
        return os.environ.get("AEKIT_PEERS_PYTHON")


ROUND_TRIP = r"""
import sys
import numpy as np
import torch
import sae_lens
from sae_lens import SAE

folder, data, out = sys.argv[1:4]
sae = SAE.load_from_disk(folder)
x = torch.from_numpy(np.load(data))
with torch.no_grad():
    h = sae.encode(x)
    np.save(out, np.stack([h.numpy()]))
    np.save(out + ".recon.npy", sae.decode(h).numpy())
print(type(sae).__name__, sae_lens.__version__)
"""


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_sae_lens_loads_the_export(X, tmp_path, architecture):
    python = _peers_python()
    if python is None:
        pytest.skip("sae-lens is not importable here; set AEKIT_PEERS_PYTHON to an interpreter that has it")
    est = SparseDictionary(32, architecture=architecture, **FAST).fit(X)
    folder = export_saelens(est, tmp_path / "sae")
    np.save(tmp_path / "x.npy", X[:200])
    script = tmp_path / "round_trip.py"
    script.write_text(ROUND_TRIP)
    done = subprocess.run([python, str(script), str(folder), str(tmp_path / "x.npy"), str(tmp_path / "h.npy")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    h = np.load(tmp_path / "h.npy")[0]
    np.testing.assert_allclose(h, est.transform(X[:200]), rtol=1e-4, atol=1e-4)
    recon = np.load(str(tmp_path / "h.npy") + ".recon.npy")
    np.testing.assert_allclose(recon, est.inverse_transform(est.transform(X[:200])), rtol=1e-4, atol=1e-4)
