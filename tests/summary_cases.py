"""Model-and-input cases of the kind torchinfo is used for, and the check of one against torch.

Each case is (name, make, call): ``make()`` builds the model, ``call`` the keyword arguments of
``cnncalc.summary`` (and of the eager call torch makes). ``check`` runs torch itself (the model's
own forward, FlopCounterMode, ``parameters()``) and compares; the suite runs the cases that need
torch alone, ``benchmarks/summary.py`` these and torchvision's models.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune
from torch.utils.flop_counter import FlopCounterMode

import cnncalc


class Tutorial(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 3), nn.Conv2d(6, 16, 3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(576, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 4), nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(8, 2)

    def forward(self, x, img, scale: float = 1.0):
        y = self.b(img).mean((2, 3))
        return self.head(torch.cat([self.a(x), y], 1)) * scale


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.cls, self.box = nn.Conv2d(8, 5, 1), nn.Conv2d(8, 4, 1)

    def forward(self, x):
        f = self.body(x)
        return {"logits": self.cls(f), "boxes": self.box(f), "pair": (f.mean(1), f.amax(1))}


class TextLSTM(nn.Module):
    def __init__(self, rnn="LSTM", **kw):
        super().__init__()
        self.emb = nn.Embedding(1000, 32, padding_idx=0)
        self.rnn = getattr(nn, rnn)(32, 48, batch_first=True, **kw)
        d = 2 if kw.get("bidirectional") else 1
        self.fc = nn.Linear(d * (kw.get("proj_size") or 48), 3)

    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))
        return self.fc(out[:, -1])


class StateFromSizes(nn.Module):
    """h0 made from the traced batch size."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20, num_layers=2)
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        h0 = torch.zeros(2, x.size(1), 20)
        y, h = self.gru(x, h0)
        return self.fc(y), h


class Block(nn.Module):
    """A transformer block as tutorials write it: MultiheadAttention, LayerNorm, an MLP."""

    def __init__(self, d=32, heads=4, weights=True):
        super().__init__()
        self.emb = nn.Embedding(100, d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.weights = weights

    def forward(self, ids):
        x = self.emb(ids)
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=self.weights)
        x = x + a
        return x + self.mlp(self.ln2(x))


class SDPA(nn.Module):
    def __init__(self, d=24, heads=3):
        super().__init__()
        self.qkv, self.proj, self.heads = nn.Linear(d, 3 * d), nn.Linear(d, d), heads

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 8))

    def forward(self, a, b):
        return self.enc(a) - self.enc(b)


class Recurse(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        for _ in range(3):
            x = self.act(self.conv(x))
        return x


class AuxInTraining(nn.Module):
    """Returns an aux head's output in training mode only (GoogLeNet's way)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout())
        self.aux = nn.Linear(8, 4)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        f = self.body(x).mean((2, 3))
        return (self.head(f), self.aux(f)) if self.training else self.head(f)


class Patches(nn.Module):
    """Patches by F.unfold, a linear on each, folded back."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3 * 4 * 4, 3 * 4 * 4)

    def forward(self, x):
        cols = F.unfold(x, kernel_size=4, stride=4)
        y = self.proj(cols.transpose(1, 2)).transpose(1, 2)
        return F.fold(y, x.shape[-2:], kernel_size=4, stride=4)


class Unpooling(nn.Module):
    """SegNet's way: pool with indices, unpool to the input's size."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x):
        f = self.conv(x)
        y, idx = self.pool(f)
        return self.unpool(y, idx, output_size=f.size())


class EinsumAttention(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        att = torch.einsum("bqd,bkd->bqk", self.q(x), self.k(x)).softmax(-1)
        return torch.einsum("bqk,bkd->bqd", att, self.v(x))


class Batch(nn.Module):
    """A forward taking one dict (a data loader's batch) and a tuple of states."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 + 5, 2)

    def forward(self, batch: dict, states: tuple):
        f = self.conv(batch["image"]).mean((2, 3))
        return self.fc(torch.cat([f, batch["meta"] + states[0] * states[1]], 1))


class VAE(nn.Module):
    def __init__(s):
        super().__init__()
        s.enc = nn.Linear(784, 400)
        s.mu = nn.Linear(400, 20)
        s.lv = nn.Linear(400, 20)
        s.dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

    def forward(s, x):
        h = F.relu(s.enc(x.view(-1, 784)))
        mu, lv = s.mu(h), s.lv(h)
        z = mu + torch.randn_like(lv) * torch.exp(0.5 * lv)
        return s.dec(z), mu, lv


class Gen(nn.Module):
    def __init__(s):
        super().__init__()
        s.net = nn.Sequential(
            nn.ConvTranspose2d(100, 64, 4, 1, 0, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(True),
            nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(s, z):
        return s.net(z)


class CharRNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(80, 32)
        s.lstm = nn.LSTM(32, 64, 2, batch_first=True, dropout=0.2)
        s.fc = nn.Linear(64, 80)

    def forward(s, x, hidden):
        out, hidden = s.lstm(s.emb(x), hidden)
        return s.fc(out.reshape(-1, 64)), hidden


class UNetish(nn.Module):
    def __init__(s):
        super().__init__()
        s.d = nn.Conv2d(3, 8, 3, padding=1)
        s.u = nn.Conv2d(16, 4, 3, padding=1)

    def forward(s, x):
        a = s.d(x)
        b = F.max_pool2d(a, 2)
        c = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)
        return s.u(torch.cat([a, c], 1))


class Seq2Seq(nn.Module):
    def __init__(s):
        super().__init__()
        s.enc = nn.GRU(10, 32, batch_first=True)
        s.dec = nn.GRU(12, 32, batch_first=True)
        s.out = nn.Linear(32, 12)

    def forward(s, src, tgt):
        _, h = s.enc(src)
        y, _ = s.dec(tgt, h)
        return s.out(y)


class Tied(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(100, 16)
        s.rnn = nn.GRU(16, 16, batch_first=True)
        s.out = nn.Linear(16, 100)
        s.out.weight = s.emb.weight

    def forward(s, x):
        y, _ = s.rnn(s.emb(x))
        return s.out(y)


class PositionalEncoding(nn.Module):
    """PyTorch's transformer tutorial: a sin-cos table registered as a buffer, added in the
    forward."""

    def __init__(self, d=16, max_len=50):
        super().__init__()
        pe = torch.zeros(max_len, 1, d)
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-9.2 / d))
        pe[:, 0, 0::2], pe[:, 0, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe)
        self.emb = nn.Embedding(100, d)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, 32), 1)

    def forward(self, src):
        x = self.emb(src) * 4.0
        x = x + self.pe[: x.size(0)]
        return self.enc(x)


class Scripted(nn.Module):
    def forward(self, x):
        return x * 2


class Distribution(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        mu = self.fc(x)
        return torch.distributions.Normal(mu, torch.ones_like(mu))


class Images(nn.Module):
    """A detector's interface: a list of images of different sizes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, images: list):
        return [self.conv(i[None]) for i in images]


def _frozen(make, n):
    def build():
        m = make()
        for p in list(m.parameters())[:n]:
            p.requires_grad_(False)
        return m

    return build


def _bn_frozen():
    m = Tutorial()
    m.conv1.bias.requires_grad_(False)
    m.fc3.weight.requires_grad_(False)
    return m


def _pruned():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    prune.l1_unstructured(m[0], "weight", amount=0.5)
    prune.random_unstructured(m[3], "bias", amount=0.3)
    return m


def _hooked():
    m = Tutorial()
    m.conv1.register_forward_hook(lambda mod, i, o: None)
    m.register_forward_pre_hook(lambda mod, i: None)
    return m


CASES = [
    ("tutorial", Tutorial, {"input_size": (1, 1, 32, 32)}),
    ("tutorial batch_dim", Tutorial, {"input_size": (1, 32, 32), "batch_dim": 0}),
    ("tutorial input_data", Tutorial, {"input_data": torch.randn(4, 1, 32, 32)}),
    ("tutorial meta device", Tutorial, {"input_size": (2, 1, 32, 32), "device": "meta"}),
    ("tutorial hooks", _hooked, {"input_size": (1, 1, 32, 32)}),
    ("bare conv", lambda: nn.Conv2d(3, 8, 3, stride=2), {"input_size": (2, 3, 17, 17)}),
    ("bare linear", lambda: nn.Linear(16, 4), {"input_size": (5, 7, 16)}),
    ("bare lstm", lambda: nn.LSTM(8, 16, 2), {"input_size": (5, 3, 8)}),
    ("bare gru", lambda: nn.GRU(8, 16, bidirectional=True), {"input_size": (5, 3, 8)}),
    ("bare embedding", lambda: nn.Embedding(50, 8), {"input_size": (2, 9), "dtypes": [torch.long]}),
    ("two inputs", TwoTower, {"input_size": [(2, 8), (2, 3, 6, 6)]}),
    ("two tensors", TwoTower, {"input_data": [torch.randn(3, 8), torch.randn(3, 3, 5, 5)]}),
    (
        "keyword inputs",
        TwoTower,
        {"input_data": {"x": torch.randn(2, 8), "img": torch.randn(2, 3, 6, 6)}},
    ),
    ("forward kwargs", TwoTower, {"input_size": [(2, 8), (2, 3, 6, 6)], "scale": 0.5}),
    ("dict outputs", DictOut, {"input_size": (2, 3, 10, 10)}),
    ("dict outputs train", DictOut, {"input_size": (2, 3, 10, 10), "mode": "train"}),
    ("lstm classifier", TextLSTM, {"input_size": (4, 12), "dtypes": [torch.long]}),
    (
        "gru classifier",
        lambda: TextLSTM("GRU", bidirectional=True, num_layers=2),
        {"input_size": (4, 12), "dtypes": [torch.long]},
    ),
    (
        "rnn relu",
        lambda: TextLSTM("RNN", nonlinearity="relu"),
        {"input_size": (4, 12), "dtypes": [torch.long]},
    ),
    (
        "lstm proj",
        lambda: TextLSTM("LSTM", proj_size=16),
        {"input_size": (4, 12), "dtypes": [torch.long]},
    ),
    ("state from sizes", StateFromSizes, {"input_size": (7, 3, 10)}),
    ("attention block", Block, {"input_size": (2, 16), "dtypes": [torch.long]}),
    (
        "attention block no weights",
        lambda: Block(weights=False),
        {"input_size": (2, 16), "dtypes": [torch.long]},
    ),
    (
        "attention block eval",
        lambda: Block().eval(),
        {"input_size": (2, 16), "dtypes": [torch.long]},
    ),
    ("sdpa", SDPA, {"input_size": (2, 10, 24)}),
    ("siamese shared", Siamese, {"input_size": [(2, 1, 8, 8), (2, 1, 8, 8)]}),
    ("module called thrice", Recurse, {"input_size": (1, 3, 8, 8)}),
    ("aux in training, own mode", lambda: AuxInTraining().train(), {"input_size": (2, 3, 9, 9)}),
    (
        "aux in training, eval",
        lambda: AuxInTraining().train(),
        {"input_size": (2, 3, 9, 9), "mode": "eval"},
    ),
    ("aux, train asked", AuxInTraining, {"input_size": (2, 3, 9, 9), "mode": "train"}),
    ("frozen half", _frozen(Tutorial, 4), {"input_size": (1, 1, 32, 32)}),
    ("pruned", _pruned, {"input_size": (2, 3, 8, 8)}),
    ("frozen in part", _bn_frozen, {"input_size": (1, 1, 32, 32)}),
    ("unfold and fold", Patches, {"input_size": (2, 3, 16, 12)}),
    ("unpooling", Unpooling, {"input_size": (2, 3, 10, 8)}),
    ("einsum attention", EinsumAttention, {"input_size": (2, 7, 16)}),
    ("bare attention", lambda: nn.MultiheadAttention(16, 4), {"input_size": [(5, 2, 16)] * 3}),
    (
        "bare attention eval",
        lambda: nn.MultiheadAttention(16, 2, batch_first=True).eval(),
        {"input_size": [(2, 5, 16)] * 3},
    ),
    (
        "nested inputs",
        Batch,
        {
            "input_data": [
                {"image": torch.randn(2, 3, 8, 8), "meta": torch.randn(2, 5)},
                (torch.randn(2, 5), torch.randn(2, 5)),
            ]
        },
    ),
    (
        "transformer encoder",
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2),
        {"input_size": (2, 10, 32)},
    ),
    (
        "transformer encoder eval",
        lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2
        ).eval(),
        {"input_size": (2, 10, 32)},
    ),
    (
        "transformer",
        lambda: nn.Transformer(32, 4, 1, 1, 64, batch_first=True),
        {"input_size": [(2, 7, 32), (2, 5, 32)]},
    ),
    ("vae", VAE, {"input_size": (4, 1, 28, 28)}),
    ("gan generator", Gen, {"input_size": (2, 100, 1, 1)}),
    (
        "char rnn",
        CharRNN,
        {
            "input_data": [
                torch.zeros(2, 15, dtype=torch.long),
                (torch.zeros(2, 2, 64), torch.zeros(2, 2, 64)),
            ]
        },
    ),
    ("unet-ish", UNetish, {"input_size": (1, 3, 16, 16)}),
    ("seq2seq", Seq2Seq, {"input_size": [(2, 9, 10), (2, 4, 12)]}),
    ("positional encoding", PositionalEncoding, {"input_size": (12, 3), "dtypes": [torch.long]}),
    ("tied weights", Tied, {"input_size": (2, 7), "dtypes": [torch.long]}),
    ("torchscript", lambda: torch.jit.script(Scripted()), {"input_size": (1, 3)}),
    ("distribution out", Distribution, {"input_size": (2, 4)}),
    ("list of images", Images, {"input_data": [[torch.randn(3, 8, 8), torch.randn(3, 9, 7)]]}),
    ("bad: string size", Tutorial, {"input_size": "1,1,32,32"}),
    ("bad: zero size", Tutorial, {"input_size": (1, 0, 32, 32)}),
    ("bad: tensor as size", Tutorial, {"input_size": torch.randn(1, 1, 32, 32)}),
    ("bad: wrong channels", Tutorial, {"input_size": (1, 3, 32, 32)}),
]


def _flat(out) -> list:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _flat(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _flat(v)]
    return []


def _state(model):
    if isinstance(model, torch.jit.ScriptModule):
        return None
    return (
        [(n, t.detach().clone(), t.requires_grad) for n, t in model.named_parameters()],
        [(n, t.detach().clone()) for n, t in model.named_buffers()],
        [(m.training, len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()],
    )


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    pa, ba, fa = a
    pb, bb, fb = b
    return (
        fa == fb
        and [(n, g) for n, _, g in pa] == [(n, g) for n, _, g in pb]
        and all(
            x.device == y.device and (x.is_meta or torch.equal(x, y))
            for (_, x, _), (_, y, _) in zip(pa, pb)
        )
        and [n for n, _ in ba] == [n for n, _ in bb]
        and all(x.is_meta or torch.equal(x, y) for (_, x), (_, y) in zip(ba, bb))
    )


def torch_truth(model, call):
    """What torch says: total and trainable parameters, output shapes and FlopCounterMode's MACs of
    the forward in the mode asked for (on a copy of the model: buffers untouched)."""
    m = copy.deepcopy(model)
    mode = call.get("mode")
    if mode == "train":
        m.train()
    elif mode == "eval":
        m.eval()
    data = call.get("input_data")
    if data is None:
        sizes = call["input_size"]
        sizes = sizes if isinstance(sizes[0], (tuple, list)) else [sizes]
        dtypes = call.get("dtypes") or [torch.float32] * len(sizes)
        bd = call.get("batch_dim")
        data = [
            (torch.randn(s) if d.is_floating_point else torch.zeros(s, dtype=d))
            if bd is None
            else torch.randn(s).unsqueeze(bd)
            for s, d in zip(sizes, dtypes)
        ]
    skip = {"input_size", "input_data", "dtypes", "batch_dim", "device", "mode"}
    kwargs = {k: v for k, v in call.items() if k not in skip}
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        if isinstance(data, dict):
            out = m(**data, **kwargs)
        elif isinstance(data, torch.Tensor):
            out = m(data, **kwargs)
        else:
            out = m(*data, **kwargs)
    ps = list(model.parameters())
    return {
        "total": sum(p.numel() for p in ps),
        "trainable": sum(p.numel() for p in ps if p.requires_grad),
        "outputs": [tuple(t.shape) for t in _flat(out)],
        "macs": fc.get_total_flops() // 2,
    }


def check(make, call) -> tuple[str, str]:
    """("exact" | "refused" | "wrong" | "traceback" | "changed", detail)."""
    model = make()
    before = _state(model)
    try:
        s = cnncalc.summary(model, **call, verbose=0)
    except cnncalc.SpecError as e:
        text = str(e)
        if not _same(before, _state(model)):
            return "changed", "the model changed"
        return ("refused" if "\n" not in text and text else "traceback"), text
    except Exception as e:  # noqa: BLE001 - the finding itself
        return "traceback", f"{type(e).__name__}: {e}"
    if not _same(before, _state(model)):
        return "changed", "the model came back changed"
    try:
        truth = torch_truth(model, call)
    except Exception as e:  # noqa: BLE001
        return "wrong", f"torch refuses what cnncalc summarised: {type(e).__name__}: {e}"
    ours = {
        "total": s.total_params,
        "trainable": s.trainable_params,
        "outputs": [tuple(shape) for _, shape in s.outputs],
        "macs": s.total_macs,
    }
    diff = {k: (ours[k], truth[k]) for k in truth if ours[k] != truth[k]}
    if s.analysis.total_macs != s.total_macs:
        diff["analysis macs"] = (s.analysis.total_macs, s.total_macs)
    return ("wrong", str(diff)) if diff else ("exact", "")
