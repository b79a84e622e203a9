from dcgan.models.discriminator import CBlockDiscriminator, DCGANDiscriminator
from dcgan.models.generator import TransposedGenerator, UpsampleGenerator

__all__ = ["CBlockDiscriminator", "DCGANDiscriminator", "TransposedGenerator", "UpsampleGenerator"]
