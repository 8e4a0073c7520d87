"""Will Nancy like Gravity? Logistic regression on a small table of the films Nancy rated.

Each film Nancy has seen is described by a few yes/no features (genre, stars,
setting) and her verdict (liked it: 1, did not: 0). A logistic regression,
p(like) = sigmoid(w . features + b), is fitted with binary_cross_entropy_with_logits
and a little L2 (weight decay), then asked about Gravity (2013), which she has
not seen. The table is invented for the lesson and shipped here.

    python examples/nancy_gravity.py
"""
import argparse
import sys

import numpy as np
from _course import print_table

import dlcore
from dlcore import nn
from dlcore.nn import functional as F

FEATURES = ("sci-fi", "space", "romance", "action", "drama", "Sandra Bullock", "George Clooney", "over 2 hours")

#: film -> (features as 0/1 in FEATURES order, Nancy liked it)
RATINGS = {
    "Apollo 13":             ((0, 1, 0, 0, 1, 0, 0, 1), 1),
    "Interstellar":          ((1, 1, 0, 0, 1, 0, 0, 1), 1),
    "The Martian":           ((1, 1, 0, 0, 1, 0, 0, 1), 1),
    "Speed":                 ((0, 0, 1, 1, 0, 1, 0, 0), 1),
    "The Blind Side":        ((0, 0, 0, 0, 1, 1, 0, 1), 1),
    "Ocean's Eleven":        ((0, 0, 0, 1, 0, 0, 1, 0), 1),
    "Up in the Air":         ((0, 0, 1, 0, 1, 0, 1, 0), 1),
    "Arrival":               ((1, 0, 0, 0, 1, 0, 0, 0), 1),
    "Transformers":          ((1, 0, 0, 1, 0, 0, 0, 1), 0),
    "Armageddon":            ((1, 1, 1, 1, 0, 0, 0, 1), 0),
    "Batman & Robin":        ((0, 0, 0, 1, 0, 0, 1, 1), 0),
    "Miss Congeniality 2":   ((0, 0, 1, 1, 0, 1, 0, 0), 0),
    "Pacific Rim":           ((1, 0, 0, 1, 0, 0, 0, 1), 0),
    "The Notebook":          ((0, 0, 1, 0, 1, 0, 0, 1), 0),
    "Fast & Furious 6":      ((0, 0, 0, 1, 0, 0, 0, 1), 0),
    "Moon":                  ((1, 1, 0, 0, 1, 0, 0, 0), 1),
}

GRAVITY = (1, 1, 0, 0, 1, 1, 1, 0)


def fit(x, y, epochs, lr, weight_decay, seed):
    dlcore.manual_seed(seed)
    model = nn.Linear(x.shape[1], 1)
    opt = dlcore.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = dlcore.from_numpy(x), dlcore.from_numpy(y[:, None])
    for _ in range(epochs):  # full batch: the whole table is one batch
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(xt), yt)
        loss.backward()
        opt.step()
    return model, loss.item()


def probability(model, features):
    with dlcore.no_grad():
        return float(dlcore.nn.functional.sigmoid(model(dlcore.tensor([features], dtype=np.float32))).item())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    films = list(RATINGS)
    x = np.array([RATINGS[f][0] for f in films], np.float32)
    y = np.array([RATINGS[f][1] for f in films], np.float32)
    model, loss = fit(x, y, args.epochs, args.lr, args.weight_decay, args.seed)
    print_table([{"film": f, "liked": "yes" if RATINGS[f][1] else "no", "p": probability(model, RATINGS[f][0])}
                 for f in films], [("film", "film Nancy rated", ""), ("liked", "she liked it", ""),
                                   ("p", "model's p(like)", ".2f")],
                f"Nancy's ratings ({len(films)} films, training loss {loss:.3f})")
    weights = model.weight.numpy()[0]
    print_table([{"feature": name, "w": float(w)} for name, w in zip(FEATURES, weights)] +
                [{"feature": "(bias)", "w": float(model.bias.numpy()[0])}],
                [("feature", "feature", ""), ("w", "weight", "+.2f")], "What the model learned")
    p_gravity = probability(model, GRAVITY)
    shown = ", ".join(name for name, on in zip(FEATURES, GRAVITY) if on)
    print(f"\nGravity ({shown}): p(Nancy likes it) = {p_gravity:.2f} -> "
          f"{'yes, recommend it' if p_gravity >= 0.5 else 'no, skip it'}")
    return [{"film": "Gravity", "p": p_gravity}]


if __name__ == "__main__":
    main(sys.argv[1:])
