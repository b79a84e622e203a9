"""Sample-quality scores: FID / KID / IS (torchmetrics) on Inception or domain-classifier features."""

from dcgan.metrics.classifier import GrayClassifier, load_classifier, save_classifier
from dcgan.metrics.features import FeatureNet, build_feature_net, extract, resolve_feature
from dcgan.metrics.inception import InceptionFeatures, inception_weights
from dcgan.metrics.real import load_datamodule, real_features, with_split
from dcgan.metrics.scores import SCORES, compute_scores, frechet_distance, inception_score, kernel_distance

__all__ = [
    "SCORES",
    "FeatureNet",
    "GrayClassifier",
    "InceptionFeatures",
    "build_feature_net",
    "compute_scores",
    "extract",
    "frechet_distance",
    "inception_score",
    "inception_weights",
    "kernel_distance",
    "load_classifier",
    "load_datamodule",
    "real_features",
    "resolve_feature",
    "save_classifier",
    "with_split",
]
