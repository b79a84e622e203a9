"""Sample-quality scores: FID / KID / IS (torchmetrics) on Inception or domain-classifier features."""
