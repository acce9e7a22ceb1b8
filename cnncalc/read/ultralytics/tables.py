"""The tables of what a row may name: the modules by name, parse_model's argument rules (BASE:
output channels first and scaled; REPEAT: the repeats passed in), the heads, the tasks, the
``nn.`` rows, and the modules of families cnncalc does not read yet."""

from __future__ import annotations

from .area import A2C2f
from .detr import RTDETRDecoder
from .elan import ELAN1, SPPELAN, AConv, ADown, CBFuse, CBLinear, RepNCSPELAN4
from .heads import (
    OBB,
    OBB26,
    Detect,
    Pose,
    Pose26,
    Segment,
    Segment26,
    SemanticSegment,
    WorldDetect,
    YOLOEDetect,
    YOLOESegment,
    YOLOESegment26,
    v10Detect,
)
from .modules import (
    C2,
    C2PSA,
    C3,
    SPP,
    SPPF,
    Bottleneck,
    C2f,
    C3Ghost,
    C3k2,
    Classify,
    Conv,
    DWConv,
    GhostBottleneck,
    GhostConv,
    ResNetLayer,
)
from .rtdetr import AIFI, HGBlock, HGStem, RepC3
from .v10 import PSA, C2fCIB, SCDown
from .world import C2fAttn, ImagePoolingAttn
from .yolo26 import Depth

MODULES = {
    f.__name__: f
    for f in (
        Conv,
        DWConv,
        GhostConv,
        Bottleneck,
        GhostBottleneck,
        C2,
        C2f,
        C3,
        C3Ghost,
        C3k2,
        SPPF,
        SPP,
        C2PSA,
        ResNetLayer,
        RepNCSPELAN4,
        ELAN1,
        AConv,
        ADown,
        SPPELAN,
        CBLinear,
        CBFuse,
        SCDown,
        PSA,
        C2fCIB,
        A2C2f,
        v10Detect,
        OBB26,
        Segment26,
        Pose26,
        SemanticSegment,
        Depth,
        Classify,
        Detect,
        Segment,
        Pose,
        OBB,
        HGStem,
        HGBlock,
        RepC3,
        AIFI,
        RTDETRDecoder,
        C2fAttn,
        ImagePoolingAttn,
        WorldDetect,
        YOLOEDetect,
        YOLOESegment,
        YOLOESegment26,
    )
    # the modules a row may name (C3k, PSABlock, Attention and Proto are only inside others, as in
    # parse_model)
}
BASE = {
    "Classify",
    "Conv",
    "GhostConv",
    "Bottleneck",
    "GhostBottleneck",
    "SPP",
    "SPPF",
    "C2PSA",
    "DWConv",
    "C2",
    "C2f",
    "C3k2",
    "C3",
    "C3Ghost",
    "nn.ConvTranspose2d",
    "RepNCSPELAN4",
    "ELAN1",
    "ADown",
    "AConv",
    "SPPELAN",
    "SCDown",
    "PSA",
    "C2fCIB",
    "A2C2f",
    "RepC3",
    "C2fAttn",
}
REPEAT = {"C2", "C2f", "C3k2", "C3", "C3Ghost", "C2PSA", "C2fCIB", "A2C2f", "RepC3", "C2fAttn"}
HEADS = {"Detect", "Segment", "Segment26", "Pose", "Pose26", "OBB", "OBB26", "v10Detect"}
HEADS |= {"SemanticSegment", "Depth", "RTDETRDecoder", "WorldDetect"}
HEADS |= {"YOLOEDetect", "YOLOESegment", "YOLOESegment26"}
TASKS = {"Classify": "classify", "SemanticSegment": "semantic", "Depth": "depth"}  # else detect
TASKS |= {"Segment": "segment", "Segment26": "segment", "Pose": "pose", "Pose26": "pose"}
TASKS |= {"OBB": "obb", "OBB26": "obb", "YOLOESegment": "segment", "YOLOESegment26": "segment"}
NN = {
    "nn.Upsample": "Upsample",
    "nn.MaxPool2d": "MaxPool2d",
    "nn.ZeroPad2d": "ZeroPad2d",
    "nn.BatchNorm2d": "BatchNorm2d",
    "nn.Identity": "Identity",
    "nn.AvgPool2d": "AvgPool2d",
    "nn.AdaptiveAvgPool2d": "AdaptiveAvgPool2d",
    "nn.ConvTranspose2d": "ConvTranspose2d",
    "nn.Dropout": "Dropout",
    "nn.ReLU": "ReLU",
    "nn.SiLU": "SiLU",
}
KNOWN_ELSEWHERE = {
    "C2fPSA",
    "TorchVision",
    "Index",
    "Focus",
    "C1",
    "C3x",
    "C3TR",
    "BottleneckCSP",
    "ConvTranspose",
    "DWConvTranspose2d",
}
# modules Ultralytics itself cannot build offline: why, in the refusal
OFFLINE = {
    "TorchVision": (
        "builds a torchvision model by name (with the weights it names, which Ultralytics "
        "downloads to build it): not read by cnncalc"
    ),
}
