"""Muon, SparseAdam and Adan against the real torch.optim (2.13.0, CPU) and optax (0.2.8): every
pair at the peer's defaults and at a setting exercising each option, float64 and float32, every
stream, both loops and the long run; torch's bfloat16 Newton-Schulz bit for bit; SparseAdam on
gradients with zero entries, rows and tensors; what each convention difference costs; the command
line.

Skipped only when the ``peers`` extra (torch, jax, optax) is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
)
pytest.importorskip("optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests")

import reference as ref  # noqa: E402
from reference.cli import main  # noqa: E402
from reference.conform import NotComparable, conform, optax_peer, torch_peer  # noqa: E402
from reference.first_order.muon import orthogonalise  # noqa: E402

from .peers_helpers import check_pair_conforms  # noqa: E402

MATRICES: list[tuple[int, ...]] = [
    (3, 4),
    (5, 3),
]  # a wide and a tall matrix (torch.optim.Muon takes 2-D parameters only)
SHAPES: list[tuple[int, ...]] = [(3, 4), (5,)]
N, LONG = 20, 100


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # torch's thread pool on these 30-parameter steps costs 50-100x the step on a loaded machine.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# (framework, class or alias, constructor keywords, shapes, the reference the adapter must choose
# and the keywords of its claim that make the peer's convention, specs/<name>.md "Variants")
PAIRS: list[tuple[str, str, dict[str, Any], list[tuple[int, ...]], str, dict[str, Any]]] = [
    (
        "torch",
        "Muon",
        {},
        MATRICES,
        "muon",
        {"normalization": "clamp", "ns_dtype": "bfloat16", "non_matrix": "refuse", "weight_decay": 0.1},
    ),
    (
        "torch",
        "Muon",
        {
            "lr": 0.02,
            "weight_decay": 0.01,
            "momentum": 0.9,
            "nesterov": False,
            "ns_coefficients": (2.0, -1.5, 0.5),
            "eps": 1e-3,
            "ns_steps": 3,
            "adjust_lr_fn": "match_rms_adamw",
        },
        MATRICES,
        "muon",
        {"nesterov": False, "ns_coefficients": (2.0, -1.5, 0.5), "adjust_lr_fn": "match_rms_adamw"},
    ),
    ("torch", "SparseAdam", {}, SHAPES, "sparse_adam", {"lr": 1e-3, "eps": 1e-8}),
    (
        "torch",
        "SparseAdam",
        {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-3},
        SHAPES,
        "sparse_adam",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3},
    ),
    (
        "optax",
        "adan",
        {"learning_rate": 1e-3},
        SHAPES,
        "adan",
        {"eps_root": 1e-8, "weight_decay_form": "decoupled", "diff_weight": "one_minus_beta2"},
    ),
    (
        "optax",
        "adan",
        {
            "learning_rate": 1e-2,
            "b1": 0.9,
            "b2": 0.8,
            "b3": 0.95,
            "eps": 1e-6,
            "eps_root": 0.0,
            "weight_decay": 0.1,
        },
        SHAPES,
        "adan",
        {"beta2": 0.8, "eps_root": 0.0, "weight_decay": 0.1, "diff_weight": "one_minus_beta2"},
    ),
]


def _id(pair: tuple[Any, ...]) -> str:
    return f"{pair[0]}.{pair[1]}(" + ",".join(f"{k}={v}" for k, v in pair[2].items()) + ")"


def _peer(pair: tuple[Any, ...], dtype: str) -> Any:
    fw, name, hp, shapes, _, _ = pair
    make = torch_peer if fw == "torch" else optax_peer
    return make(name, shapes, dtype=dtype, **hp)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", PAIRS, ids=_id)
def test_pair_conforms_all_streams_both_loops(pair: tuple[Any, ...], dtype: str) -> None:
    claim, _ = check_pair_conforms(_peer(pair, dtype), pair[4], pair[5], dtype, n_steps=N, long_steps=LONG)
    if dtype == "float32" and pair[1] == "Muon":  # torch's float32 momentum, rounded as torch rounds it
        assert claim["momentum_dtype"] == "float32"


def test_bfloat16_newton_schulz_is_torchs_bit_for_bit() -> None:
    from torch.optim._muon import _zeropower_via_newtonschulz

    rng = np.random.default_rng(7)
    for i in range(300):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=2))
        G = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 1)
        coeffs = (3.4445, -4.775, 2.0315) if i % 2 else (2.0, -1.5, 0.5)
        want = _zeropower_via_newtonschulz(torch.tensor(G), coeffs, 5, 1e-7).to(torch.float64).numpy()
        got = orthogonalise(G, coeffs, 5, 1e-7, "clamp", "bfloat16")
        np.testing.assert_array_equal(got, want, err_msg=str(shape))


def test_float64_to_bfloat16_rounds_through_float32_like_torch() -> None:
    # Found by seed 2's `large` stream: torch's float64 -> bfloat16 conversion rounds twice.
    from reference.first_order.muon import _bf16

    x = np.random.default_rng(1).standard_normal(200_000) * 10.0 ** np.random.default_rng(2).uniform(
        -5, 7, 200_000
    )
    want = torch.tensor(x).bfloat16().to(torch.float64).numpy()
    np.testing.assert_array_equal(_bf16(x).astype(np.float64), want)


def test_float32_lerp_is_torchs_fused_kernel() -> None:
    from reference.first_order.muon import _lerp

    rng = np.random.default_rng(5)
    for n in (5, 12, 20, 64):
        a = rng.standard_normal(n).astype(np.float32).astype(np.float64)
        b = rng.standard_normal(n).astype(np.float32).astype(np.float64)
        for w in (0.05, 0.95, 0.3, 0.7):
            want = torch.tensor(a, dtype=torch.float32).lerp(torch.tensor(b, dtype=torch.float32), w)
            np.testing.assert_array_equal(_lerp(a, b, w, "float32"), want.to(torch.float64).numpy())


def test_gram_matrix_sums_in_order_like_torchs_transposed_kernel() -> None:
    # U of step 884 of `optref conform torch.optim.Muon --shapes 3x4,4x5` (normal stream, seed 0):
    # at the fourth iteration an entry of X X^T (K = 5 products) rounds to another bfloat16 when
    # summed in four partial sums instead of in order; torch's X @ X.T sums in order.
    from torch.optim._muon import _zeropower_via_newtonschulz

    U = np.array(
        [
            [
                0.3499429744312351,
                0.046394061219930706,
                0.05423934803681637,
                0.16355265778785552,
                0.08391724525963447,
            ],
            [
                -0.15792336617948627,
                -0.10410861443774269,
                0.24264191970390936,
                -0.03857220099465216,
                -0.00237820106137402,
            ],
            [
                0.1304666270530927,
                -0.09373157657758396,
                -0.16523622909199204,
                -0.03936173526841887,
                0.28743612026642423,
            ],
            [
                0.5395118673536637,
                -0.1825920224829817,
                -0.21134464997547406,
                -0.01066626495985136,
                0.24588757839616943,
            ],
        ]
    )
    coeffs = (3.4445, -4.775, 2.0315)
    want = _zeropower_via_newtonschulz(torch.tensor(U), coeffs, 5, 1e-7).to(torch.float64).numpy()
    np.testing.assert_array_equal(orthogonalise(U, coeffs, 5, 1e-7, "clamp", "bfloat16"), want)


def _one_stream(peer: Any, reference: Any, n: int = N) -> Any:
    return conform(peer, reference=reference, n_steps=n, streams=["normal"], long_steps=0, diagnose=False)


def test_torch_muon_needs_the_bfloat16_iteration() -> None:
    peer = torch_peer("Muon", MATRICES)
    exact = ref.muon(normalization="clamp", shapes=tuple(MATRICES), non_matrix="refuse")
    report = _one_stream(peer, exact)
    assert not report.passed and report.worst.max_ulps > 1e6


def test_torch_muon_is_the_clamp_form() -> None:
    # At eps = 1e-2 against ||U|| ~ 0.1-1, U/(||U|| + eps) and U/max(||U||, eps) differ by 1-10 %.
    peer = torch_peer("Muon", MATRICES, eps=1e-2)
    add = ref.muon(eps=1e-2, ns_dtype="bfloat16", shapes=tuple(MATRICES), non_matrix="refuse")
    assert not _one_stream(peer, add).passed


def test_torch_muon_refuses_vectors_and_the_reference_can_too() -> None:
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch_peer("Muon", [(3, 4), (5,)])
    with pytest.raises(ValueError, match="non_matrix='refuse'"):
        ref.muon(shapes=((3, 4), (5,)), non_matrix="refuse").init(np.zeros(17))


def _zero_pattern_stream(seed: int, n: int) -> list[np.ndarray]:
    """Gradients over SHAPES with zero entries, zero rows of the matrix and a whole zero tensor."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        W, b = rng.standard_normal((3, 4)), rng.standard_normal(5)
        W[t % 3] = 0.0  # a zero row
        W[rng.random((3, 4)) < 0.2] = 0.0  # scattered zero entries
        b[rng.random(5) < 0.3] = -0.0
        if t % 4 == 3:
            b[:] = 0.0  # the whole vector absent: its count still advances
        out.append(np.concatenate([W.ravel(), b]))
    return out


def test_sparse_adam_on_zero_rows_and_tensors_is_exact_in_float64() -> None:
    gs = _zero_pattern_stream(11, 40)
    x0 = np.random.default_rng(12).standard_normal(17)
    peer = torch_peer("SparseAdam", SHAPES, lr=1e-2)
    peer.start(x0)
    opt = ref.sparse_adam(1e-2)
    s = opt.init(x0)
    for g in gs:
        got = peer.step(g)
        s = opt.step(s, g)
        np.testing.assert_array_equal(got, s.params)
    adam = torch_peer("Adam", SHAPES, lr=1e-2)  # dense Adam moves where g_i = 0: another method
    adam.start(x0)
    last = [adam.step(g) for g in gs][-1]
    assert np.max(np.abs(last - s.params)) > 1e-3


def test_optax_adan_is_not_the_papers_difference_weight() -> None:
    peer = optax_peer("adan", SHAPES, learning_rate=1e-2)
    paper = ref.adan(1e-2, eps_root=1e-8, weight_decay_form="decoupled")
    report = _one_stream(peer, paper)
    assert not report.passed and report.worst.first_fail == 2  # step 1 agrees: d_1 = 0


def test_refused_configurations_say_why() -> None:
    with pytest.raises(NotComparable, match=r"optax.adan\(mask="):
        optax_peer("adan", learning_rate=1e-3, mask=lambda p: p)
    with pytest.raises(NotComparable, match="weight-decay schedule"):
        optax_peer("adan", learning_rate=1e-3, weight_decay=lambda t: 1e-4)
    with pytest.raises(NotComparable, match="maximize=True"):
        torch_peer("SparseAdam", maximize=True)


@pytest.mark.parametrize(
    ("argv", "algo"),
    [
        (["torch.optim.Muon", "--shapes", "3x4,4x5"], "muon"),
        (["torch.optim.SparseAdam"], "sparse_adam"),
        (["optax.adan", "--hp", "learning_rate=1e-3"], "adan"),
    ],
)
def test_command_line_exits_0(argv: list[str], algo: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", *argv, "--steps", "10", "--long-steps", "50", "--plot", ""]) == 0
    assert f"ref.{algo}(" in capsys.readouterr().out


def test_command_line_muon_on_a_vector_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["conform", "torch.optim.Muon", "--steps", "5", "--plot", ""])  # default shapes 3x4,5
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "2D" in err


def test_sparse_adam_rows_is_torch_on_row_sparse_gradients() -> None:
    # nn.Embedding(sparse=True)'s layout: grad.to_sparse(sparse_dim=1) stores whole rows, zeros
    # included; presence="rows" is that rule on the dense gradient.
    gs = _zero_pattern_stream(13, 40)
    x0 = np.random.default_rng(14).standard_normal(17)
    W = torch.tensor(x0[:12].reshape(3, 4).copy(), requires_grad=True)
    b = torch.tensor(x0[12:].copy(), requires_grad=True)
    opt = torch.optim.SparseAdam([W, b], lr=1e-2)
    rows = ref.sparse_adam(1e-2, presence="rows", shapes=tuple(SHAPES))
    entries = ref.sparse_adam(1e-2)
    s, e = rows.init(x0), entries.init(x0)
    worst = 0.0
    for g in gs:
        W.grad = torch.tensor(g[:12].reshape(3, 4)).to_sparse(1)
        b.grad = torch.tensor(g[12:]).to_sparse(1)
        opt.step()
        s, e = rows.step(s, g), entries.step(e, g)
        got = np.concatenate([W.detach().numpy().ravel(), b.detach().numpy()])
        worst = max(
            worst, float(np.max(np.abs(got - s.params))) / (np.finfo(float).eps * np.max(np.abs(got)))
        )
    assert worst <= 2.0, worst  # ulps of max|theta| (the hybrid sparse add rounds once differently)
    assert np.max(np.abs(e.params - s.params)) > 1e-4  # the entry rule is another method here
