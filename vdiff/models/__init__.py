"""vdiff's networks: the 3D UNet and its layers, the frozen text encoders and the VGG16-BN perceptual network.
Imports only ``vdiff.core``."""
