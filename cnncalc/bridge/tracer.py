"""torch.fx tracing with concrete values: every operation also runs as it is traced (on meta
tensors: shapes without data), so sizes, ``x.shape`` arithmetic, asserts and branches take their
eager values, and FlopCounterMode counts what the forward runs."""

from __future__ import annotations

import contextlib
import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from .trace import _base_kind, _flatten_out, _summary


class Raised(Exception):
    """An operation of the model raised as it ran (``node``: the operation, ``error``)."""

    def __init__(self, node, error: Exception):
        super().__init__(str(error))
        self.node, self.error = node, error


# modules whose CPU kernels may be fused ones FlopCounterMode does not see into (oneDNN's LSTM,
# the fast path of MultiheadAttention): their own count recorded; a net with an LSTM is traced
# on the CPU, attention (the module or the function) runs there alone within a meta trace
_FUSED = (nn.RNNBase, nn.MultiheadAttention)


def _on_cpu(f, cargs, ckw):
    """``f`` run on CPU tensors of the meta arguments' shapes, strides and dtypes (random values,
    as the kernel picked by the CPU needs data), its tensors handed back as meta ones."""

    made: dict = {}  # one CPU tensor per meta one (self-attention's fast path needs q is k)

    def cpu(x):
        if not (isinstance(x, torch.Tensor) and x.is_meta):
            return x
        if id(x) not in made:
            y = torch.empty_strided(tuple(x.shape), x.stride(), dtype=x.dtype)
            made[id(x)] = y.normal_() if y.is_floating_point() else y.zero_()
        return made[id(x)]

    out = f(*fx.node.map_aggregate(cargs, cpu), **fx.node.map_aggregate(ckw, cpu))
    return fx.node.map_aggregate(out, _meta_like)


def _meta_like(y):
    """A meta tensor of ``y``'s shape, strides and dtype (other values as they are)."""
    if not isinstance(y, torch.Tensor):
        return y
    return torch.empty_strided(tuple(y.shape), y.stride(), dtype=y.dtype, device="meta")


def _keeps_shape(m: nn.Module, args, kwargs):
    """A batch norm's output on the meta device, made without its kernel (torch's meta batch norm
    is a slow Python decomposition, most of a meta forward's time): a tensor like its input, as
    the kernel gives, when the input is one the kernel accepts (channels and dims checked as
    torch checks them); None otherwise, and the kernel runs."""
    from torch.nn.modules.batchnorm import _BatchNorm

    if type(m).forward is not _BatchNorm.forward or len(args) != 1 or kwargs:
        return None
    x = args[0]
    if not (isinstance(x, torch.Tensor) and x.is_meta) or x.dim() < 2:
        return None
    try:
        m._check_input_dim(x)
    except ValueError:
        return None
    if x.shape[1] != m.num_features or (m.training and x.numel() // x.shape[1] <= 1):
        return None
    return torch.empty_like(x)


def _plain(v) -> bool:
    """A size, a dim, a dtype, a flag: handed to the model as the value itself (``torch.ones(B,
    n)`` with ``B = x.shape[0]`` takes it as torch would eagerly); tensors stay traced."""
    if isinstance(v, (tuple, list)):
        return all(_plain(x) for x in v)
    return isinstance(v, (int, float, bool, str, torch.dtype, torch.device, torch.Size))


class _Proxy(fx.Proxy):
    def __len__(self):
        return len(self.node.meta["concrete"])

    def __int__(self):  # int(N ** 0.5) of a traced size: its value, as eagerly
        return int(self.node.meta["concrete"])

    def __float__(self):
        return float(self.node.meta["concrete"])

    def __index__(self):
        return int(self.node.meta["concrete"])

    def __setitem__(self, key, value):  # a node the walk reads (into a mask made from sizes)
        self.tracer.create_proxy("call_function", operator.setitem, (self, key, value), {})


def _hookable(a):
    """A view made without grad of a tensor that needs one (``self.latent.expand(B, -1, -1)``
    in the trace), detached: FlopCounterMode's module hooks cannot hook it (no grad_fn to find),
    and its shape and the counts are the same."""
    if (
        isinstance(a, torch.Tensor)
        and a.requires_grad
        and a.grad_fn is None
        and a._base is not None
    ):
        return a.detach()
    return a


class _Tracer(fx.Tracer):
    """Modules with a layer kind are leaves; everything else is traced into (timm's BatchNormAct2d,
    LayerNorm2d).

    Every operation also runs on a real input as it is traced, so sizes, ``x.shape`` arithmetic,
    asserts
    and branches on them take their concrete values, as they would in eager mode."""

    def __init__(self, inputs: dict):
        super().__init__()
        self.inputs = inputs  # placeholder name -> its value
        self.ran_alone: dict = {}  # an attention call on the CPU: its output and its counts

    eager = 0  # > 0 while an operation runs for real: module calls and attributes are plain

    def is_leaf_module(self, m, qualname):
        return _base_kind(m) is not None

    def call_module(self, m, forward, args, kwargs):
        if self.eager:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    meta = False  # the operations run on the meta device
    named: dict = {}  # id -> name of the root's parameters and buffers (plain tensors on meta)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self.eager:
            return attr_val
        name = self.named.get(id(attr_val)) if isinstance(attr_val, torch.Tensor) else None
        if name is not None:
            if name not in parameter_proxy_cache:
                parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
            return parameter_proxy_cache[name]
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def proxy(self, node):
        return _Proxy(node, self)

    def create_node(self, kind, target, args, kwargs, *rest, **kw):
        node = super().create_node(kind, target, args, kwargs, *rest, **kw)
        if kind == "get_attr" and target.startswith("_tensor_constant"):  # made eagerly
            node.meta["concrete"] = getattr(self.root, target)
        if kind == "call_function" and isinstance(target, type) and issubclass(target, tuple):
            real = lambda n: n.meta.get("concrete") if isinstance(n, fx.Node) else n  # noqa: E731
            node.meta["concrete"] = target(*fx.node.map_aggregate(args, real))  # a named tuple
        return node

    def create_proxy(self, kind, target, args, kwargs, *rest, **kw):
        p = super().create_proxy(kind, target, args, kwargs, *rest, **kw)
        real = lambda a: a.node.meta["concrete"] if isinstance(a, fx.Proxy) else a  # noqa: E731
        cargs = fx.node.map_aggregate(args, real)
        ckw = fx.node.map_aggregate(kwargs, real)
        self.eager += 1
        before = self.counter.get_total_flops()
        try:
            val = self._counted(p, kind, target, args, cargs, ckw)
        except Exception as e:
            raise Raised(p.node, e) from None
        finally:
            self.eager -= 1
        p.node.meta["torch_macs"] = (self.counter.get_total_flops() - before) // 2  # its own
        p.node.meta["concrete"] = val
        if kind == "placeholder" or target is getattr:  # fx's lazy attributes need a node
            return p
        return val if _plain(val) else p

    def _counted(self, p, kind, target, args, cargs, ckw):
        if (kind == "call_module" and isinstance(self.root.get_submodule(target), _FUSED)) or (
            target is F.scaled_dot_product_attention  # which kernel ran: its own count
        ):
            from torch.utils.flop_counter import FlopCounterMode

            key = self._same_call(kind, target, cargs, ckw)
            if key in self.ran_alone:  # as a call before it ran: its counts, and its shapes
                out, counts = self.ran_alone[key]
                for op, n in counts.items():
                    self.counter.flop_counts["Global"][op] += n
                p.node.meta["macs"] = sum(counts.values()) // 2
                return fx.node.map_aggregate(out, _meta_like)
            with FlopCounterMode(display=False) as own:  # did torch run its fused kernel?
                val = self._run(kind, target, args, cargs, ckw)
            p.node.meta["macs"] = own.get_total_flops() // 2
            if key is not None:
                self.ran_alone[key] = (val, dict(own.flop_counts["Global"]))
        else:
            val = self._run(kind, target, args, cargs, ckw)
        return val

    def _same_call(self, kind, target, cargs, ckw):
        """What the kernel an attention call on the CPU runs depends on (the module's settings
        and its tensors' shapes; each argument's shape, strides and dtype, and which arguments
        are the same tensor; grad, autocast, the kernels allowed): a key, or None where the
        trace is not on meta (its values are real) or an argument is neither a tensor nor a
        plain value."""
        if not self.meta:
            return None
        ids: dict = {}

        def sig(x):
            if isinstance(x, torch.Tensor):
                same = ids.setdefault(id(x), len(ids))
                return (tuple(x.shape), x.stride(), x.dtype, x.requires_grad, x.device.type, same)
            if x is None or isinstance(x, (bool, int, float, str)):
                return x
            raise TypeError

        try:
            key = (kind, fx.node.map_aggregate((cargs, ckw), sig), torch.is_grad_enabled())
        except TypeError:
            return None
        b = torch.backends.cuda  # the kernels allowed (``sdpa_kernel`` sets them), CPU's too
        key += (torch.is_autocast_enabled("cpu"), b.flash_sdp_enabled(), b.math_sdp_enabled())
        key += (b.mem_efficient_sdp_enabled(), b.cudnn_sdp_enabled())
        if kind == "call_module":
            m = self.root.get_submodule(target)
            if not isinstance(m, nn.MultiheadAttention):
                return None
            fields = ("training", "batch_first", "num_heads", "embed_dim", "kdim", "vdim")
            fields += ("dropout", "_qkv_same_embed_dim", "add_zero_attn")
            own = [(n, tuple(t.shape), t.dtype) for n, t in m.named_parameters()]
            return (*key, type(m), tuple(getattr(m, f) for f in fields), tuple(own))
        return (*key, target)

    def _run(self, kind, target, args, cargs, ckw):
        with torch.no_grad():
            if kind == "placeholder":
                key = target.lstrip("*")  # a fixed argument's is renamed (``scale_1``)
                key = key if key in self.inputs else key.rsplit("_", 1)[0]
                val = self.inputs.get(key, args[0] if args else None)
            elif kind == "get_attr":
                val = self.root
                for part in target.split("."):
                    val = getattr(val, part)
            elif kind == "call_function":
                if target is F.scaled_dot_product_attention and self.meta:
                    val = _on_cpu(target, cargs, ckw)  # the kernel the CPU picks
                else:
                    val = target(*cargs, **ckw)
            elif kind == "call_method":
                val = getattr(cargs[0], target)(*cargs[1:], **ckw)
            elif kind == "call_module":
                m = self.root.get_submodule(target)
                if self.meta and isinstance(m, nn.MultiheadAttention):
                    return self._cpu_module(target, m, cargs, ckw)
                cargs = fx.node.map_aggregate(cargs, _hookable)
                val = _keeps_shape(m, cargs, ckw)
                val = m(*cargs, **ckw) if val is None else val
            else:
                val = None
        return val

    originals: dict = {}  # the model's own parameters and buffers (a meta trace swaps them)

    def _cpu_module(self, name, m, cargs, ckw):
        """Attention as a module within a meta trace: run on the CPU with its own tensors (the
        fast path torch takes there, or not), its output as meta tensors."""
        from torch.nn.utils.stateless import _reparametrize_module

        pre = f"{name}."
        own = {k[len(pre) :]: v for k, v in self.originals.items() if k.startswith(pre)}
        with _reparametrize_module(m, own):
            return _on_cpu(m, cargs, ckw)

    def to_bool(self, obj):
        return bool(obj.node.meta["concrete"])

    def iter(self, obj):
        return iter([obj[i] for i in range(len(obj.node.meta["concrete"]))])

    def keys(self, obj):
        return obj.node.meta["concrete"].keys()


def traced(model: nn.Module, inputs, fake: bool = True, stacks: bool = False):
    """The model's graph, every node's value summarised (shape and layout) in ``meta["value"]``.

    ``inputs`` (:class:`~cnncalc.bridge.inputs.Inputs`) are bound to the forward's arguments; every
    operation runs as it is traced, on meta tensors (shapes without data or memory) where
    ``fake``, else on real ones. The caller sets the mode and hands the model back as it came."""
    from torch.utils.flop_counter import FlopCounterMode

    from .inputs import on_meta

    if fake and any(isinstance(m, nn.RNNBase) for m in model.modules()):
        fake = False
    values, extra = inputs.bind(model, fake)
    counter = FlopCounterMode(display=False)
    tracer = _Tracer({**extra, **values})
    tracer.counter = counter
    tracer.originals = dict(model.named_parameters(remove_duplicate=False))
    tracer.originals |= dict(model.named_buffers(remove_duplicate=False))
    tracer.meta = fake
    tracer.record_stack_traces = stacks  # the source lines a refusal names
    with on_meta(model) if fake else contextlib.nullcontext(), counter, _into_wrapped():
        tracer.named = {id(p): n for n, p in model.named_parameters()}
        tracer.named |= {id(b): n for n, b in model.named_buffers()}  # read as themselves
        had = set(vars(model))
        caches = [  # a forward's caches (TinyViT's attention biases): they would keep proxies
            (m, k, dict(v))
            for m in model.modules()
            for k, v in vars(m).items()
            if type(v) is dict and not k.startswith("_")
        ]
        try:
            with _makers_traced(tracer):
                graph = tracer.trace(model, concrete_args=extra or None)
        finally:  # the tensors fx hung on the model as it traced, taken off again
            for name in [k for k in vars(model) if k not in had and k.startswith("_tensor_c")]:
                delattr(model, name)
            for m, k, v in caches:
                setattr(m, k, v)
    out = next(n for n in graph.nodes if n.op == "output")
    got = fx.node.map_aggregate(out.args[0], lambda n: n.meta.get("concrete"))
    outputs = [tuple(t.shape) for t in _flatten_out(got) if isinstance(t, torch.Tensor)]
    for node in graph.nodes:
        node.meta["value"] = _summary(node.meta.pop("concrete", None))
    g = _Graph(graph, tracer.root, outputs, counter.get_total_flops() // 2)
    g.real = not fake
    return g


_MAKERS = ("zeros", "ones", "full", "empty", "rand", "randn", "eye", "arange", "linspace")
_MAKERS += ("tensor", "as_tensor", "logspace")


@contextlib.contextmanager
def _makers_traced(tracer):
    """``torch.arange(n)``, ``torch.zeros(h, w)``: traced, not run eagerly, where the sizes are
    plain ints (as the tracer hands sizes on), so what the forward computes from them is in the
    graph, and FlopCounterMode counts no product the graph does not hold."""
    held = {name: getattr(torch, name) for name in _MAKERS}

    def traced_maker(f):
        def make(*args, **kwargs):
            if tracer.eager:
                return f(*args, **kwargs)
            return tracer.create_proxy("call_function", f, args, kwargs)

        return make

    for name, f in held.items():
        setattr(torch, name, traced_maker(f))
    try:
        yield
    finally:
        for name, f in held.items():
            setattr(torch, name, f)


@contextlib.contextmanager
def _into_wrapped():
    """Functions a library marks with ``torch.fx.wrap`` (torchvision's Swin: its window attention,
    its relative position bias) traced into, as any other code, not kept as one opaque call."""
    from torch.fx import _symbolic_trace as st

    held = dict(st._wrapped_fns_to_patch)
    st._wrapped_fns_to_patch.clear()
    try:
        yield
    finally:
        st._wrapped_fns_to_patch.update(held)


class _Graph:
    """What the walk reads of a traced model: its graph and its modules (no code generated)."""

    def __init__(self, graph, root, outputs, macs):
        self.graph, self.get_submodule = graph, root.get_submodule
        self.outputs, self.macs = outputs, macs  # as torch ran them: shapes, FlopCounterMode / 2
        self.real = False  # traced on real tensors (the CPU's kernels), not on meta ones
