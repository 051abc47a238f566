"""Noise Hypernetworks (HyperNoise): a LoRA noise modulator, its trainer, and the inference method."""
