"""Contract checks that plugin authors run in their own tests.

Example::

    from tlkit.testing import check_target
    check_target(MyTarget(d=8, seed=0))
"""

from tlkit.testing.networks import check_architecture
from tlkit.testing.probes import check_probe
from tlkit.testing.targets import check_target

__all__ = ["check_architecture", "check_probe", "check_target"]
