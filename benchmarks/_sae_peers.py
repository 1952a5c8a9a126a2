"""Peer sparse-autoencoder training steps, timed in the peer's own environment (no aekit import).

Run by ``bench_sae_training.py --peers-python PYTHON`` in an environment where
the peer is installed (the ``bench`` extra):

    PYTHON benchmarks/_sae_peers.py sparsify ROWS.npy --threads 2 --batch 4096 --k 32 --latents 4608 [--bf16]

sparsify: its ``SparseCoder`` driven directly as its trainer drives it:
loss ``fvu + auxk_alpha * auxk_loss`` (no dead latents here, so no AuxK pass),
``torch.optim.Adam`` (fused kernel) at its default learning rate
``2e-4 / sqrt(m / 2^14)``, the decoder-parallel gradient removed before the
step and the decoder renormalized after it. Its forward enables bfloat16
autocast on CUDA only; ``--bf16`` wraps the step in CPU bfloat16 autocast, as
a user on a CPU with native bfloat16 would. Prints one JSON line with the
tokens/s of the timed steps (after two warm-up steps).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import numpy as np
import torch


def sparsify_step(d, m, k, bf16):
    from sparsify import SparseCoder, SparseCoderConfig

    torch.manual_seed(0)
    sae = SparseCoder(d, SparseCoderConfig(k=k, num_latents=m), device="cpu")
    opt = torch.optim.Adam(sae.parameters(), lr=2e-4 / (m / 2**14) ** 0.5, fused=True)
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step(x):
        with cast():
            out = sae(x)
        loss = out.fvu + out.auxk_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sae.remove_gradient_parallel_to_decoder_directions()
        opt.step()
        sae.set_decoder_norm_to_unit_norm()

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("peer", choices=["sparsify"])
    parser.add_argument("rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--latents", type=int, default=4608)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X = torch.from_numpy(np.load(args.rows))
    step = sparsify_step(X.shape[1], args.latents, args.k, args.bf16)
    B = args.batch
    step(X[:B])
    step(X[B : 2 * B])
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    t0 = clock()
    for s in range(0, X.shape[0], B):
        step(X[s : s + B])
    seconds = clock() - t0
    import sparsify

    print(json.dumps({"tokens_per_s": X.shape[0] / seconds, "version": getattr(sparsify, "__version__", "?")}))


if __name__ == "__main__":
    main()
