"""T2I-CompBench(++) val split (Karine-Huang/T2I-CompBench, MIT): ~300 prompts per category.

``t2i-compbench`` is the six original categories (color, shape, texture, spatial,
non_spatial, complex); ``t2i-compbench-<category>`` is one category, for all eight
(++ adds 3d_spatial and numeracy). Files are ``examples/dataset/<category>_val.txt``, one
prompt a line (some without a final newline). Prompt ids are ``<category>_<index:05d>``,
task = category, metadata ``{"category": category}``.

A local copy (``--suite t2i-compbench:DIR``) is a directory holding the ``<category>_val.txt``
files (or a clone of the repository); a single-category suite also takes the file itself.
Suite.sha256 is one file's sha256, or for several files the sha256 of their sorted
``<filename>:<sha256>\\n`` lines.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.errors import SuiteError
from bench.suites.base import Suite, suite
from bench.suites.download import RemoteFile, cache_path, fetch, load_file
from bench.suites.plain import decode, kept_lines, text_prompts

REPO = "Karine-Huang/T2I-CompBench"
COMMIT = "1b7094991a57f3c22abdd4f6e8ba6c1a15517073"
SHA256 = {
    "color": "1634259756dbc77d13093d907d414480080ec9790a8c97ad09efaea7b2534f2d",
    "shape": "37e1a276906c7ea9516cbd7ac8501be896006c0c17ca7344f260562834455bae",
    "texture": "fbb5363515b4a28009e360afaaaf389d2dd2289e50dbb0c6ef4ea0c7fe4f3d4f",
    "spatial": "8707a1d7e42ce3002d95363cf55f74bd043c843ae27108f5125aaaa7840ca988",
    "non_spatial": "04c56cc9ac441dc9ea6c5157652058bd1635b5308526dd31bb29a1caab9a758d",
    "complex": "1b808018b8d9916db3d47d5aa2ef18377a3549a56901a474156f799824cdf3b4",
    "3d_spatial": "c9953597315f36a5fcb41291bb19bdc6ab5f64a0fa760d691b4854a73f5d1fe9",
    "numeracy": "dad8df141604b70ba7554bec724e3db0a80023680769b5c514854ea2d2527bbe",
}
# lists the benchmark's judges read (examples/dataset/ at COMMIT): numeracy's object names
# ("singular - plural" lines) and which complex prompts hold a spatial / an action relation
JUDGE_LISTS = {
    "new_objects.txt": "f39a3d2ff6067d7738673cbf465dc659ccc750776162989a5d9916f1d5f3e231",
    "complex_val_spatial.txt": "6c7ac0ab75c7c9080cfc7b421fb059b9b0febb98471707aeedf58771088abc02",
    "complex_val_action.txt": "d49ee4c7f99e3f3379fb8704a54ff5288b83bb412971edf616a4721c2473308e",
}
ORIGINAL = ("color", "shape", "texture", "spatial", "non_spatial", "complex")
CATEGORIES = tuple(SHA256)  # the six above, then 3d_spatial and numeracy


def remote(category: str) -> RemoteFile:
    return RemoteFile("t2i-compbench", REPO, COMMIT, f"examples/dataset/{category}_val.txt",
                      SHA256[category])


def judge_list(filename: str) -> list[str]:
    """The stripped non-blank lines of one of JUDGE_LISTS (downloaded once, cached, sha256-checked)."""
    remote = RemoteFile("t2i-compbench", REPO, COMMIT, f"examples/dataset/{filename}", JUDGE_LISTS[filename])
    cached = f"put the file at {cache_path(remote)}"
    text = decode(fetch(remote, "t2i-compbench", hint=cached).data, remote.url)
    return [line for _, line in kept_lines(text)]


def combined_sha256(shas: dict[str, str]) -> str:
    """sha256 over the sorted ``<filename>:<sha256>`` lines of several files."""
    lines = "".join(sorted(f"{name}:{sha}\n" for name, sha in shas.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def load(name: str, categories: tuple[str, ...], path: Path | None) -> Suite:
    """Suite ``name`` from the val files of ``categories``, downloaded or read under ``path``."""
    path = Path(path) if path is not None else None
    if path is not None and len(categories) > 1 and not path.is_dir():
        what = "is a file" if path.exists() else "does not exist"
        raise SuiteError(f"{path} {what}; suite '{name}' reads a directory holding "
                         f"{', '.join(c + '_val.txt' for c in categories)}")
    prompts, sources = [], []
    for category in categories:
        loaded = load_file(remote(category), name, path)
        text = decode(loaded.data, loaded.source)
        prompts += text_prompts(text, f"{category}_", category, {"category": category})
        sources.append(loaded.source)
    if len(categories) == 1:
        source, sha = sources[0], SHA256[categories[0]]
    else:
        base = remote(categories[0]).url.rsplit("/", 1)[0]
        source = str(path.resolve()) if path is not None else f"{base}/{{{','.join(categories)}}}_val.txt"
        sha = combined_sha256({remote(c).filename: SHA256[c] for c in categories})
    return Suite(name, tuple(prompts), source=source, sha256=sha, evaluators=("t2i-compbench",))


@suite("t2i-compbench")
def t2i_compbench(path: Path | None = None) -> Suite:
    """T2I-CompBench val: ~1800 prompts in color/shape/texture/spatial/non_spatial/complex."""
    return load("t2i-compbench", ORIGINAL, path)


def _register_category(category: str) -> None:
    name = f"t2i-compbench-{category}"

    def factory(path: Path | None = None) -> Suite:
        return load(name, (category,), path)

    factory.__doc__ = f"T2I-CompBench val, {category} category only (~300 prompts)."
    factory.__name__ = factory.__qualname__ = f"t2i_compbench_{category}"
    globals()[factory.__name__] = suite(name)(factory)  # importable (and picklable) by name


for _category in CATEGORIES:
    _register_category(_category)
