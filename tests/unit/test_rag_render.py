"""The vector store's size comes from the chosen embedding model (stack/embeddings.py), never a fixed 768."""
from __future__ import annotations

import re

import pytest
import yaml

from stack.embeddings import KNOWN, MAX_INDEXED_DIMENSIONS, known_dimensions
from tests.conftest import append_env, run_start


def _render(project, models: str, dims: str = ""):
    append_env(project, {"OLLAMA_MODELS": models, "EMBEDDING_DIMENSIONS": dims})
    return run_start(project, "render")


def _rag_size(project) -> int:
    text = (project / "build" / "supabase" / "db" / "rag.sql").read_text()
    return int(re.search(r"wanted constant integer := (\d+);", text).group(1))


@pytest.mark.parametrize(("models", "size"), [
    ("llama3.2:3b,nomic-embed-text", 768),
    ("llama3.2:3b,mxbai-embed-large", 1024),
    ("llama3.2:3b,library/mxbai-embed-large:335m", 1024),
    ("llama3.2:3b,all-minilm:33m", 384),
    ("llama3.2:3b", 768),  # no embedding model listed: nomic-embed-text, as Open WebUI is told
])
def test_the_table_size_follows_the_embedding_model(project, models, size):
    result = _render(project, models)
    assert result.returncode == 0, result.stderr
    assert _rag_size(project) == size


def test_a_model_without_embed_in_its_name_is_still_the_embedding_model(project):
    assert _render(project, "bge-m3,llama3.2:3b").returncode == 0
    assert _rag_size(project) == 1024
    webui = yaml.safe_load((project / "build" / "docker-compose.yml").read_text())["services"]["open-webui"]
    assert webui["environment"]["RAG_EMBEDDING_MODEL"] == "bge-m3"


def test_an_unknown_embedding_model_needs_its_size(project):
    refused = _render(project, "llama3.2:3b,my-embed:latest")
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "EMBEDDING_DIMENSIONS" in lines[0] and "my-embed" in lines[0]
    assert "Traceback" not in refused.stderr
    assert _render(project, "llama3.2:3b,my-embed:latest", "512").returncode == 0
    assert _rag_size(project) == 512


def test_a_size_that_contradicts_a_known_model_is_refused(project):
    refused = _render(project, "llama3.2:3b,mxbai-embed-large", "768")
    assert refused.returncode != 0 and "1024" in refused.stderr and "Traceback" not in refused.stderr


def test_a_size_beyond_the_index_limit_is_refused(project):
    refused = _render(project, "llama3.2:3b,my-embed", str(MAX_INDEXED_DIMENSIONS + 1))
    assert refused.returncode != 0 and "EMBEDDING_DIMENSIONS" in refused.stderr


def test_every_known_size_can_be_indexed():
    for name, sizes in KNOWN.items():
        for tag, size in sizes.items():
            assert 0 < size <= MAX_INDEXED_DIMENSIONS, (name, tag)
    assert known_dimensions("snowflake-arctic-embed") == 1024
    assert known_dimensions("granite-embedding") is None  # no latest size we could confirm
