"""GenEval's colour classification run by the packages GenEval pins, in a process of its own.

GenEval's ``evaluation/evaluate_images.py`` (djghosh13/geneval @ 16f1681, environment.yml:
open-clip-torch 2.20.0, clip-benchmark 1.4.0) classifies an object's colour as follows: OpenCLIP
``ViT-L-14`` with ``pretrained="openai"`` (open_clip 2.x builds it from OpenAI's checkpoint with
QuickGELU) and that call's validation transform; for each object, the whole image composited over a
#999 grey image through the object's mask, then cropped to its box, then transformed; a
zero-shot classifier from ``clip_benchmark.metrics.zeroshot_classification.zero_shot_classifier``
over the ten colours with three templates, and ``run_classification``'s logits (100 × cosine), argmax.

Those packages cannot share a process with the open_clip 3.3 the other conformance tests use, so
test_geneval.py runs this file with ``PYTHONPATH`` set to a folder that holds them (built by
benchmarks/conformance.sh): ``python geneval_original.py SPEC OUT``. SPEC (torch.save) holds
``checkpoint`` (a state dict in OpenAI's layout, standing in for ViT-L-14.pt) and ``items``
(``image``: uint8 H×W×3, ``classname``, ``objects``: [(box x0, y0, x1, y1, score; mask: bool H×W)]).
OUT gets the versions, per item the logits (objects × 10) and the transformed crops, the classifier
per class name, and the template token ids.
"""

from __future__ import annotations

import sys

import torch

COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"]


def main(spec_path: str, out_path: str) -> None:
    from importlib.metadata import version

    import open_clip
    import open_clip.openai
    from clip_benchmark.metrics import zeroshot_classification as zsc
    from PIL import Image

    spec = torch.load(spec_path, weights_only=False)
    # the "openai" tag downloads ViT-L-14.pt; here it is the local file with the same layout
    open_clip.openai.download_pretrained_from_url = lambda url, cache_dir=None: spec["checkpoint"]
    model, _, transform = open_clip.create_model_and_transforms("ViT-L-14", pretrained="openai", device="cpu")
    tokenizer = open_clip.get_tokenizer("ViT-L-14")
    zsc.tqdm = lambda it, *args, **kwargs: it

    classifiers, logits, crops, tokens = {}, [], [], {}
    for item in spec["items"]:
        name = item["classname"]
        templates = [f"a photo of a {{c}} {name}", f"a photo of a {{c}}-colored {name}", "a photo of a {c} object"]
        if name not in classifiers:
            classifiers[name] = zsc.zero_shot_classifier(model, tokenizer, COLORS, templates, "cpu")
            for color in COLORS:
                for t in templates:
                    text = t.format(c=color)
                    tokens[text] = tokenizer([text])[0]
        image = Image.fromarray(item["image"]).convert("RGB")
        blank = Image.new("RGB", image.size, color="#999")
        batch = []
        for box, mask in item["objects"]:
            assert tuple(image.size[::-1]) == tuple(mask.shape)
            batch.append((transform(Image.composite(image, blank, Image.fromarray(mask)).crop(tuple(box[:4]))), 0))
        loader = torch.utils.data.DataLoader(batch, batch_size=16)
        with torch.no_grad():
            pred, _ = zsc.run_classification(model, classifiers[name], loader, "cpu")
        logits.append(pred)
        crops.append(torch.stack([x for x, _ in batch]))
    torch.save({"open_clip": version("open_clip_torch"), "clip_benchmark": version("clip_benchmark"),
                "logits": logits, "crops": crops, "classifiers": classifiers, "tokens": tokens}, out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
