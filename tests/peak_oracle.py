"""The oracle for the peak memory of a training step: torch runs the step (FORMAT.md section 15)
on the spec's own module, under a ``TorchDispatchMode`` over ``FakeTensorMode`` that counts every
storage from the op that creates it until its last reference dies (a weakref finalizer on the
storage). Nothing here reads cnncalc's memory analysis: only the spec's torch module."""

from __future__ import annotations

import weakref

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from cnncalc.bridge.build import build

LOW = {"bfloat16": torch.bfloat16, "float16": torch.float16}


class _Count(TorchDispatchMode):
    """Bytes of storages alive, the peak, and where it fell (phase, layer)."""

    def __init__(self, cuda: bool = False):
        super().__init__()
        self.cuda = cuda
        self.live = 0
        self.peak = 0
        self.at = (None, None)
        self.phase = "setup"
        self.layer = None
        self.phase_peak: dict[str, int] = {}
        self.seen: dict[int, int] = {}
        self.nodes: dict = {}  # autograd node -> the layer whose forward made it
        self.log: list | None = None

    def track(self, t: torch.Tensor, what: str = "") -> None:
        st = t.untyped_storage()
        key = id(st)
        if key in self.seen:
            return
        n = st.nbytes()
        if self.cuda:
            n = -(-n // 512) * 512
        self.seen[key] = n
        self.live += n
        layer = self.layer
        if self.phase == "backward":
            node = torch._C._current_autograd_node()
            layer = self.nodes.get(node, layer) if node is not None else layer
        if self.log is not None:
            self.log.append(("+", n, self.live, self.phase, layer, what, tuple(t.shape)))
        if self.live > self.peak:
            self.peak = self.live
            self.at = (self.phase, layer)
        if self.live > self.phase_peak.get(self.phase, -1):
            self.phase_peak[self.phase] = self.live
        weakref.finalize(st, self._free, key, n, what)

    def _free(self, key, n, what):
        self.live -= n
        del self.seen[key]
        if self.log is not None:
            self.log.append(("-", n, self.live, self.phase, None, what, ()))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.track(t, str(func.overloadpacket.__name__))
        return out

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.layer = None
        self.phase_peak.setdefault(phase, self.live)


def _losses(outs, targets, loss):
    total = None
    for o, t in zip(outs, targets):
        if loss == "mse":
            term = torch.nn.functional.mse_loss(o, t)
        else:
            term = torch.nn.functional.cross_entropy(o, t)
        total = term if total is None else total + term
    return total


def _targets(outs, loss):
    out = []
    for o in outs:
        if loss == "mse":
            out.append(torch.zeros(o.shape, dtype=torch.float32))
        else:
            shape = o.shape[:1] + o.shape[2:] if o.dim() > 1 else ()
            out.append(torch.zeros(shape, dtype=torch.long))
    return out


def peak(
    a,
    optimizer: str = "sgd",
    step: str = "steady",
    foreach: bool = True,
    loss: str = "cross_entropy",
    amp: str | None = None,
    cuda: bool = False,
    log: bool = False,
) -> dict:
    """torch's peak of one training step of the spec's module (FORMAT.md section 15)."""
    # float16's GradScaler reads a value (found_inf.item()): that step runs on real CPU tensors,
    # counted the same way (the storages' sizes are the same as fake ones)
    with FakeTensorMode(allow_non_fake_inputs=False) if amp != "float16" else _Null():
        torch.manual_seed(0)
        model = build(a)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        make = {
            "sgd": lambda: torch.optim.SGD(params, lr=0.1, foreach=foreach),
            "momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9, foreach=foreach),
            "adam": lambda: torch.optim.Adam(params, lr=1e-3, foreach=foreach),
            "adamw": lambda: torch.optim.AdamW(params, lr=1e-3, foreach=foreach),
        }
        opt = make[optimizer]() if params else None
        # a scale of 1: no step is skipped for an overflow (a skipped step updates nothing)
        scaler = torch.amp.GradScaler("cpu", init_scale=1.0) if amp == "float16" else None
        x = torch.randn(a.input)
        with torch.no_grad():
            shapes = model(x)
        shapes = [shapes] if isinstance(shapes, torch.Tensor) else list(shapes)
        targets = _targets(shapes, loss)
        del shapes
        if step == "steady":  # a first step makes the state, then the measured one runs
            out = model(x)
            lo = _losses([out] if isinstance(out, torch.Tensor) else list(out), targets, loss)
            if lo.requires_grad:
                (scaler.scale(lo) if scaler else lo).backward()
            if opt is not None:
                if scaler:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                opt.zero_grad(set_to_none=True)
            del out, lo
        count = _Count(cuda)
        count.log = [] if log else None
        for t in [*model.parameters(), *model.buffers(), x, *targets]:
            count.track(t, "held")
        for state in opt.state.values() if opt is not None else ():
            for v in state.values():
                if isinstance(v, torch.Tensor):
                    count.track(v, "state")
        count.phase_peak.clear()

        def record(name, m, xs):
            count.layer = name
            y = m(*xs)
            leaves = [t for t in tree_flatten(y)[0] if isinstance(t, torch.Tensor)]
            todo = [t.grad_fn for t in leaves]
            for t in leaves:  # a parameter handed on: its AccumulateGrad is this layer's
                if t.grad_fn is None and t.requires_grad:
                    todo.append(t.expand_as(t).grad_fn.next_functions[0][0])
            while todo:
                node = todo.pop()
                if node is None or node in count.nodes:
                    continue
                count.nodes[node] = name
                todo.extend(n for n, _ in node.next_functions)
            count.layer = None
            return y

        with count:
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            count.enter("forward")
            ctx = torch.autocast("cpu", dtype=LOW[amp]) if amp else _Null()
            with ctx:
                out = model(x, record)
                count.enter("loss")
                lo = _losses([out] if isinstance(out, torch.Tensor) else list(out), targets, loss)
            count.enter("backward")
            if lo.requires_grad:
                (scaler.scale(lo) if scaler else lo).backward()
            count.enter("optimizer")
            if opt is None:
                pass
            elif scaler:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
        phase, layer = count.at
        return {
            "peak_bytes": count.peak,
            "peak_phase": phase,
            "peak_layer": layer,
            "phase_peak_bytes": dict(count.phase_peak),
            "log": count.log,
        }


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
