"""One row's module built: an ``nn.`` layer, a Concat, or one of Ultralytics' modules (repeated
``n`` times where parse_model wraps it in a Sequential); and the diagnostic for arguments that do
not fit a module's signature."""

from __future__ import annotations

from ...diagnostics import cut
from .net import _Net
from .tables import HEADS, MODULES, NN


def _arity(m: str, args: list, e: TypeError) -> str:
    import inspect

    f = MODULES.get(m)
    if f is None:
        return f"its arguments do not fit ({e})"
    params = list(inspect.signature(f).parameters.values())[3:]
    params = [
        p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD
    ]  # keyword-only ones are cnncalc's own
    lo = sum(p.default is p.empty for p in params)
    names = ", ".join(p.name for p in params)
    if lo <= len(args) <= len(params):
        return (
            f"an argument of {m}({names}) has the wrong type ({cut(str(e), 120)}); the "
            f"arguments as passed: {cut(str(args), 120)}"
        )
    return (
        f"{m} takes {lo} to {len(params)} arguments ({names}) as Ultralytics passes them, "
        f"found {len(args)}"
    )


def _build(net: _Net, at: str, m: str, n: int, refs: list[str], args: list, i: int) -> str:
    if m == "Concat":
        d = args[0] if args else 1
        return net.add(at, "Cat", refs, dim=d)
    if m in NN:
        from ...layers import REGISTRY

        t = NN[m]
        names = list(REGISTRY[t].args)
        if len(args) > len(names):
            raise TypeError(
                f"{m} takes at most {len(names)} arguments ({', '.join(names)}), got {len(args)}"
            )
        kw = dict(zip(names, args))

        def one(name, x):
            return net.add(name, t, x, **kw)

        x = refs[0]
        if n == 1:
            return one(at, x)
        for k in range(n):
            x = one(f"{at}.{k}", x)
        return x
    f = MODULES[m]
    if m in HEADS or m in ("CBFuse", "ImagePoolingAttn"):
        return f(net, at, refs, *args)
    x = refs[0]
    kw = (
        {"legacy_act": True} if m == "SPPF" and len(args) <= 3 else {}
    )  # parse_model re-activates a legacy row's cv1
    if n == 1:
        return f(net, at, x, *args, **kw)
    for k in range(n):
        x = f(net, f"{at}.{k}", x, *args, **kw)
    return x
