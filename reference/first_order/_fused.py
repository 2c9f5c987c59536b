r"""Fused, differentiable building blocks of the first-order steps (issue 13 item 1).

Each primitive is one line of math with two implementations:

* its *literal form* (``LITERAL[name]``), the ``autograd.numpy`` expression the steps used to
  write, which defines the result and, through autograd, the derivatives;
* a *fused* evaluation that performs exactly the literal form's floating-point operations, in the
  same order and on the same operands, but block by block (``BLOCK`` elements at a time, so the
  intermediates stay in cache) into ONE fresh output array: no input is ever written, only
  arrays the primitive itself just allocated. Elementwise IEEE operations (+, -, *, /, sqrt)
  are correctly rounded, so the result is bit-identical to the literal form
  (tests/test_fused.py checks it with ``np.array_equal`` on random and edge-case inputs).

    ema(old, new, beta)                       = beta old + (1 - beta) new
    ema_sq(old, new, beta)                    = beta old + (1 - beta) new new      ((1-beta) new) new
    accumulate(old, new, beta)                = beta old + new
    descend(theta, eta, u)                    = theta - eta u
    lookahead_descend(theta, v, g, beta, eta) = (theta + beta v) - eta g
    velocity(v, g, beta, eta)                 = beta v - eta g
    nesterov_update(theta, g, b, eta, beta)   = theta - eta (g + beta b)
    adam_update(theta, m, v, eta, bc1, bc2, eps) = theta + ((-eta) (m / bc1)) / (sqrt(v / bc2) + eps)
    rms_update(theta, g, v, eta, eps)         = theta + (-eta) (g / (sqrt(v) + eps))

(theta + (-eta) x is theta - eta x bit for bit: -(eta x) is exact and a + (-b) = a - b; see
specs/notation.md 'Speed'.) The fused path is taken when every array argument is a float64
``ndarray`` of one shape, of at least ``FUSE_MIN`` elements, and every scalar is a real scalar;
anything else (small arrays, which fit in cache anyway, broadcasting, other dtypes) evaluates the
literal form itself, so the result never depends on the path.

Derivatives: each primitive is registered with autograd (``autograd.extend.primitive``) and its
vector-Jacobian products, for every argument that can carry a box (arrays, beta, eta, the bias
corrections, eps), are those of the literal form, obtained by differentiating ``LITERAL[name]``
with autograd when the backward pass runs. Hypergradients through the fused steps are therefore
the literal steps' hypergradients (and higher derivatives work, as autograd nests).

Memory: the "one fresh output array" comes from a buffer pool (``_Pool``): an array the pool handed
out earlier and that nothing but the pool references any more, or a new one. No array anyone can
reach is ever written, so steps stay pure; the pool costs up to ``POOL_BYTES`` held after use
(``set_buffer_pool``; specs/notation.md 'Speed').
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.core import defvjp_argnums, make_vjp
from autograd.extend import primitive

from .._types import Array

#: elements per block: 1 MiB of float64 per operand, so the up to six operands of a block (inputs,
#: output, scratch) stay in cache between its operations while the per-block call overhead stays
#: small. Measured on the 2-core EPYC (1 MiB L2, 32 MiB L3): 2^17 beat 2^15 and 2^13 by 5-25 %
#: at p = 10^6 and 10^7 (descend, adam_update; the result does not depend on it).
BLOCK = 1 << 17

#: arrays smaller than this (256 KiB of float64) fit in cache: the primitive evaluates the literal
#: form directly (same result), which costs less per call than the block loop.
FUSE_MIN = 1 << 15

Scalar = Any  # a float, a numpy scalar or a 0-d array (possibly an autograd box outside the primitive)


# ----------------------------------------------------------------------------------------------
# Literal forms: the definitions (and the derivatives)


def ema_literal(old: Array, new: Array, beta: Scalar) -> Any:
    return beta * old + (1 - beta) * new


def ema_sq_literal(old: Array, new: Array, beta: Scalar) -> Any:
    return beta * old + (1 - beta) * new * new


def accumulate_literal(old: Array, new: Array, beta: Scalar) -> Any:
    return beta * old + new


def descend_literal(theta: Array, eta: Scalar, u: Array) -> Any:
    return theta - eta * u


def lookahead_descend_literal(theta: Array, v: Array, g: Array, beta: Scalar, eta: Scalar) -> Any:
    return theta + beta * v - eta * g


def velocity_literal(v: Array, g: Array, beta: Scalar, eta: Scalar) -> Any:
    return beta * v - eta * g


def nesterov_update_literal(theta: Array, g: Array, b: Array, eta: Scalar, beta: Scalar) -> Any:
    return theta - eta * (g + beta * b)


def adam_update_literal(
    theta: Array, m: Array, v: Array, eta: Scalar, bc1: Scalar, bc2: Scalar, eps: Scalar
) -> Any:
    return theta + (-eta) * (m / bc1) / (anp.sqrt(v / bc2) + eps)


def rms_update_literal(theta: Array, g: Array, v: Array, eta: Scalar, eps: Scalar) -> Any:
    return theta + (-eta) * (g / (anp.sqrt(v) + eps))


# ----------------------------------------------------------------------------------------------
# Block kernels: the literal form's operations, in its order, written into ``o`` (the output
# block) and ``t`` (a scratch block); inputs are only read.


def _ema_k(o: Array, t: Array, old: Array, new: Array, beta: Scalar) -> None:
    np.multiply(beta, old, out=o)
    np.multiply(1 - beta, new, out=t)
    np.add(o, t, out=o)


def _ema_sq_k(o: Array, t: Array, old: Array, new: Array, beta: Scalar) -> None:
    np.multiply(beta, old, out=o)
    np.multiply(1 - beta, new, out=t)
    np.multiply(t, new, out=t)
    np.add(o, t, out=o)


def _accumulate_k(o: Array, t: Array, old: Array, new: Array, beta: Scalar) -> None:
    np.multiply(beta, old, out=o)
    np.add(o, new, out=o)


def _descend_k(o: Array, t: Array, theta: Array, u: Array, eta: Scalar) -> None:
    np.multiply(eta, u, out=t)
    np.subtract(theta, t, out=o)


def _lookahead_descend_k(
    o: Array, t: Array, theta: Array, v: Array, g: Array, beta: Scalar, eta: Scalar
) -> None:
    np.multiply(beta, v, out=t)
    np.add(theta, t, out=o)  # q = theta + beta v
    np.multiply(eta, g, out=t)
    np.subtract(o, t, out=o)


def _velocity_k(o: Array, t: Array, v: Array, g: Array, beta: Scalar, eta: Scalar) -> None:
    np.multiply(beta, v, out=o)
    np.multiply(eta, g, out=t)
    np.subtract(o, t, out=o)


def _nesterov_update_k(
    o: Array, t: Array, theta: Array, g: Array, b: Array, eta: Scalar, beta: Scalar
) -> None:
    np.multiply(beta, b, out=t)
    np.add(g, t, out=t)
    np.multiply(eta, t, out=t)
    np.subtract(theta, t, out=o)


def _adam_update_k(
    o: Array,
    t: Array,
    t2: Array,
    theta: Array,
    m: Array,
    v: Array,
    eta: Scalar,
    bc1: Scalar,
    bc2: Scalar,
    eps: Scalar,
) -> None:
    np.divide(m, bc1, out=t2)  # mhat
    np.multiply(-eta, t2, out=t2)  # (-eta) mhat
    np.divide(v, bc2, out=t)  # vhat
    np.sqrt(t, out=t)
    np.add(t, eps, out=t)  # sqrt(vhat) + eps
    np.divide(t2, t, out=t)
    np.add(theta, t, out=o)


def _rms_update_k(o: Array, t: Array, theta: Array, g: Array, v: Array, eta: Scalar, eps: Scalar) -> None:
    np.sqrt(v, out=t)
    np.add(t, eps, out=t)  # d = sqrt(v) + eps
    np.divide(g, t, out=t)  # g / d
    np.multiply(-eta, t, out=t)
    np.add(theta, t, out=o)


# ----------------------------------------------------------------------------------------------
# The driver and the registration with autograd


def _fusable(arrays: tuple[Any, ...], scalars: tuple[Any, ...]) -> bool:
    """Every array a float64 ndarray of one shape, every scalar a real scalar."""
    shape = arrays[0].shape if isinstance(arrays[0], np.ndarray) else None
    return all(
        isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == shape for a in arrays
    ) and all(
        type(s) is float or (np.ndim(s) == 0 and np.result_type(s, np.float64) == np.float64) for s in scalars
    )


class _Pool:
    """The fused primitives' output buffers, handed out again once nothing else references them.

    A pure step returns new arrays, and at p = 10^6-10^7 a fresh array costs page faults (the
    kernel maps and zeroes its pages on first touch: at 10^7 about as much as the step's
    arithmetic). The pool keeps a reference to each array it hands out; an array whose only
    reference is the pool's (``sys.getrefcount == 2``: the list's and the call's) is unreachable
    from any other object -- every numpy view, memoryview and ``torch.from_numpy`` of it holds a
    reference to it -- so writing it changes nothing anyone can observe, and the next primitive
    call of the same shape writes its result there. Inputs are never candidates (the caller
    references them), so steps stay pure and states immutable.

    Cost: the pool holds up to ``max_bytes`` of float64 arrays (default ``POOL_BYTES``, LRU,
    at most ``POOL_SLOTS`` arrays) after their users dropped them, until they are reused, evicted
    or ``set_buffer_pool(0)`` is called. Disabled where reference counts do not say this
    (interpreters without ``sys.getrefcount``, free-threaded CPython).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.arrays: list[Array] = []
        self.lock = threading.Lock()

    def empty(self, shape: tuple[int, ...]) -> Array:
        """An uninitialised float64 array of ``shape`` that nothing else references."""
        if not (self.max_bytes and _REFCOUNTS):
            return np.empty(shape)
        with self.lock:
            pool = self.arrays
            for i in range(len(pool)):
                if pool[i].shape == shape and sys.getrefcount(pool[i]) == 2:
                    a = pool.pop(i)
                    pool.append(a)  # most recently used last
                    return a
            out = np.empty(shape)
            if out.nbytes <= self.max_bytes:
                held = sum(a.nbytes for a in pool) + out.nbytes
                while pool and (held > self.max_bytes or len(pool) >= POOL_SLOTS):
                    held -= pool.pop(0).nbytes  # forget the least recently used (its user keeps it)
                pool.append(out)
            return out


#: the pool is exact only where an object's reference count is its number of referrers
_REFCOUNTS = hasattr(sys, "getrefcount") and bool(getattr(sys, "_is_gil_enabled", lambda: True)())

#: bytes of arrays the pool may hold (512 MiB: the six buffers an Adam step cycles through at
#: p = 10^7 fit), and at most this many arrays
POOL_BYTES = 1 << 29
POOL_SLOTS = 8
_POOL = _Pool(POOL_BYTES)
if hasattr(os, "register_at_fork"):  # a child forked while another thread held the lock gets a free one
    os.register_at_fork(after_in_child=lambda: setattr(_POOL, "lock", threading.Lock()))


def set_buffer_pool(max_bytes: int) -> int:
    """Bound the fused primitives' buffer pool to ``max_bytes`` (0: no pool; the held arrays are
    released now). Returns the previous bound. See ``_Pool`` for what the pool keeps and why
    steps stay pure."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"set_buffer_pool: max_bytes must be an int >= 0, got {max_bytes!r}")
    with _POOL.lock:
        previous, _POOL.max_bytes = _POOL.max_bytes, max_bytes
        if max_bytes == 0:
            _POOL.arrays.clear()
        else:
            while _POOL.arrays and sum(a.nbytes for a in _POOL.arrays) > max_bytes:
                _POOL.arrays.pop(0)
    return previous


def _blocked(
    kernel: Callable[..., None],
    arrays: tuple[Array, ...],
    scalars: tuple[Scalar, ...],
    out: Array | None = None,
    scratch: int = 1,
) -> Array:
    """Run ``kernel`` over blocks of ``BLOCK`` elements into ``out`` (a donated input, see
    ``donating``), or else into one output array nothing else references."""
    if out is None:
        out = _POOL.empty(arrays[0].shape)
    o = out.reshape(-1)
    flat = [np.ravel(a) for a in arrays]  # views of contiguous inputs (a read-only copy otherwise)
    n = o.size
    scratches = [_POOL.empty((min(n, BLOCK),)) for _ in range(scratch)]
    for i in range(0, n, BLOCK):
        j = min(i + BLOCK, n)
        kernel(o[i:j], *(t[: j - i] for t in scratches), *(a[i:j] for a in flat), *scalars)
    return out


# ----------------------------------------------------------------------------------------------
# Opt-in donation: a step may write its result into the state it replaces

#: ids of the arrays the running step may overwrite (set by ``donating``; empty otherwise)
_DONATED: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("donated", default=frozenset())


@contextlib.contextmanager
def donating(arrays: Iterable[Array]) -> Iterator[None]:
    """While the context lasts, a primitive whose *own* argument (the old value its result
    replaces: theta of ``descend``, old of ``ema``, ...) is one of ``arrays`` writes its result
    into that argument instead of a fresh array. Only ``Optimizer.step(..., donate=True)`` uses it,
    after checking that nothing but the donated state references those arrays; see
    ``_core.donatable`` for the conditions and what the caller gives up."""
    token = _DONATED.set(frozenset(id(a) for a in arrays))
    try:
        yield
    finally:
        _DONATED.reset(token)


def _donated_out(
    args: tuple[Any, ...], own: int, array_args: tuple[int, ...], writes_last: bool
) -> Array | None:
    """``args[own]`` if it was donated and writing the result there is exact: every other array
    argument is a different array (no view of a donated array exists: ``_core.donatable``), or the
    same array and the kernel writes its output block only after reading every input block
    (``writes_last``)."""
    donated = _DONATED.get()
    target = args[own]
    if not donated or id(target) not in donated:
        return None
    if not (target.flags.c_contiguous and target.flags.writeable):
        return None
    if not writes_last and any(args[i] is target for i in array_args if i != own):
        return None
    return target  # type: ignore[no-any-return]


def _fused(
    name: str,
    literal: Callable[..., Array],
    kernel: Callable[..., None],
    array_args: tuple[int, ...],
    *,
    own: int = 0,
    writes_last: bool = False,
    scratch: int = 1,
) -> Callable[..., Array]:
    """The primitive ``name``: fused forward via ``kernel``, VJPs of ``literal`` by autograd.

    ``array_args`` are the positions of the array arguments; the others are scalars. The kernel
    takes the output block, ``scratch`` scratch blocks, the arrays (in argument order), then the
    scalars. ``own`` is the argument whose old value the result replaces (it may receive the result
    under ``donating``); the kernel reads it only before its first write to the output block, and
    ``writes_last`` says the kernel writes the output block only in its last operation.
    """

    first = array_args[0]

    def forward(*args: Any) -> Array:
        if getattr(args[first], "size", 0) < FUSE_MIN:  # in cache already: numpy's own loop is cheapest
            return literal(*args)
        arrays = tuple(args[i] for i in array_args)
        scalars = tuple(a for i, a in enumerate(args) if i not in array_args)
        if not _fusable(arrays, scalars):
            return literal(*args)
        return _blocked(kernel, arrays, scalars, _donated_out(args, own, array_args, writes_last), scratch)

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"{name}: the literal form {literal.__name__}, fused; see the module docstring."
    prim = primitive(forward)

    def vjpmaker(argnums: tuple[int, ...], ans: Array, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        def vjp(g: Array) -> Any:
            def partial_literal(xs: tuple[Any, ...]) -> Any:
                full = list(args)
                for i, x in zip(argnums, xs):
                    full[i] = x
                return literal(*full)

            back, _ = make_vjp(partial_literal, tuple(args[i] for i in argnums))
            return back(g)

        return vjp

    defvjp_argnums(prim, vjpmaker)
    return prim


ema = _fused("ema", ema_literal, _ema_k, (0, 1))
ema_sq = _fused("ema_sq", ema_sq_literal, _ema_sq_k, (0, 1))
accumulate = _fused("accumulate", accumulate_literal, _accumulate_k, (0, 1))
descend = _fused("descend", descend_literal, _descend_k, (0, 2), writes_last=True)
lookahead_descend = _fused("lookahead_descend", lookahead_descend_literal, _lookahead_descend_k, (0, 1, 2))
velocity = _fused("velocity", velocity_literal, _velocity_k, (0, 1))
nesterov_update = _fused(
    "nesterov_update", nesterov_update_literal, _nesterov_update_k, (0, 1, 2), writes_last=True
)
adam_update = _fused(
    "adam_update", adam_update_literal, _adam_update_k, (0, 1, 2), writes_last=True, scratch=2
)
rms_update = _fused("rms_update", rms_update_literal, _rms_update_k, (0, 1, 2), writes_last=True)

#: name -> (fused primitive, literal form), for the tests
PRIMITIVES: dict[str, tuple[Callable[..., Array], Callable[..., Array]]] = {
    "ema": (ema, ema_literal),
    "ema_sq": (ema_sq, ema_sq_literal),
    "accumulate": (accumulate, accumulate_literal),
    "descend": (descend, descend_literal),
    "lookahead_descend": (lookahead_descend, lookahead_descend_literal),
    "velocity": (velocity, velocity_literal),
    "nesterov_update": (nesterov_update, nesterov_update_literal),
    "adam_update": (adam_update, adam_update_literal),
    "rms_update": (rms_update, rms_update_literal),
}


# ----------------------------------------------------------------------------------------------
# Opt-in: past the fresh-page cost without giving up purity


def keep_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Opt-in, process-wide: let glibc's malloc reuse freed large blocks instead of unmapping them.

    A pure step returns new arrays; at p = 10^7 each is 80 MB, above glibc's largest mmap
    threshold (32 MB), so by default every new array is a fresh mapping whose pages the kernel
    faults in and zeroes on first touch, and every dropped state is unmapped. After this call,
    blocks up to ``limit_bytes`` come from the heap and freed ones are kept there, so a step's new
    arrays land on the pages its predecessor's state just released (already mapped). Nothing in the
    contract changes (steps stay pure, states immutable, inputs unwritten); the cost is memory:
    the process keeps its peak heap instead of returning it to the system, and a long-lived
    program that allocates and frees large arrays of varying size may fragment its heap.

    Returns True if both settings were accepted; False (and no change) where glibc is absent
    (macOS, Windows, musl). Not called by the package: only by code that opts in (e.g.
    ``benchmarks/bench_first_order.py --keep-freed-memory``).
    """
    import ctypes
    import ctypes.util

    if limit_bytes < 1 or limit_bytes > 2**31 - 1:
        raise ValueError(f"keep_freed_memory: limit_bytes must be in [1, 2**31 - 1], got {limit_bytes!r}")
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, limit_bytes)) and bool(mallopt(m_trim_threshold, 2**31 - 1))
