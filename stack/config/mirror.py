"""IMAGE_REGISTRY: where every image comes from when one mirror serves them all.

The mapping is one pure function. A reference is first made canonical the way Docker does
(distribution/reference normalize.go, splitDockerDomain @ 4ca14034: a first path component is a
registry host when it contains "." or ":", is "localhost" or has an uppercase letter; otherwise the
image is on Docker Hub, "docker.io", and a single-component name gets the official "library/"
namespace; "index.docker.io" is the same registry), then put under the mirror:

    <IMAGE_REGISTRY>/<source registry host>/<repository>[:tag][@digest]
    caddy:2.11.9-alpine                   -> reg:5000/mirror/docker.io/library/caddy:2.11.9-alpine
    ghcr.io/open-webui/open-webui:v0.12.4 -> reg:5000/mirror/ghcr.io/open-webui/open-webui:v0.12.4

Every image the stack runs is mapped, pinned or overridden with a *_IMAGE setting: on an
air-gapped site nothing else can be reached. A reference already under IMAGE_REGISTRY is used as
it is (mapping twice changes nothing).
"""
from __future__ import annotations

import re

DOCKER_HUB = "docker.io"
LEGACY_HUB = "index.docker.io"
OFFICIAL = "library/"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])"
REGISTRY_RE = re.compile(rf"{_HOST}(?::[0-9]{{1,5}})?(?:/{_COMPONENT})*")


def registry_problem(value: str) -> str | None:
    """Why `value` is not a usable IMAGE_REGISTRY (host[:port][/prefix]), or None."""
    if "://" in value:
        return "must be host[:port][/prefix] without a scheme, e.g. registry.example.com:5000/mirror"
    if not REGISTRY_RE.fullmatch(value):
        return "must be host[:port][/prefix] (lowercase path), e.g. registry.example.com:5000/mirror"
    return None


def split_reference(ref: str) -> tuple[str, str, str]:
    """(registry host, repository path, suffix) of an image reference, canonical as Docker makes
    it; suffix is ":tag", "@digest" or both, as written."""
    name, at, digest = ref.partition("@")
    suffix = at + digest
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        suffix = f":{tag}{suffix}"
    first, slash, rest = name.partition("/")
    if slash and (first == "localhost" or any(c in first for c in ".:") or first.lower() != first):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if host == LEGACY_HUB:
        host = DOCKER_HUB
    if host == DOCKER_HUB and "/" not in path:
        path = OFFICIAL + path
    return host, path, suffix


def mirror_ref(registry: str, ref: str) -> str:
    """Where `ref` is pulled from through the mirror `registry` ("" = no mirror: `ref` itself)."""
    registry = registry.rstrip("/")
    if not registry or ref.startswith(registry + "/"):
        return ref
    host, path, suffix = split_reference(ref)
    return f"{registry}/{host}/{path}{suffix}"
