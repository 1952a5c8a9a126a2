"""SparseDictionaryModule: sparse path = dense path = fused step, AuxK gradients, unit-norm atoms, folding, warm-up."""

import pytest
import torch

from aekit.autoencoders import SparseDictionaryModule
from aekit.autoencoders._sae_kernels import dead_latent_codes
from aekit.datasets import make_sparse_dictionary_data
from aekit.training import Trainer

D, M, K = 24, 96, 5


def _data(n=200, seed=0):
    X, _, _ = make_sparse_dictionary_data(n, D, 3 * M, 4, random_state=seed)
    return torch.from_numpy(X)


def _module(dtype=torch.float64, **options):
    options.setdefault("k", K)
    mod = SparseDictionaryModule(D, M, input_scale=0.7, b_dec=torch.linspace(-1, 1, D),
                                 generator=torch.Generator().manual_seed(0), **options).to(dtype)
    with torch.no_grad():
        mod.b_enc.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(1))
    return mod.train()


def _terms_and_grads(mod, x):
    mod.zero_grad(set_to_none=True)
    terms = mod.loss_terms(x)
    sum(terms.values()).backward()
    return {k: float(v.detach()) for k, v in terms.items()}, {n: p.grad.clone() for n, p in mod.named_parameters()}


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "matryoshka"])
def test_sparse_path_equals_dense_autograd_with_auxk(architecture):
    x = _data().double()
    results = []
    for sparse in (True, False):
        mod = _module(architecture=architecture, sparse_kernels=sparse, dead_tokens=1, auxk_k=4,
                      matryoshka_prefixes=(24, 48))
        mod.tokens_since_fired[::3] = 10  # a third of the latents are dead: AuxK is on
        results.append(_terms_and_grads(mod, x) + (mod.tokens_since_fired.clone(),))
    (t1, g1, f1), (t2, g2, f2) = results
    assert set(t1) == {"reconstruction", "auxk"} and t1 == pytest.approx(t2, rel=1e-12)
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], rtol=1e-10, atol=1e-10)
    assert torch.equal(f1, f2)


@pytest.mark.parametrize("architecture", ["topk", "batchtopk"])
def test_fused_step_equals_the_autograd_path(architecture):
    x = _data(300, seed=1)
    mod_a = _module(torch.float32, architecture=architecture, dead_tokens=1, auxk_k=4)
    mod_b = _module(torch.float32, architecture=architecture, dead_tokens=1, auxk_k=4)
    for mod in (mod_a, mod_b):
        mod.tokens_since_fired[::4] = 10
    terms_a, grads_a = _terms_and_grads(mod_a, x)
    step = mod_b.fused_step(torch.float32)
    terms_b = {k: float(v) for k, v in step(x).items()}
    assert terms_a == pytest.approx(terms_b, rel=1e-5)  # float32 sums over 300 x 24 entries
    for name, p in mod_b.named_parameters():
        scale = float(grads_a[name].abs().max())
        torch.testing.assert_close(p.grad, grads_a[name], rtol=0, atol=1e-5 * scale)
    assert torch.equal(mod_a.tokens_since_fired, mod_b.tokens_since_fired)
    if architecture == "batchtopk":
        assert float(mod_a.activation.threshold) == float(mod_b.activation.threshold) > 0
    assert _module(architecture="matryoshka").fused_step(torch.float32) is None
    assert _module(architecture="relu").fused_step(torch.float32) is None


@pytest.mark.parametrize("sparse", [True, False])
def test_auxk_gradients_match_finite_differences(sparse):
    # AuxK = alpha/n sum ||e_hat - e||^2 with the residual e = x_n - x_hat held fixed (detached): the
    # finite differences perturb the parameters in e_hat only, through the dead latents' codes and atoms
    x = _data(60, seed=2).double()
    mod = _module(architecture="topk", dead_tokens=1, auxk_k=3, auxk_coefficient=0.5, sparse_kernels=sparse)
    mod.tokens_since_fired[::2] = 10
    dead = mod.dead_mask().clone()
    xn = x * mod.input_scale
    with torch.no_grad():
        residual = xn - mod._reconstructions(codes=mod.activation.select(
            torch.nn.functional.linear(xn - mod.b_dec, mod.W_enc, mod.b_enc)))[-1]

    def auxk_fixed_residual():
        z = torch.nn.functional.linear(xn - mod.b_dec, mod.W_enc, mod.b_enc)
        e_hat = dead_latent_codes(z, dead, 3).to_dense() @ mod.W_dec
        return 0.5 * float(((e_hat - residual) ** 2).sum()) / x.shape[0]

    mod.zero_grad()
    terms = mod.loss_terms(x)
    assert float(terms["auxk"]) == pytest.approx(auxk_fixed_residual(), rel=1e-12)
    terms["auxk"].backward()
    g = torch.Generator().manual_seed(3)
    h = 1e-6
    checked = 0
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            p = getattr(mod, name)
            rows = dead.nonzero()[:, 0] if name != "b_dec" else None
            for _ in range(6):
                if rows is None:
                    i = int(torch.randint(p.numel(), (1,), generator=g))
                else:  # a dead latent's row (the others get no AuxK gradient)
                    j = int(rows[torch.randint(rows.numel(), (1,), generator=g)])
                    i = j * (p.shape[1] if p.ndim == 2 else 1) + (int(torch.randint(p.shape[1], (1,), generator=g)) if p.ndim == 2 else 0)
                flat = p.view(-1)
                old = float(flat[i])
                flat[i] = old + h
                up = auxk_fixed_residual()
                flat[i] = old - h
                down = auxk_fixed_residual()
                flat[i] = old
                fd = (up - down) / (2 * h)
                assert float(p.grad.view(-1)[i]) == pytest.approx(fd, rel=1e-6, abs=1e-8), name
                checked += abs(fd) > 1e-6
    assert checked >= 10  # most probes landed on entries that matter
    alive = ~dead
    assert float(mod.W_dec.grad[alive].abs().max()) == 0.0  # only dead atoms learn from AuxK


def test_auxk_is_off_without_dead_latents_and_dead_counts_follow_the_rows():
    x = _data(50).double()
    mod = _module(architecture="topk", dead_tokens=120)
    assert set(mod.loss_terms(x)) == {"reconstruction"}
    fired_once = mod.tokens_since_fired == 0
    assert int(fired_once.sum()) > 0 and bool((mod.tokens_since_fired[~fired_once] == 50).all())
    mod.loss_terms(x)
    mod.loss_terms(x)  # never-firing latents have now missed 150 >= 120 rows
    assert bool(mod.dead_mask().any()) and "auxk" in mod.loss_terms(x)
    mod.eval()
    before = mod.tokens_since_fired.clone()
    mod.loss_terms(x)  # evaluation does not count
    assert torch.equal(before, mod.tokens_since_fired)


def test_decoder_atoms_stay_unit_norm_and_lose_the_parallel_gradient():
    x = _data(400)
    mod = _module(torch.float32, architecture="batchtopk")
    mod.zero_grad()
    sum(mod.loss_terms(x).values()).backward()
    mod.before_optimizer_step()
    parallel = (mod.W_dec.grad * mod.W_dec).sum(dim=1)
    assert float(parallel.abs().max()) <= 1e-5 * float(mod.W_dec.grad.abs().max())
    Trainer(batch_size=64, max_epochs=2, learning_rate=1e-2, random_state=0).fit(mod, x)
    norms = torch.linalg.vector_norm(mod.W_dec.detach(), dim=1)
    torch.testing.assert_close(norms, torch.ones(M), rtol=0, atol=1e-6)  # float32 renormalization
    assert int(mod.steps) == 14  # 7 steps per epoch
    free = _module(torch.float32, architecture="relu", unit_norm_decoder=False)
    Trainer(batch_size=64, max_epochs=1, learning_rate=1e-2, random_state=0).fit(free, x)
    assert float((torch.linalg.vector_norm(free.W_dec.detach(), dim=1) - 1).abs().max()) > 1e-3


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "jumprelu", "relu"])
def test_folding_the_input_scale_keeps_reconstructions_of_raw_inputs(architecture):
    x = _data(80).double() * 5.0
    mod = _module(architecture=architecture, jumprelu_threshold=0.3)
    mod(x)  # one training batch sets BatchTopK's threshold
    mod.eval()
    before, codes_before, scale = mod.reconstruct(x), mod.features(x), float(mod.input_scale)
    mod.rescale_inputs(1.0)
    assert float(mod.input_scale) == 1.0
    torch.testing.assert_close(mod.reconstruct(x), before, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(mod.features(x), codes_before / scale, rtol=1e-12, atol=1e-10)


def test_sparsity_warmup_ramps_the_penalty_linearly():
    x = _data(40).double()
    mod = _module(architecture="relu", sparsity_coefficient=2.0, sparsity_warmup_steps=4)
    full = _module(architecture="relu", sparsity_coefficient=2.0)
    for t in range(6):
        mod.steps.fill_(t)
        ratio = float(mod.loss_terms(x)["sparsity_l1"]) / float(full.loss_terms(x)["sparsity_l1"])
        assert ratio == pytest.approx(min(1.0, (t + 1) / 4))


def test_relu_penalty_is_weighted_by_atom_norms():
    x = _data(40).double()
    mod = _module(architecture="relu", sparsity_coefficient=1.0, unit_norm_decoder=False)
    with torch.no_grad():
        mod.W_dec.mul_(3.0)
    h = torch.relu(torch.nn.functional.linear(x * mod.input_scale - mod.b_dec, mod.W_enc, mod.b_enc))
    norms = torch.linalg.vector_norm(mod.W_dec, dim=1)
    assert float((norms - 3.0).abs().max()) < 1e-6  # atoms of norm 3 (unit norm in float32, times 3)
    expected = float((h * norms).sum(dim=1).mean())
    assert float(mod.loss_terms(x)["sparsity_l1"]) == pytest.approx(expected, rel=1e-10)


def test_bad_widths_are_clear_errors():
    with pytest.raises(ValueError, match="k=200 must be between 1 and the number of latents \\(96\\)"):
        SparseDictionaryModule(D, M, k=200)
    with pytest.raises(ValueError, match="matryoshka_prefixes must be increasing"):
        SparseDictionaryModule(D, M, architecture="matryoshka", matryoshka_prefixes=(40, 20))
