"""Make the data of three example specs: a churn table, short reviews and an image folder.

    churn.csv     specs/churn.yaml: 1,500 customers; numbers (tenure_months, monthly_charges
                  with 6% empty cells, support_calls), categories (contract, internet with 4%
                  empty cells, payment) and a text label `churned` (stayed or left), drawn
                  from a logistic model of those columns
    reviews.csv   specs/review_sentiment.yaml: 1,200 one-line product reviews made of a few
                  phrases each, labelled negative or positive by the phrases' tone (5% of the
                  labels flipped, as real ratings disagree with their text)
    shapes/       specs/shape_images.yaml: 32x32 RGB PNG drawings of circles, squares and
                  triangles (200 of each) of random size, place and colour on a dark,
                  speckled background

Run `python specs/data/make_examples.py` to write them next to this script; the output is the
same on every run (one seeded generator, PNG files without time stamps).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).parent
SEED = 20261201


def make_churn(rng: np.random.Generator, n: int = 1500) -> list[dict[str, str]]:
    """Customers with a churn probability that rises with short tenure, high charges, many
    support calls, a month-to-month contract, fiber internet and paying by electronic check."""
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["dsl", "fiber", "none"], n, p=[0.4, 0.4, 0.2])
    payment = rng.choice(["card", "bank", "electronic-check", "mail"], n)
    tenure = rng.integers(1, 73, n)
    charges = np.round(
        20 + 50 * (internet == "fiber") + 25 * (internet == "dsl") + rng.normal(0, 12, n), 2
    )
    calls = np.minimum(rng.poisson(1.5, n), 9)
    logit = (
        -1.0
        - 0.045 * (tenure - 24)
        + 0.025 * (charges - 60)
        + 0.45 * (calls - 1.5)
        + 1.3 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        + 0.6 * (internet == "fiber")
        + 0.7 * (payment == "electronic-check")
    )
    left = rng.random(n) < 1 / (1 + np.exp(-logit))
    no_charge = rng.random(n) < 0.06
    no_internet = rng.random(n) < 0.04
    rows = []
    for i in range(n):
        rows.append(
            {
                "customer": f"C{i + 1:05d}",
                "tenure_months": str(tenure[i]),
                "monthly_charges": "" if no_charge[i] else f"{charges[i]:.2f}",
                "support_calls": str(calls[i]),
                "contract": str(contract[i]),
                "internet": "" if no_internet[i] else str(internet[i]),
                "payment": str(payment[i]),
                "churned": "left" if left[i] else "stayed",
            }
        )
    return rows


GOOD = [
    "works great",
    "love it",
    "excellent quality",
    "highly recommend",
    "fast shipping",
    "very happy",
    "exceeded expectations",
    "sturdy and well made",
    "great value",
    "easy to use",
    "perfect fit",
    "would buy again",
]
BAD = [
    "broke after a week",
    "waste of money",
    "poor quality",
    "very disappointed",
    "arrived damaged",
    "does not work",
    "cheap and flimsy",
    "returned it",
    "terrible support",
    "stopped working",
    "not as described",
    "would not buy again",
]
NEUTRAL = [
    "bought it for my kitchen",
    "the box was blue",
    "ordered on monday",
    "for my brother",
    "it comes in three colours",
    "took two days",
    "second one i bought",
    "as a gift",
]


def make_reviews(rng: np.random.Generator, n: int = 1200) -> list[dict[str, str]]:
    """Reviews of two or three phrases: mostly of one tone, sometimes one of the other tone
    and a neutral phrase; the label is the majority tone, 5% flipped."""
    rows = []
    for _ in range(n):
        positive = bool(rng.random() < 0.5)
        own, other = (GOOD, BAD) if positive else (BAD, GOOD)
        phrases = list(rng.choice(own, rng.integers(1, 3), replace=False))
        if rng.random() < 0.3:
            phrases.append(str(rng.choice(other)))
        if rng.random() < 0.6:
            phrases.append(str(rng.choice(NEUTRAL)))
        rng.shuffle(phrases)
        label = positive if rng.random() >= 0.05 else not positive
        text = ", ".join(phrases)
        rows.append(
            {
                "review": text[0].upper() + text[1:] + ".",
                "sentiment": "positive" if label else "negative",
            }
        )
    return rows


def draw_shape(rng: np.random.Generator, kind: str, size: int = 32) -> Image.Image:
    """One shape of random size, centre and colour on a dark, speckled background."""
    base = rng.integers(0, 70, 3)
    speckles = (rng.random((size, size, 1)) < 0.15) * 40
    image = Image.fromarray((base + speckles).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    r = int(rng.integers(5, 12))
    cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
    colour = tuple(int(v) for v in rng.integers(120, 256, 3))
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return image


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(SEED)
    write_csv(HERE / "churn.csv", make_churn(rng))
    write_csv(HERE / "reviews.csv", make_reviews(rng))
    folder = HERE / "shapes"
    shutil.rmtree(folder, ignore_errors=True)
    for kind in ("circle", "square", "triangle"):
        (folder / kind).mkdir(parents=True)
        for i in range(200):
            draw_shape(rng, kind).save(folder / kind / f"{kind}_{i:03d}.png", optimize=True)
    print("wrote churn.csv, reviews.csv and shapes/ (3 x 200 PNG images)")


if __name__ == "__main__":
    main()
