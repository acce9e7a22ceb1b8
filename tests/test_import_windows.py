"""import of windowed attention as Swin writes it (the code below is written for this test): a
function marked with torch.fx.wrap (traced into), the cyclic shift (``torch.roll``), a relative
position bias (a parameter table indexed by a buffer), the shifted-window mask made from sizes
with item assignment (folded into a Constant), cosine attention (``F.normalize``) and a bias
zeroed in part on a copy. The importer checks every number against the model itself (parameter
names and shapes, buffers, MACs as FlopCounterMode counts them, output shapes); verify builds the
spec in torch and compares again."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnncalc.bridge.export import ExportError, export
from cnncalc.bridge.importer import ImportFailed, import_model
from cnncalc.bridge.verify import verify
from cnncalc.engine import analyze
from cnncalc.read import parse


def _bias_of(table, index, n: int):
    return table[index].view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)


torch.fx.wrap("_bias_of")  # kept as one call by plain fx: the importer traces into it


class WindowAttention(nn.Module):
    def __init__(self, dim=8, heads=2, window=3, shift=1, cosine=False):
        super().__init__()
        self.heads, self.w, self.shift, self.cosine = heads, window, shift, cosine
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        r = torch.arange(window)
        grid = torch.stack(torch.meshgrid(r, r, indexing="ij")).flatten(1)
        rel = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("index", rel[..., 0] * (2 * window - 1) + rel[..., 1])
        if cosine:
            self.scale = nn.Parameter(torch.full((heads, 1, 1), 2.3))

    def forward(self, x):  # (B, H, W, C)
        b, h, w, c = x.shape
        ws, n = self.w, self.w * self.w
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, n, c)
        bias = self.qkv.bias
        if self.cosine:
            bias = bias.clone()
            bias[c : 2 * c].zero_()
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.reshape(x.size(0), n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        if self.cosine:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.scale, max=4.6).exp()
        else:
            attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        attn = attn + _bias_of(self.table, self.index.view(-1), n)
        if self.shift:
            mask = x.new_zeros((h, w))
            cuts = ((0, -ws), (-ws, -self.shift), (-self.shift, None))
            for label, (r0, r1, c0, c1) in enumerate(r + s for r in cuts for s in cuts):
                mask[r0:r1, c0:c1] = label
            mask = mask.view(h // ws, ws, w // ws, ws).permute(0, 2, 1, 3).reshape(-1, n)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0)
            windows = mask.shape[0]
            attn = attn.view(-1, windows, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, c)
        x = self.proj(x).view(b, h // ws, w // ws, ws, ws, c)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2)) if self.shift else x


class Block(nn.Module):
    def __init__(self, cosine: bool):
        super().__init__()
        self.a = WindowAttention(shift=0, cosine=cosine)
        self.b = WindowAttention(shift=1, cosine=cosine)

    def forward(self, x):
        x = x + self.a(x)
        return x + self.b(x)


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("batch", [1, 2])
def test_shifted_windows_import_exactly(cosine, batch):
    torch.manual_seed(0)
    model = Block(cosine).eval()
    shape = (batch, 6, 9, 8)
    imported = import_model(model, shape, "swin")
    a = analyze(parse(imported.text))
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(torch.randn(shape))
    assert a.total_macs == fc.get_total_flops() // 2 > 0
    assert a.output == tuple(out.shape)
    assert sorted((t.name, t.shape) for t in a.tensors) == sorted(
        (n, tuple(p.shape)) for n, p in model.named_parameters()
    )
    assert sorted((t.name, t.shape) for t in a.buffers) == sorted(
        (n, tuple(b.shape)) for n, b in model.named_buffers()
    )
    types = [x.type for x in a.layers]
    assert types.count("Roll") == 2 and types.count("Index") == 2
    assert types.count("Constant") == 1  # the shifted block's mask, folded
    assert verify(a, "cpu").ok
    spec_text = imported.text
    assert ("into copies of 2 parameters in the forward" in spec_text) == cosine
    with pytest.raises(ExportError, match="top-level module only"):
        export(a)  # tables owned by submodules: refused in one line, never written wrongly


class WritesIntoItsInput(nn.Module):
    def forward(self, x):
        y = x * 2
        y[:, 0] = 0.0
        return y


def test_item_assignment_into_a_computed_tensor_is_refused_with_its_line():
    with pytest.raises(ImportFailed) as e:
        import_model(WritesIntoItsInput(), (2, 3), "w")
    assert "item assignment" in str(e.value) and "test_import_windows.py:" in str(e.value)


class ProductOfSizes(nn.Module):
    """A sin-cos style table made from sizes by a product FlopCounterMode counts: the product
    stays a layer (its inputs Constants), so the MACs are torch's."""

    def forward(self, x):
        pos = torch.arange(x.shape[1], dtype=torch.float32)[:, None]
        omega = torch.arange(x.shape[2] // 2, dtype=torch.float32)[None, :] / 4.0
        table = pos @ omega
        return x + torch.cat([table.sin(), table.cos()], dim=1)


def test_a_product_of_tensors_made_from_sizes_is_counted():
    imported = import_model(ProductOfSizes(), (2, 5, 8), "p")
    a = analyze(parse(imported.text))
    with FlopCounterMode(display=False) as fc:
        ProductOfSizes()(torch.randn(2, 5, 8))
    assert a.total_macs == fc.get_total_flops() // 2 == 5 * 4
    assert [x.type for x in a.layers if x.macs] == ["MatMul"]


class Attentions(nn.Module):
    """Attention calls of the same kernel's inputs twice over (as a ViT's blocks), and of others."""

    def __init__(self):
        super().__init__()
        self.a = nn.ModuleList(nn.MultiheadAttention(8, 2, batch_first=True) for _ in range(3))

    def forward(self, x):
        x = self.a[0](x, x, x, need_weights=False)[0]
        x = self.a[1](x, x, x, need_weights=False)[0]
        y = self.a[2](x, x[:, :3], x[:, :3])[0]  # cross-attention, with weights: another kernel
        return F.scaled_dot_product_attention(x, x, x) + F.scaled_dot_product_attention(x, x, x) + y


def test_attention_calls_alike_run_once_on_the_cpu_and_count_as_torch_does(monkeypatch):
    """Within a meta trace, attention runs alone on the CPU (the kernel it picks there needs
    data); a call like one before it (module settings, shapes, strides, dtypes, which arguments
    are the same tensor) takes that run's counts and shapes. The import's MACs equal
    FlopCounterMode's of the model run eagerly."""
    from cnncalc.bridge import tracer

    runs = []
    real = tracer._on_cpu
    monkeypatch.setattr(tracer, "_on_cpu", lambda *a: runs.append(1) or real(*a))
    model = Attentions().eval()
    imported = import_model(model, (2, 5, 8), "a")
    assert len(runs) == 3  # a[0] and a[1] alike, a[2] not; the two sdpa calls alike
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(torch.randn(2, 5, 8))
    assert imported.analysis.total_macs == fc.get_total_flops() // 2
    assert imported.analysis.output == tuple(out.shape)
