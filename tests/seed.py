"""The seed's own figures, read from fixtures/seminar-answers.md rather than retyped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seminar-answers.md"
# Applications the seed names. Two small enough to build in seconds, whose weights="imagenet"
# is run against a served file: Keras downloads EfficientNetB0's weights with a pinned file
# hash and MobileNet's without one.
DOWNLOADED = ("MobileNet", "EfficientNetB0")
# The three models question 15 names, with include_top=False (the transfer-learning variant).
SEED_PRETRAINED = ("VGG16", "ResNet50", "InceptionV3")
# Question 4's table of pretrained models: a header line, then one tab-separated line per model.
MODEL_TABLE_HEADER = (
    "Model", "Size (MB)", "Top-1 Accuracy", "Top-5 Accuracy", "Parameters", "Depth",
    "Time (ms) per inference step (CPU)", "Time (ms) per inference step (GPU)",
)


@dataclass(frozen=True)
class ModelRow:
    """One row of the table: size in MB, accuracies in percent, parameters in millions, depth in
    layers, CPU and GPU time in ms per inference step."""

    name: str
    size_mb: float
    top1: float
    top5: float
    params_m: float
    depth: int
    cpu_ms: float
    gpu_ms: float


def model_table(text: str | None = None) -> tuple[ModelRow, ...]:
    """Question 4's table, from the line after its header up to the first blank line, from the
    seed (or `text`). A changed header is an error, not a shorter table."""
    lines = (SEED.read_text(encoding="utf-8") if text is None else text).splitlines()
    rows = []
    for line in lines[lines.index("\t".join(MODEL_TABLE_HEADER)) + 1:]:
        if not line.strip():
            break
        name, size, top1, top5, params, depth, cpu, gpu = line.split("\t")
        rows.append(ModelRow(name, float(size), float(top1.removesuffix("%")),
                             float(top5.removesuffix("%")), float(params.removesuffix("M")),
                             int(depth), float(cpu), float(gpu)))
    return tuple(rows)
