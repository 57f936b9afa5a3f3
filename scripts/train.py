"""Train the seed network (hidden 32 and 64, ReLU, softmax) on scikit-learn's handwritten digits.

    python scripts/train.py --epochs 30

Prints each epoch and the test accuracy. The digits ship with scikit-learn: no download.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def load_digits_split(seed: int, test_fraction: float = 0.2):
    """Digits scaled to [0, 1], one-hot labels, and a stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[digits.target]
    return train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=digits.target
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, split and shuffle")
    args = parser.parse_args(argv)

    from fnn.layers import Dense
    from fnn.models import Sequential

    x_train, x_test, y_train, y_test = load_digits_split(args.seed)
    model = Sequential(seed=args.seed)
    model.add(Dense(32, activation="relu", input_shape=x_train.shape[1]))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f} - test accuracy: {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
