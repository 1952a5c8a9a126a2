"""aekit: representation learning behind one scikit-learn-style API.

Linear methods (:mod:`aekit.decomposition`), manifold learning
(:mod:`aekit.manifold`) and the autoencoder family (:mod:`aekit.autoencoders`)
share the estimator conventions of scikit-learn (``fit`` / ``transform`` /
``inverse_transform``, learned state in attributes ending in ``_``) and compute
with PyTorch on the device given by their ``device`` parameter.
"""

__version__ = "0.1.0"
