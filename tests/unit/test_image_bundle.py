"""The image bundle (stack/ops/bundle.py, stack/ops/offline.py): small real tar bundles in tmp_path.

A refusal is one line, and nothing is loaded: `load` is run with every runner function replaced
by a recorder, and a refused bundle leaves the record empty (no docker call at all).
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from stack.config.settings import build
from stack.engines import runner
from stack.errors import StackError
from stack.ops import bundle, offline
from stack.ops.images import needed
from tests.conftest import REPO, run_start


class SilentUi:
    def note(self, text: str, *, plain: bool = False) -> None: ...
    def say(self, text: str, *, plain: bool = False) -> None: ...
    def warn(self, text: str) -> None: ...


def _settings(tmp_path: Path, **values: str):
    return build(tmp_path, {"PROFILE": "cpu", "SUPABASE_SERVICES": "core", **values}, {})


def _images_tar(tmp_path: Path) -> Path:
    """A small real tar, standing in for `docker save` output."""
    path = tmp_path / "saved.tar"
    with tarfile.open(path, "w") as tar:
        data = b"layer bytes " * 5000
        info = tarfile.TarInfo("blobs/sha256/abc")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def _fill_from(images: Path, chunk: int = 7000):
    """Hands `images` to the bundle's sink in odd-sized pieces, as a pipe from `docker save` does."""
    def fill(sink) -> None:
        with images.open("rb") as handle:
            while data := handle.read(chunk):
                sink(data)
    return fill


def _manifest(settings) -> dict:
    items = needed(settings)
    return {**offline.expected(settings, items), "created": "2026-12-02T00:00:00Z",
            "images": [{"key": i.key, "pin": i.pin, "ref": i.ref, "id": f"sha256:{n:064x}", "size": 1,
                        "repo_digests": []} for n, i in enumerate(items)]}


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path, object]:
    settings = _settings(tmp_path)
    images = _images_tar(tmp_path)
    target = tmp_path / "site.tar"
    bundle.write(target, _manifest(settings), _fill_from(images))
    return target, images, settings


def _refusal(path: Path, settings) -> str:
    with pytest.raises(bundle.BundleRefused) as caught:
        bundle.verify(path, offline.expected(settings))
    return str(caught.value)


def test_a_good_bundle_verifies_and_points_at_the_exact_bytes_of_images_tar(made):
    target, images, settings = made
    with tarfile.open(target) as tar:
        assert tar.getnames() == ["manifest.json", "SHA256SUMS", "images.tar"]
        sums = tar.extractfile("SHA256SUMS").read().decode()  # type: ignore[union-attr]
    assert f"{bundle.sha256_file(images)[0]}  images.tar\n" in sums
    verified = bundle.verify(target, offline.expected(settings))
    assert verified.manifest["profile"] == "cpu" and verified.manifest["pins"]["CADDY_IMAGE"] == "caddy:2.11.9-alpine"
    with target.open("rb") as handle:
        handle.seek(verified.offset)
        assert handle.read(verified.size) == images.read_bytes()
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(("cut", "why"), [
    (lambda size, info: info["images.tar"] + 100, "the bundle is truncated (it ends inside images.tar; copy it again)"),
    (lambda size, info: size - 20000, "the bundle is truncated (it ends inside images.tar; copy it again)"),
    (lambda size, info: info["manifest.json"] + 10, "the bundle is truncated (copy it again)"),
    (lambda size, info: info["SHA256SUMS"] + 512, "the bundle is truncated (no images.tar; copy it again)"),
    # inside images.tar's own header: the file ends before that member starts
    (lambda size, info: info["images.tar"] - 100, "the bundle is truncated (no images.tar; copy it again)"),
])
def test_a_truncated_bundle_is_refused_in_one_line(made, cut, why):
    target, _, settings = made
    with tarfile.open(target) as tar:
        info = {m.name: m.offset_data for m in tar.getmembers()}
    data = target.read_bytes()
    target.write_bytes(data[:cut(len(data), info)])
    assert _refusal(target, settings) == f"{target}: {why}; nothing was loaded"


def _flip(path: Path, offset: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_a_tampered_member_is_refused_in_one_line(made):
    target, _, settings = made
    with tarfile.open(target) as tar:
        images_at = tar.getmember("images.tar").offset_data
        manifest_at = tar.getmember("manifest.json").offset_data
    _flip(target, images_at + 700)
    assert _refusal(target, settings) == (f"{target}: images.tar does not match its checksum: the bundle was "
                                          "changed or damaged; nothing was loaded")
    _flip(target, images_at + 700)
    _flip(target, manifest_at + 5)
    assert _refusal(target, settings) == (f"{target}: manifest.json does not match its checksum: the bundle was "
                                          "changed or damaged; nothing was loaded")


@pytest.mark.parametrize(("values", "why"), [
    ({"PROFILE": "none"}, "the bundle is for PROFILE=cpu, not PROFILE=none (save a bundle with PROFILE=none)"),
    ({"SUPABASE_SERVICES": "full"}, "the bundle is for SUPABASE_SERVICES=core, not SUPABASE_SERVICES=full "
                                    "(save a bundle with SUPABASE_SERVICES=full)"),
    ({"N8N_IMAGE": "n8nio/n8n:2.42.0"}, "the bundle pins N8N_IMAGE=n8nio/n8n:2.41.3, not n8nio/n8n:2.42.0 "
                                        "(save a bundle with the pins of this .env)"),
])
def test_a_bundle_for_another_configuration_is_refused_in_one_line(made, tmp_path, values, why):
    target, _, _ = made
    assert _refusal(target, _settings(tmp_path, **values)) == f"{target}: {why}; nothing was loaded"


def test_a_mirror_elsewhere_is_not_another_configuration(made, tmp_path):
    """The pins decide, not where they are pulled from: a bundle made without a mirror loads with one."""
    target, _, _ = made
    bundle.verify(target, offline.expected(_settings(tmp_path, IMAGE_REGISTRY="reg:5000/m")))


def test_not_a_tar_file_is_refused(tmp_path):
    path = tmp_path / "x.tar"
    path.write_bytes(b"hello" * 300)
    assert _refusal(path, _settings(tmp_path)) == f"{path}: not an image bundle (not a tar file); nothing was loaded"


def test_another_tar_file_is_refused(tmp_path):
    path = _images_tar(tmp_path)
    assert _refusal(path, _settings(tmp_path)) == (f"{path}: not an image bundle (members blobs/sha256/abc); "
                                                   "nothing was loaded")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str], bytes]]:
    """Every runner function replaced by a recorder: (function, argv, bytes fed)."""
    record: list[tuple[str, list[str], bytes]] = []

    def fake(name: str):
        def call(argv: list[str], *args: object, **kwargs: object) -> runner.Result:
            fed = b""
            if name == "feed":
                source, size = args[0], args[1]
                fed = source.read(size)  # type: ignore[attr-defined]
            record.append((name, argv, fed))
            return runner.Result(argv, 0, "", "")
        return call

    for name in ("run", "pipe", "relay", "feed", "spawn"):
        monkeypatch.setattr(runner, name, fake(name))
    return record


def test_a_refused_bundle_makes_no_docker_call(made, calls, tmp_path):
    target, images, settings = made
    data = target.read_bytes()
    target.write_bytes(data[:-3000])
    with pytest.raises(bundle.BundleRefused):
        offline.load(settings, target, SilentUi())
    target.write_bytes(data)
    with pytest.raises(bundle.BundleRefused):
        offline.load(_settings(tmp_path, PROFILE="gpu-nvidia"), target, SilentUi())
    assert calls == []


def test_a_good_bundle_feeds_docker_load_exactly_images_tar(made, calls):
    target, images, settings = made
    with pytest.raises(StackError, match="is not the image the bundle holds"):  # the recorder knows no image ids
        offline.load(settings, target, SilentUi())
    assert calls[0] == ("feed", ["docker", "load"], images.read_bytes())


def test_write_leaves_nothing_behind_when_interrupted(tmp_path):
    settings = _settings(tmp_path)
    target = tmp_path / "out" / "site.tar"
    target.parent.mkdir()

    def interrupted(sink) -> None:
        sink(b"half of a layer")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bundle.write(target, _manifest(settings), interrupted)
    assert list(target.parent.iterdir()) == []


def test_a_header_past_ustars_8_gib_keeps_one_block_and_reads_back():
    """images.tar's header is rewritten in place once `docker save` has ended: its size must never
    change the header's length (a GPU profile's images are well past 8 GiB)."""
    for size in (0, 12345, 8 << 30, 40 << 30):
        block = bundle.header(bundle.IMAGES, size)
        assert len(block) == tarfile.BLOCKSIZE
        info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        assert (info.name, info.size) == (bundle.IMAGES, size)


def test_docker_save_streams_into_the_bundle_and_its_failure_keeps_nothing(tmp_path):
    """runner.drain with real programs: stdout goes to the sink as it comes; a failing program's
    exit code and stderr are kept, and no bundle is left."""
    settings = _settings(tmp_path)
    images = _images_tar(tmp_path)
    target = tmp_path / "site.tar"
    bundle.write(target, _manifest(settings), lambda sink: runner.drain(["cat", str(images)], sink, chunk=4096))
    verified = bundle.verify(target, offline.expected(settings))
    with target.open("rb") as handle:
        handle.seek(verified.offset)
        assert handle.read(verified.size) == images.read_bytes()
    failed = tmp_path / "failed.tar"
    with pytest.raises(StackError) as caught:
        bundle.write(failed, _manifest(settings), lambda sink: runner.drain(
            ["sh", "-c", "printf partial; echo 'no such image: x' >&2; exit 3"], sink))
    assert caught.value.returncode == 3 and "no such image: x" in caught.value.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["saved.tar", "site.tar"])


def test_the_cli_refuses_a_damaged_bundle_in_one_line(project, tmp_path):
    path = tmp_path / "junk.tar"
    path.write_bytes(b"\0" * 100 + b"junk")
    result = run_start(project, "images", "load", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {path}: not an image bundle (not a tar file); nothing "
                                                  "was loaded"]
    bad = run_start(project, "images", "push", "http://reg:5000")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[0] == ("error: REGISTRY: 'http://reg:5000' must be host[:port][/prefix] "
                                                  "without a scheme, e.g. registry.example.com:5000/mirror")


def test_manifest_records_the_configuration(made):
    target, _, _ = made
    with tarfile.open(target) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["format"] == "localai-image-bundle" and manifest["version"] == 1
    assert manifest["supabase_services"] == "core"
    assert {i["key"] for i in manifest["images"]} == set(manifest["pins"])
    assert REPO.exists()


def test_load_tags_each_image_as_this_configuration_runs_it(tmp_path, monkeypatch):
    """A bundle saved through a mirror loads on a machine without one: each image gets the plain pin too."""
    saver = _settings(tmp_path, IMAGE_REGISTRY="reg:5000/m")
    images = _images_tar(tmp_path)
    target = tmp_path / "site.tar"
    manifest = _manifest(saver)
    bundle.write(target, manifest, _fill_from(images))
    ids = {i["pin"]: i["id"] for i in manifest["images"]}
    calls: list[list[str]] = []

    def run(argv: list[str], *args: object, **kwargs: object) -> runner.Result:
        calls.append(argv)
        return runner.Result(argv, 0, ids.get(argv[-1], "") if "inspect" in argv else "", "")

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setattr(runner, "feed", lambda argv, source, size: runner.Result(argv, 0, "", ""))
    loaded = offline.load(_settings(tmp_path), target, SilentUi())
    assert loaded == [i["pin"] for i in manifest["images"]]
    assert ["docker", "tag", "reg:5000/m/docker.io/library/caddy:2.11.9-alpine", "caddy:2.11.9-alpine"] in calls
