"""tlkit-sparse-parity: an example tlkit target plugin (a k-sparse parity)."""

from tlkit_sparse_parity.target import SparseParity

__all__ = ["SparseParity"]
