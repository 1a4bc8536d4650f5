"""The local Dask cluster, notebook style: start it once, run several problems, close it.

``engine.minimize(..., client=None)`` (the default) starts a temporary local cluster sized to
the machine for one call and closes it afterwards. When you solve several problems, start
the cluster yourself and pass its ``Client``: the workers stay up between calls. Paste the
cells into a notebook or run the file. Worker processes re-import the script that started
them, hence the ``if __name__ == "__main__":`` guard when run as a file. ``progress=True``
shows starts done, best value, minima, failures and time left while a run goes on.

Run: python examples/laptop_cluster.py
"""

from __future__ import annotations

import logging

import numpy as np

import engine


def himmelblau(x: np.ndarray) -> float:
    """Four minima with f = 0 in [-5, 5]^2."""
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def six_hump_camel(x: np.ndarray) -> float:
    """Six minima in [-3, 3] x [-2, 2]; the two global ones have f = -1.0316."""
    a, b = x[0], x[1]
    return float((4 - 2.1 * a**2 + a**4 / 3) * a**2 + a * b + (-4 + 4 * b**2) * b**2)


def main() -> None:
    from distributed import Client, LocalCluster

    # %% start a cluster: 2 worker processes, one thread each (solves are single-threaded)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    print(f"cluster with {len(client.scheduler_info()['workers'])} workers")

    # %% solve on it, as often as you like
    res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], n_starts=64, seed=0, client=client)
    print(res.summary())
    # progress=True: a live bar in a terminal or notebook, plain lines in a log
    camel = engine.minimize(six_hump_camel, [(-3, 3), (-2, 2)], n_starts=256, seed=0,
                            client=client, progress=True)
    where = camel.provenance["cluster"]
    print(f"six-hump camel: best f = {camel.fun:.6f}, {len(camel.minima)} distinct minima "
          f"(on {where['kind']} with {where['n_workers']} workers)")

    # %% close it when done
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
