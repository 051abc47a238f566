"""Download, cache and checksum, with the network replaced by the reference copies."""

from __future__ import annotations

import urllib.error

import pytest

from bench.errors import SuiteError
from bench.suites import download, load_suite
from bench.suites.geneval import METADATA

from tests.suites.suite_helpers import one_line_error

GENEVAL_URL = ("https://raw.githubusercontent.com/djghosh13/geneval/"
               "af4902f24d3ca90ebbb446dd9891a59e0f82725f/prompts/evaluation_metadata.jsonl")


@pytest.fixture
def network(monkeypatch, shared):
    """A fake network serving the reference copies by file name; records every URL asked."""
    calls: list[str] = []
    files = {p.name: p for p in shared.rglob("*") if p.is_file()}

    def http_get(url, timeout=None):
        calls.append(url)
        return files[url.rsplit("/", 1)[1]].read_bytes()

    monkeypatch.setattr(download, "http_get", http_get)
    return calls


def cached_files(cache):
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_download_caches_and_second_load_uses_the_cache(network, isolated):
    first = load_suite("geneval")
    assert network == [GENEVAL_URL]
    target = isolated / "suites" / "geneval" / METADATA.commit / "evaluation_metadata.jsonl"
    assert cached_files(isolated) == [target]  # no temporary file left behind
    assert first.source == GENEVAL_URL and first.sha256 == METADATA.sha256
    second = load_suite("geneval")
    assert network == [GENEVAL_URL]  # no second download
    assert second.prompts == first.prompts and len(second.prompts) == 553


def test_corrupted_cache_file_fails_the_checksum(network, isolated):
    load_suite("geneval")
    target = download.cache_path(METADATA)
    target.write_bytes(target.read_bytes()[:-40])
    with pytest.raises(SuiteError) as e:
        load_suite("geneval")
    one_line_error(e, str(target), METADATA.sha256[:12], "expected", "delete")
    assert len(network) == 1


def test_wrong_download_fails_and_caches_nothing(monkeypatch, isolated):
    monkeypatch.setattr(download, "http_get", lambda url, timeout=None: b'{"prompt": "evil"}\n')
    with pytest.raises(SuiteError) as e:
        load_suite("geneval")
    one_line_error(e, GENEVAL_URL, METADATA.sha256[:12], "expected", "--suite geneval:PATH")
    assert cached_files(isolated) == []


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "BENCH_OFFLINE"])
def test_offline_with_empty_cache(monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(SuiteError) as e:  # the autouse fixture fails any network call
        load_suite("t2i-compbench-spatial")
    one_line_error(e, "spatial_val.txt", "downloads are off", "--suite t2i-compbench-spatial:PATH")


def test_offline_uses_the_cache(network, monkeypatch):
    load_suite("geneval")
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    assert len(load_suite("geneval").prompts) == 553
    assert len(network) == 1


@pytest.mark.parametrize("error", [urllib.error.URLError("[Errno -2] Name or service not known"),
                                   TimeoutError("timed out"),
                                   urllib.error.HTTPError(GENEVAL_URL, 404, "Not Found", {}, None)])
def test_network_failure(monkeypatch, isolated, error):
    def fail(url, timeout=None):
        raise error

    monkeypatch.setattr(download, "http_get", fail)
    with pytest.raises(SuiteError) as e:
        load_suite("geneval")
    one_line_error(e, GENEVAL_URL, "--suite geneval:PATH")
    assert cached_files(isolated) == []


def test_t2i_compbench_downloads_each_file_once(network, isolated):
    s = load_suite("t2i-compbench")
    assert len(network) == 6 and all(u.endswith("_val.txt") for u in network)
    assert s.source.endswith("/examples/dataset/{color,shape,texture,spatial,non_spatial,complex}_val.txt")
    color = load_suite("t2i-compbench-color")  # shares the cache with the combined suite
    assert len(network) == 6
    assert color.prompts == tuple(p for p in s.prompts if p.task == "color")
    assert len(cached_files(isolated)) == 6


def test_unwritable_cache_still_returns_the_verified_file(network, monkeypatch, isolated):
    isolated.parent.joinpath("blocker").write_text("")
    monkeypatch.setenv("BENCH_CACHE", str(isolated.parent / "blocker"))  # a file, not a folder
    assert len(load_suite("geneval").prompts) == 553
