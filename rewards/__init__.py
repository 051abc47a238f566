"""Differentiable rewards: higher is better, preprocessing inside, versioned names."""

from rewards.base import Reward, WeightedSum, load_reward, reward, rewards

__all__ = ["Reward", "WeightedSum", "load_reward", "reward", "rewards"]
