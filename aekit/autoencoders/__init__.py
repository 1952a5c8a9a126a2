"""The autoencoder family: one composable torch model, scikit-learn estimators around it.

- :class:`AutoencoderModule`: encoder/decoder MLPs of any depth, tied or untied
  weights, squared-error or cross-entropy reconstruction, and regularizers that
  compose (weight decay, L1 on weights, KL average-activation sparsity,
  kurtosis, L1 on activations, k-sparse selection, denoising corruption,
  contraction). It names its loss terms; :class:`aekit.training.Trainer` trains it.
- Estimators (scikit-learn transformers): :class:`Autoencoder` with every
  option, and the presets :class:`SparseAutoencoder`, :class:`KSparseAutoencoder`,
  :class:`DenoisingAutoencoder`, :class:`ContractiveAutoencoder`.
- Input corruptions of denoising autoencoders (:func:`masking`, :func:`gaussian`,
  :func:`salt_and_pepper`, :func:`make_corruption`): tensors in, ``(x_tilde, mask)`` out.
- Pure functions of tensors: the penalties (:func:`kl_sparsity`,
  :func:`contractive_sigmoid`, :func:`contractive_jacobian`, ...) and the
  k-sparse selection (:func:`topk`, :class:`TopK`).
- Deep stacks (:class:`StackedAutoencoder`, :class:`StackedAutoencoderClassifier`):
  greedy layer-wise pretraining of any of these estimators, then fine-tuning
  (unrolled reconstruction, or a softmax layer and labels) by the same trainer.
- Sparse autoencoders of network activations (:class:`SparseDictionary`, on
  :class:`SparseDictionaryModule`): TopK, BatchTopK, ReLU+L1, JumpReLU and
  Matryoshka codes (activations :class:`TopK`, :class:`BatchTopK`,
  :class:`ReLUL1`, :class:`JumpReLU`), sparse kernels on :class:`SparseCodes`,
  AuxK, unit-norm atoms; :func:`export_saelens` writes SAELens's format.
"""

from aekit.autoencoders import _penalties
from aekit.autoencoders._activations import ACTIVATIONS, Activation, CodeActivation, get_activation
from aekit.autoencoders._autoencoder import Autoencoder, AutoencoderMaps, EncoderEstimator
from aekit.autoencoders._corruption import CORRUPTIONS, Corruption, gaussian, make_corruption, masking, salt_and_pepper
from aekit.autoencoders._module import AutoencoderModule
from aekit.autoencoders._penalties import *  # noqa: F401,F403  (every loss and penalty: _penalties.__all__)
from aekit.autoencoders._presets import (
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
    SparseAutoencoder,
)
from aekit.autoencoders._options import MODEL_OPTIONS
from aekit.autoencoders._stacked import StackedAutoencoder
from aekit.autoencoders._stacked_classifier import StackedAutoencoderClassifier
from aekit.autoencoders._stacked_module import EncoderStack, SoftmaxModule, StackedClassifierModule, StackedModule
from aekit.autoencoders._topk import TopK, k_schedule, topk, topk_mask
from aekit.autoencoders._batchtopk import BatchTopK
from aekit.autoencoders._jumprelu import JumpReLU, heaviside_step, jumprelu
from aekit.autoencoders._relu_l1 import ReLUL1
from aekit.autoencoders._sparse_codes import SparseCodes
from aekit.autoencoders._sae import SparseDictionaryModule
from aekit.autoencoders._sae_options import SAE_OPTIONS
from aekit.autoencoders._sparse_dictionary import SparseDictionary
from aekit.autoencoders._saelens import export_saelens

__all__ = [
    "Autoencoder",
    "AutoencoderMaps",
    "EncoderEstimator",
    "SparseAutoencoder",
    "KSparseAutoencoder",
    "DenoisingAutoencoder",
    "ContractiveAutoencoder",
    "StackedAutoencoder",
    "StackedAutoencoderClassifier",
    "StackedModule",
    "StackedClassifierModule",
    "EncoderStack",
    "SoftmaxModule",
    "MODEL_OPTIONS",
    "AutoencoderModule",
    "Corruption",
    "CORRUPTIONS",
    "make_corruption",
    "masking",
    "gaussian",
    "salt_and_pepper",
    "SparseDictionary",
    "export_saelens",
    "SparseDictionaryModule",
    "SAE_OPTIONS",
    "SparseCodes",
    "BatchTopK",
    "JumpReLU",
    "ReLUL1",
    "jumprelu",
    "heaviside_step",
    "TopK",
    "topk",
    "topk_mask",
    "k_schedule",
    "ACTIVATIONS",
    "Activation",
    "CodeActivation",
    "get_activation",
    *_penalties.__all__,
]
