"""The image bundle file: one uncompressed tar with three members, in this order.

    manifest.json  what it holds: profile, Supabase set, pins, and per image its name, id, size, digests
    SHA256SUMS     sha256 of the two other members, in `sha256sum` format
    images.tar     `docker save` of every image, layers shared between images stored once

Nothing here runs docker. `verify` reads and checks everything before a caller loads anything, so
a refusal (BundleRefused: one line) always means nothing was loaded. images.tar is last, so a
caller streams exactly its bytes (offset, size) to `docker load` without copying it out, and
`write` streams `docker save` into it without a copy either.
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.errors import StackError

MANIFEST, SUMS, IMAGES = "manifest.json", "SHA256SUMS", "images.tar"
MEMBERS = (MANIFEST, SUMS, IMAGES)
FORMAT, VERSION = "localai-image-bundle", 1
SMALL_LIMIT = 1 << 20  # manifest and sums are a few KiB; a bigger one is not ours
CHUNK = 1 << 20


class BundleRefused(StackError):
    """A bundle that must not be loaded (damaged, incomplete, or for another configuration)."""


@dataclass(frozen=True)
class Verified:
    manifest: dict[str, Any]
    offset: int  # where images.tar's bytes start in the bundle file
    size: int


def sha256_file(path: Path, offset: int = 0, size: int | None = None) -> tuple[str, int]:
    """(hex digest, bytes read) of `size` bytes of `path` from `offset` (to the end when None)."""
    digest, done = hashlib.sha256(), 0
    with path.open("rb") as handle:
        handle.seek(offset)
        while size is None or done < size:
            data = handle.read(CHUNK if size is None else min(CHUNK, size - done))
            if not data:
                break
            digest.update(data)
            done += len(data)
    return digest.hexdigest(), done


def sums_text(sums: dict[str, str]) -> str:
    return "".join(f"{sums[name]}  {name}\n" for name in MEMBERS if name in sums)


def header(name: str, size: int) -> bytes:
    """One 512-byte tar header. GNU format: a size past ustar's 8 GiB goes in base-256 in the same
    field, so the header keeps its length and can be rewritten in place once the size is known."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    block = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
    if len(block) != tarfile.BLOCKSIZE:
        raise ValueError(f"a tar header for {name} is not one block")
    return block


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


Sink = Callable[[bytes], None]


def write(target: Path, manifest: dict[str, Any], fill: Callable[[Sink], None]) -> None:
    """Write the bundle; `fill(sink)` hands images.tar's bytes to `sink` as they come (`docker save`
    streams straight in, hashed on the way: the images are written once, never copied). The sums
    and images.tar's header are written last, in place. All goes to a temporary file beside
    `target`, then renamed: an error or Ctrl-C leaves no half-written bundle under the name."""
    body = (json.dumps({"format": FORMAT, "version": VERSION, **manifest}, indent=2, sort_keys=True)
            + "\n").encode()
    manifest_sha = hashlib.sha256(body).hexdigest()
    placeholder = sums_text({MANIFEST: manifest_sha, IMAGES: "0" * 64}).encode()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        with partial.open("w+b") as handle:
            handle.write(header(MANIFEST, len(body)) + body + _padding(len(body)))
            sums_at = handle.tell()
            handle.write(header(SUMS, len(placeholder)) + placeholder + _padding(len(placeholder)))
            images_at = handle.tell()
            handle.write(header(IMAGES, 0))
            digest, size = hashlib.sha256(), 0

            def sink(data: bytes) -> None:
                nonlocal size
                digest.update(data)
                handle.write(data)
                size += len(data)

            fill(sink)
            handle.write(_padding(size) + b"\0" * (2 * tarfile.BLOCKSIZE))  # the end-of-archive blocks
            sums = sums_text({MANIFEST: manifest_sha, IMAGES: digest.hexdigest()}).encode()
            handle.seek(sums_at)
            handle.write(header(SUMS, len(sums)) + sums)
            handle.seek(images_at)
            handle.write(header(IMAGES, size))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _refuse(path: Path, why: str) -> BundleRefused:
    return BundleRefused(f"{path}: {why}; nothing was loaded")


def _members(path: Path) -> list[tarfile.TarInfo]:
    """The three members' headers, checked for name and order; reads no member data."""
    found: list[tarfile.TarInfo] = []
    try:
        with tarfile.open(path, mode="r:") as tar:
            while len(found) < len(MEMBERS):
                info = tar.next()
                if info is None:
                    break
                found.append(info)
    except FileNotFoundError as exc:
        raise BundleRefused(f"{path}: no such file") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        if found:  # its first header was read: the file ends too early
            raise _refuse(path, "the bundle is truncated (copy it again)") from exc
        raise _refuse(path, "not an image bundle (not a tar file)") from exc
    names = [info.name for info in found]
    if names != list(MEMBERS[:len(names)]) or any(not info.isfile() for info in found):
        raise _refuse(path, f"not an image bundle (members {', '.join(names) or 'none'})")
    if len(found) < len(MEMBERS):
        raise _refuse(path, f"the bundle is truncated (no {MEMBERS[len(found)]}; copy it again)")
    return found


def _small(path: Path, info: tarfile.TarInfo) -> bytes:
    if info.size > SMALL_LIMIT:
        raise _refuse(path, f"not an image bundle ({info.name} is {info.size} bytes)")
    with path.open("rb") as handle:
        handle.seek(info.offset_data)
        data = handle.read(info.size)
    if len(data) != info.size:
        raise _refuse(path, f"the bundle is truncated (it ends inside {info.name}; copy it again)")
    return data


def _parse_sums(path: Path, data: bytes) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in data.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name in MEMBERS:
            sums[name] = digest
    if set(sums) != {MANIFEST, IMAGES}:
        raise _refuse(path, f"{SUMS} does not list {MANIFEST} and {IMAGES}: the bundle was changed or damaged")
    return sums


def verify(path: Path, expected: dict[str, Any]) -> Verified:
    """Check member names, both checksums and the manifest against `expected` (profile,
    supabase_services, pins) before anything is loaded. The small members are checked first, so a
    bundle for another configuration is refused without reading gigabytes."""
    manifest_info, sums_info, images_info = _members(path)
    body = _small(path, manifest_info)
    sums = _parse_sums(path, _small(path, sums_info))
    if hashlib.sha256(body).hexdigest() != sums[MANIFEST]:
        raise _refuse(path, f"{MANIFEST} does not match its checksum: the bundle was changed or damaged")
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise _refuse(path, f"{MANIFEST} is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise _refuse(path, f"not a version {VERSION} image bundle of this stack")
    problem = mismatch(manifest, expected)
    if problem:
        raise _refuse(path, problem)
    digest, read = sha256_file(path, images_info.offset_data, images_info.size)
    if read != images_info.size:
        raise _refuse(path, f"the bundle is truncated (it ends inside {IMAGES}; copy it again)")
    if digest != sums[IMAGES]:
        raise _refuse(path, f"{IMAGES} does not match its checksum: the bundle was changed or damaged")
    return Verified(manifest, images_info.offset_data, images_info.size)


def mismatch(manifest: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Why a bundle's manifest is not for this configuration, or None when it is."""
    for key, label in (("profile", "PROFILE"), ("supabase_services", "SUPABASE_SERVICES")):
        if manifest.get(key) != expected[key]:
            return (f"the bundle is for {label}={manifest.get(key)}, not {label}={expected[key]} "
                    f"(save a bundle with {label}={expected[key]})")
    pins, want = manifest.get("pins"), expected["pins"]
    if not isinstance(pins, dict):
        return "the manifest lists no pins: not an image bundle of this stack"
    for key, ref in want.items():
        if pins.get(key) != ref:
            return (f"the bundle pins {key}={pins.get(key) or '(none)'}, not {ref} "
                    "(save a bundle with the pins of this .env)")
    extra = sorted(set(pins) - set(want))
    if extra:
        return f"the bundle pins {extra[0]}, which this configuration does not run"
    images = manifest.get("images")
    if not isinstance(images, list) or {i.get("key") for i in images if isinstance(i, dict)} != set(want):
        return "the manifest's image list does not match its pins: the bundle was changed or damaged"
    return None
