"""VQAScore: the probability that a vision-language model answers "Yes" to a question asking
whether the image shows the prompt (Lin et al. 2024), as a quality metric.

The model is any image-text-to-text model in transformers; the default is
``llava-hf/llava-onevision-qwen2-7b-ov-hf`` (LLaVA-OneVision 7B, one of t2v-metrics' VQAScore
models; the paper's best, CLIP-FlanT5, is not in transformers), at a pinned revision.
``--evaluator vqascore:HUB_ID`` picks another (its main branch), ``vqascore:HUB_ID@REVISION`` one
at a revision. The score is softmax(next-token logits)[first token of "Yes"] after the question:
one forward pass per image, no sampling, as t2v-metrics scores LLaVA-OneVision.

The question and the conversation are t2v-metrics' (3.0) for the model's family (``FORMATS``): for
LLaVA-OneVision, 'Does this image show "{prompt}"? Answer the question with Yes or No' in
LLaVA-NeXT's ``qwen_1_5`` conversation (its system line included), written out as text rather than
through the hub's chat template (which has no system line); for any other family, the paper's
'Does this figure show "{prompt}"? Please answer yes or no.' through the model's chat template.
What still differs from t2v-metrics on LLaVA-OneVision: it runs LLaVA-NeXT's own code on the
lmms-lab weights (fp16), and its image (the anyres tiles, a 4-D tensor) takes that code's video
branch (each tile pooled 2 × 2, one newline token); transformers' model here sees the image as an
image (README, conformance).

``vqascore-tiny`` runs the same code on a tiny random LLaVA with a tokenizer made in code.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import torch

from bench.suites.base import Prompt
from bench.evaluators.base import Evaluator, Quality, check_batch, evaluator, mean_per_task

log = logging.getLogger(__name__)

class Format(NamedTuple):
    """How one model family is asked: ``question`` (with ``{prompt}``), the ``answer`` whose first
    token is scored, and ``conversation`` (with ``{question}``; None: the processor's chat template)."""
    question: str
    answer: str
    conversation: str | None
    source: str


PAPER = Format('Does this figure show "{prompt}"? Please answer yes or no.', "Yes", None,
               "t2v-metrics 3.0 clip_t5_model.py / llava_model.py default_question_template")
FORMATS = {  # by the model config's model_type
    "llava_onevision": Format(
        'Does this image show "{prompt}"? Answer the question with Yes or No', "Yes",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n{question}<|im_end|>\n"
        "<|im_start|>assistant\n",
        "t2v-metrics 3.0 llavaov_model.py forward() defaults; LLaVA-NeXT conv_templates['qwen_1_5']"),
}
DEFAULT_MODEL = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
# pinned as public code pins it (several independent pins and hub-cache snapshot folders), not
# checked against the hub here; the commit actually loaded goes to the manifest
DEFAULT_REVISION = "0d50680527681998e456c7b78950205bedd8a068"


class VQAScore(Evaluator):
    name = "vqascore"

    def __init__(self, model: Any, processor: Any, provenance: dict | None = None):
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.format = FORMATS.get(getattr(model.config, "model_type", None), PAPER)
        ids = processor.tokenizer.encode(self.format.answer, add_special_tokens=False)
        if not ids:
            raise ValueError(f"the tokenizer cannot encode '{self.format.answer}'")
        self.answer_id = ids[0]
        self.provenance = {"name": self.name, "question": self.format.question, "answer": self.format.answer,
                           "format": self.format.source, **(provenance or {})}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def question(self, prompt: str) -> str:
        """The model's whole input text for ``prompt``, the image token included."""
        question = self.format.question.format(prompt=prompt)
        if self.format.conversation is not None:
            return self.format.conversation.format(question=question)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, prompts: list[Prompt]) -> list[dict[str, Any]]:
        from PIL import Image

        check_batch(images, prompts)
        pixels = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        rows = []
        dtype = next(self.model.parameters()).dtype
        for array, prompt in zip(pixels, prompts):
            text = prompt.text
            inputs = self.processor(text=[self.question(text)], images=[Image.fromarray(array)], return_tensors="pt")
            inputs = {k: v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device) for k, v in inputs.items()}
            logits = self.model(**inputs).logits[0, -1].float()
            rows.append({"vqascore": float(logits.softmax(-1)[self.answer_id])})
        return rows

    def summarize(self, records: Any) -> Any:
        return mean_per_task(records, "vqascore")


VQASCORE = Quality("vqascore", "vqascore", per_task=False, header="VQAScore", label="VQAScore",
                   description="VQAScore (the mean over images)", preference=20, short="VQA")


@evaluator("vqascore", quality=VQASCORE)
def vqascore(device: str | torch.device = "cpu", model: str | None = None) -> Evaluator:
    """VQAScore: P("Yes") from a VLM (default LLaVA-OneVision 7B; vqascore:HUB_ID[@REV] for another)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from bench.loading import hub

    hub_id, revision, pinned = resolve(model)
    if not pinned:
        log.warning("vqascore: %s is used at its main branch, which can change under the same name; pin it with "
                    "--evaluator vqascore:%s@COMMIT (the commit loaded is in the manifest)", hub_id, hub_id)
    vlm = hub.load(AutoModelForImageTextToText, hub_id, revision).to(device)
    processor = hub.load(AutoProcessor, hub_id, revision)
    return VQAScore(vlm, processor, {"model": hub_id, "revision": revision, "pinned": pinned,
                                     "commit": getattr(vlm.config, "_commit_hash", None)})


def resolve(model: str | None) -> tuple[str, str, bool]:
    """(hub id, revision, pinned) of ``--evaluator vqascore[:HUB_ID[@REVISION]]``: the default model
    at its pinned revision; another at the revision given, else its main branch (not pinned)."""
    hub_id, _, revision = (model or DEFAULT_MODEL).partition("@")
    if revision:
        return hub_id, revision, True
    if hub_id == DEFAULT_MODEL:
        return hub_id, DEFAULT_REVISION, True
    return hub_id, "main", False


CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                 "<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")


@evaluator("vqascore-tiny", quality=VQASCORE)
def vqascore_tiny(device: str | torch.device = "cpu", model: str | None = None) -> Evaluator:
    """vqascore's code on a tiny random LLaVA (no download), for tests."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    try:  # transformers 5 names the torchvision-free image processors *Pil
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor

    from bench.loading import tiny

    tokenizer = tiny.char_tokenizer(512)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=images, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE, patch_size=8,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1, image_token="<image>")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=32, patch_size=8)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-2)
    with tiny.seeded(31):
        vlm = LlavaForConditionalGeneration(config)
    return VQAScore(vlm.to(device), processor)
