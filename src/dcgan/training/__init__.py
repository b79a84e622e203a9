"""Training: the LightningModule (the step), losses, DiffAugment, the EMA of G, DDP, RNG states."""
