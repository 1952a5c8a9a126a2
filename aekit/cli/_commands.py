"""Import every command module so that its commands register on the apps."""
from aekit.cli import _report  # noqa: F401,E402  (aekit report)
from aekit.cli import _datasets  # noqa: F401,E402  (aekit datasets)
from aekit.cli import _train  # noqa: F401,E402  (aekit train)
from aekit.cli import _fit_decomposition  # noqa: F401,E402  (aekit fit pca|ica|sfa)
from aekit.cli import _demo  # noqa: F401,E402  (aekit demo)
from aekit.cli import _fit_som  # noqa: F401,E402  (aekit fit som|cca|pcurve)
from aekit.cli import _eval  # noqa: F401,E402  (aekit eval)
from aekit.cli import _bench  # noqa: F401,E402  (aekit bench paper)
