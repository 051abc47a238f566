"""The noise modulator f_φ of Noise Hypernetworks: the generator's own network with LoRA.

HyperNoise (Eyring et al., 2025) learns f_φ so that ẑ = z + f_φ(z, c) follows the
reward-tilted noise distribution. f_φ is the generator's denoising network with a LoRA
adapter on its Linear and Conv layers:

    f_φ(z, c) = network_output(z, c) with the adapter ON, where the final output layer
                returns only its LoRA branch (B·A·x·scale), so f_φ ≡ 0 at the start (B = 0);
    g(ẑ, c)   = the generator with the adapter OFF.

One copy of the network is in memory; ``modulating()`` switches between the two roles. For
inference, ``fuse()`` folds the adapter into a second set of the adapted layers' weights that
is swapped in for the f_φ pass, so f_φ costs one plain network pass instead of one pass plus
a LoRA branch per layer (memory: one more copy of those weights; g is untouched).

``SmallModulator`` is the standalone option, for generators whose network takes no adapter or
where one more pass of the whole network costs too much: a small residual conv net on the
noise, conditioned on the prompt's mean text embedding (FiLM), its output layer at zero. On
the shapes world it fits fixed (prompt, noise) pairs but does not learn across noises, which
the adapted generator network does: it cannot see what image a noise will become.
``build`` makes either from the ``layout`` a checkpoint records.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from peft import LoraConfig

from bench.errors import BenchError

ADAPTER = "hypernoise"
LAYER_TYPES = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)


def lora_targets(network: torch.nn.Module, output_layer: str) -> list[str]:
    """Every Linear/Conv layer of the network, the output layer last (it must be adapted).
    Grouped (depthwise) convolutions are left out: peft's LoRA adapts them only when the rank
    is a multiple of the groups (SANA's feed-forward has one with 80 groups)."""
    names = [n for n, m in network.named_modules()
             if isinstance(m, LAYER_TYPES) and n != output_layer and getattr(m, "groups", 1) == 1]
    return names + [output_layer]


class Modulator:
    """f_φ on top of a generator: attach LoRA to its network, toggle it, compute ẑ.

    The adapter lives in the generator's network; calls take the generator (possibly a metered
    wrapper of it, which counts the modulator pass as one network evaluation per image).
    """

    def __init__(self, generator, rank: int = 16, alpha: float | None = None,
                 targets: list[str] | None = None):
        if rank < 1:
            raise BenchError(f"hypernoise needs rank >= 1; got rank={rank}")
        self.network = generator.network()
        self.output_layer = generator.output_layer()
        self.rank, self.alpha = rank, float(alpha if alpha is not None else 2 * rank)
        self.targets = list(targets) if targets else lora_targets(self.network, self.output_layer)
        if self.output_layer not in self.targets:
            self.targets.append(self.output_layer)
        config = LoraConfig(r=rank, lora_alpha=self.alpha, target_modules=self.targets,
                            init_lora_weights="gaussian")
        self.network.add_adapter(config, adapter_name=ADAPTER)
        self._head = self.network.get_submodule(self.output_layer)
        self._head_only = False
        self._head.register_forward_hook(self._lora_branch_only)
        self._named = [(n, p) for n, p in self.network.named_parameters() if ADAPTER in n and "lora_" in n]
        self._params = [p for _, p in self._named]
        self.trainable = True
        self._fused: list[tuple[torch.nn.Module, torch.nn.Parameter, torch.nn.Parameter | None]] | None = None
        self._adapter_off()

    def _adapter_off(self) -> None:
        # peft's disable_adapters() also turns requires_grad off; f_φ's weights keep theirs
        self.network.disable_adapters()
        for p in self._params:
            p.requires_grad_(self.trainable)

    def requires_grad_(self, flag: bool) -> "Modulator":
        self.trainable = flag
        for p in self._params:
            p.requires_grad_(flag)
        if flag:
            self._fused = None
        return self

    # -- inference: the adapter folded into its own copy of the weights -----------------------
    @torch.no_grad()
    def fuse(self) -> "Modulator":
        """Precompute f_φ's weights: W + ΔW for every adapted layer, ΔW alone (no bias) for the
        output layer, ΔW = scale·B·A. Later f_φ passes swap them in; the network's own tensors
        are never written, so g stays bit-exact. Training (requires_grad_(True)) drops them."""
        fused = []
        for name in self.targets:
            layer = self.network.get_submodule(name)
            base = layer.get_base_layer()
            delta = layer.get_delta_weight(ADAPTER).to(base.weight.dtype)
            if name == self.output_layer:
                bias = None if base.bias is None else torch.nn.Parameter(torch.zeros_like(base.bias), False)
                fused.append((base, torch.nn.Parameter(delta, False), bias))
            else:
                fused.append((base, torch.nn.Parameter(base.weight + delta, False), base.bias))
        self._fused = fused
        return self

    @contextlib.contextmanager
    def _fused_weights(self) -> Iterator[None]:
        assert self._fused is not None
        saved = [(base, base.weight, base.bias) for base, _, _ in self._fused]
        try:
            for base, weight, bias in self._fused:
                base.weight, base.bias = weight, bias
            yield
        finally:
            for base, weight, bias in saved:
                base.weight, base.bias = weight, bias

    # -- f_φ: the output layer's LoRA branch alone -------------------------------------------
    def _lora_branch_only(self, module: torch.nn.Module, args: tuple, output: torch.Tensor):
        if not self._head_only:
            return None
        x = args[0].to(module.lora_A[ADAPTER].weight.dtype)
        return (module.lora_B[ADAPTER](module.lora_A[ADAPTER](x)) * module.scaling[ADAPTER]).to(output.dtype)

    @contextlib.contextmanager
    def modulating(self) -> Iterator[None]:
        """Inside: the network is f_φ (adapter on, LoRA-only head). Outside: the plain g."""
        self.network.enable_adapters()
        for p in self._params:
            p.requires_grad_(self.trainable)
        self._head_only = True
        try:
            yield
        finally:
            self._head_only = False
            self._adapter_off()

    def delta(self, generator, z: torch.Tensor, cond: dict) -> torch.Tensor:
        """f_φ(z, c), the same shape as z, in float32."""
        with self._fused_weights() if self._fused is not None else self.modulating():
            return generator.network_output(z, cond).float()

    def __call__(self, generator, z: torch.Tensor, cond: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(ẑ, f) with ẑ = z + f_φ(z, c)."""
        f = self.delta(generator, z, cond)
        return z.float() + f, f

    # -- parameters and state -----------------------------------------------------------------
    def layout(self) -> dict:
        return {"kind": "lora", "rank": self.rank, "alpha": self.alpha, "targets": self.targets}

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self._params)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self._named}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        own = dict(self._named)
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise BenchError(f"hypernoise checkpoint does not fit this model: "
                             f"{len(missing)} adapter weights missing, {len(unexpected)} unexpected "
                             f"(first: {(missing or unexpected)[0]}); was it trained for another model?")
        with torch.no_grad():
            for name, value in state.items():
                own[name].copy_(value.to(own[name].dtype))
        self._fused = None


class _FiLMBlock(torch.nn.Module):
    def __init__(self, width: int, text_dim: int):
        super().__init__()
        self.norm = torch.nn.GroupNorm(8, width)
        self.conv1 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.film = torch.nn.Linear(text_dim, 2 * width)

    def forward(self, h: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(text)[:, :, None, None].chunk(2, dim=1)
        x = torch.nn.functional.silu(self.norm(h) * (1 + scale) + shift)
        return h + self.conv2(torch.nn.functional.silu(self.conv1(x)))


class SmallNet(torch.nn.Module):
    """f_φ(z, c) for image-shaped noise: one stride-2 stage of FiLM residual blocks between a
    full-resolution stem and head.

    The stem sees the noise and two coordinate channels (x, y in [-1, 1]): a text-conditioned
    shift of the noise that depends on where it is (an object's place, "left of", "above") is
    not translation-equivariant, which a plain conv net on z alone would be. The half-resolution
    stage doubles the receptive field for the cost of the full-resolution width. The head is
    zero-initialised, so f ≡ 0 at the start.
    """

    def __init__(self, channels: int, text_dim: int, width: int, blocks: int):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(channels + 2, width, 3, padding=1)
        self.down = torch.nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.blocks = torch.nn.ModuleList(_FiLMBlock(2 * width, text_dim) for _ in range(blocks))
        self.up = torch.nn.Conv2d(2 * width, 4 * width, 1)  # then pixel-shuffle back to (width, H, W)
        self.norm_out = torch.nn.GroupNorm(8, width)
        self.conv_out = torch.nn.Conv2d(width, channels, 3, padding=1)
        torch.nn.init.zeros_(self.conv_out.weight)  # f ≡ 0 at the start
        torch.nn.init.zeros_(self.conv_out.bias)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        b, _, h, w = z.shape
        ys = torch.linspace(-1, 1, h, device=z.device, dtype=z.dtype)
        xs = torch.linspace(-1, 1, w, device=z.device, dtype=z.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy")).expand(b, 2, h, w)
        skip = self.conv_in(torch.cat([z, grid], dim=1))
        x = self.down(torch.nn.functional.silu(skip))
        for block in self.blocks:
            x = block(x, text)
        x = torch.nn.functional.pixel_shuffle(self.up(x), 2)[..., :h, :w] + skip
        return self.conv_out(torch.nn.functional.silu(self.norm_out(x)))


class SmallModulator:
    """The standalone f_φ: a small conv net on image-shaped noise (C, H, W), FiLM on the text."""

    def __init__(self, generator, width: int = 32, blocks: int = 2):
        shape = tuple(generator.noise_shape)
        if len(shape) != 3 or width < 8 or width % 8:
            raise BenchError(f"the standalone modulator needs image-shaped noise (C, H, W) and a width that is "
                             f"a multiple of 8; model '{generator.name}' has noise {shape}, width {width}: "
                             "use --set modulator=lora")
        text_dim = generator.text_vector(generator.encode([""])).shape[-1]
        self.width, self.blocks = width, blocks
        self.net = SmallNet(shape[0], text_dim, width, blocks).to(generator.device)
        self.trainable = True
        self._flops: float | None = None  # per image, counted once

    def layout(self) -> dict:
        return {"kind": "standalone", "width": self.width, "blocks": self.blocks}

    def __call__(self, generator, z: torch.Tensor, cond: dict) -> tuple[torch.Tensor, torch.Tensor]:
        text = generator.text_vector(cond).float()
        f = self.net(z.float(), text)
        if hasattr(generator, "add_flops"):  # the run's meter: this pass is no generator NFE
            generator.add_flops(self.flops_per_image(z, text) * z.shape[0])
        return z.float() + f, f

    def flops_per_image(self, z: torch.Tensor, text: torch.Tensor) -> float:
        """FLOPs of one image's pass (counted once, on one row: bench.running.flops)."""
        if self._flops is None:
            from bench.running.flops import flops_of

            with torch.no_grad():
                self._flops = flops_of(lambda: self.net(z[:1].detach().float(), text[:1].detach()))[0]
        return self._flops

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.net.parameters())

    def requires_grad_(self, flag: bool) -> "SmallModulator":
        self.trainable = flag
        self.net.requires_grad_(flag)
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        try:
            self.net.load_state_dict(state)
        except RuntimeError as e:
            raise BenchError(f"hypernoise checkpoint does not fit this model's standalone modulator "
                             f"({str(e).splitlines()[0]}); was it trained for another model?") from None


def build(generator, layout: dict) -> Modulator | SmallModulator:
    """The modulator a layout describes: {"kind": "lora", rank, alpha, targets?} or
    {"kind": "standalone", width, blocks}."""
    if layout.get("kind", "lora") == "standalone":
        return SmallModulator(generator, width=layout["width"], blocks=layout["blocks"])
    return Modulator(generator, rank=layout["rank"], alpha=layout.get("alpha"), targets=layout.get("targets"))
