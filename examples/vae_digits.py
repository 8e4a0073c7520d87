"""A variational autoencoder on the digits (Kingma & Welling 2014), written with dlcore.distributions.

The encoder gives q(z | x) = Normal(mu(x), sigma(x)); a sample z = mu + sigma * eps (``rsample``: the
reparameterization trick, so the gradient reaches the encoder) goes through the decoder to Bernoulli logits
of the pixels. Training maximizes the evidence lower bound

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || Normal(0, 1)),

with the KL in closed form (``kl_divergence``). The table gives, per latent size, the test ELBO and its two
parts in nats per image (higher ELBO is better), and the training images/s.

    python examples/vae_digits.py --data-dir ~/data/mnist    # MNIST
    python examples/vae_digits.py                            # built-in 8x8 digits, shown as 28x28
"""
import sys
import time

from _course import mnist_or_digits, parser, print_table, seed_all

import dlcore
import dlcore.distributions as D
from dlcore import nn
from dlcore.data import DataLoader
from dlcore.nn import functional as F


class VAE(nn.Module):
    def __init__(self, latent, hidden=256, pixels=28 * 28):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
        self.mu, self.log_sigma = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, pixels))

    def posterior(self, x):
        h = self.encoder(x)
        return D.Normal(self.mu(h), self.log_sigma(h).exp())

    def forward(self, x):
        """(reconstruction log-likelihood, KL) per image, for the batch x of images in [0, 1]."""
        q = self.posterior(x)
        logits = self.decoder(q.rsample())
        target = x.reshape(x.shape[0], -1)
        log_likelihood = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
        prior = D.Normal(dlcore.zeros_like(q.loc), dlcore.ones_like(q.scale))
        return log_likelihood, D.kl_divergence(q, prior).sum(1)


def evaluate(model, dataset):
    model.eval()
    totals, count = [0.0, 0.0], 0
    with dlcore.no_grad():
        for x, _ in DataLoader(dataset, batch_size=500):
            rec, kl = model(x)
            totals[0] += rec.sum().item()
            totals[1] += kl.sum().item()
            count += x.shape[0]
    model.train()
    return totals[0] / count, totals[1] / count


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=10, lr=1e-3, batch_size=100)
    p.add_argument("--latent", type=int, nargs="+", default=[2, 16])
    args = p.parse_args(argv)
    train_set, test_set = mnist_or_digits(args)
    rows = []
    for latent in args.latent:
        seed_all(args.seed)
        model = VAE(latent)
        opt = dlcore.optim.Adam(model.parameters(), lr=args.lr)
        seen, start = 0, time.perf_counter()
        for _ in range(args.epochs):
            for x, _ in DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed):
                rec, kl = model(x)
                loss = (kl - rec).mean()  # the negative ELBO
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += x.shape[0]
        speed = seen / (time.perf_counter() - start)
        rec, kl = evaluate(model, test_set)
        rows.append({"latent": latent, "elbo": rec - kl, "rec": rec, "kl": kl, "images_per_s": speed})
    return print_table(rows, [("latent", "latent size", ""), ("elbo", "test ELBO (nats)", ".1f"),
                              ("rec", "E log p(x|z)", ".1f"), ("kl", "KL(q || prior)", ".1f"),
                              ("images_per_s", "train images/s", ".0f")],
                       title=f"VAE on the digits, {args.epochs} epochs")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
